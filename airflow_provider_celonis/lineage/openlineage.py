"""A :class:`~.facts.Lineage` as the OpenLineage provider's ``OperatorLineage``, never failing.

Imported only inside the operators' ``get_openlineage_facets_on_complete``, which only the
OpenLineage provider calls: without the extra ``[openlineage]`` nothing here is imported.
The provider's objects come from ``apache-airflow-providers-openlineage`` (``OperatorLineage``)
and ``apache-airflow-providers-common-compat`` (the facets), the way Airflow's own providers
(dbt Cloud, Fivetran, Databricks) build them.

:func:`facets_on_complete` and :func:`facets_on_failure` are what operators call: any error
while building the lineage is logged as a warning and an empty ``OperatorLineage`` returned
(lineage must never fail a task; the provider would catch it too, but then it also drops the
event's other facets).

A failed task reports its inputs and the Celonis run id, never an output: without an
``..._on_failure`` method the provider sends what ``..._on_complete`` says in the FAIL event, so
a push that failed would name the table it never filled (and the statistics of nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from airflow_provider_celonis.client.paths import redact_uris_in
from airflow_provider_celonis.lineage.facts import Dataset, Lineage

__all__ = ["facets_on_complete", "facets_on_failure", "to_operator_lineage"]

log = logging.getLogger(__name__)


def _input(dataset: Dataset) -> Any:
    from airflow.providers.common.compat.openlineage.facet import InputDataset

    return InputDataset(namespace=dataset.namespace, name=dataset.name)


def _output(dataset: Dataset) -> Any:
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )

    facets: dict[str, Any] = {}
    if dataset.rows is not None or dataset.size is not None:
        facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(
            rowCount=dataset.rows, size=dataset.size
        )
    return OutputDataset(namespace=dataset.namespace, name=dataset.name, outputFacets=facets)


def to_operator_lineage(lineage: Lineage) -> Any:
    """The ``OperatorLineage`` of ``lineage`` (inputs, outputs with output statistics, and the
    Celonis run id as the ``externalQuery`` run facet)."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    run_facets: dict[str, Any] = {}
    if lineage.external_id and lineage.external_source:
        from airflow.providers.common.compat.openlineage.facet import ExternalQueryRunFacet

        run_facets["externalQuery"] = ExternalQueryRunFacet(
            externalQueryId=lineage.external_id, source=lineage.external_source
        )
    return OperatorLineage(
        inputs=[_input(d) for d in lineage.inputs],
        outputs=[_output(d) for d in lineage.outputs],
        run_facets=run_facets,
    )


def facets_on_complete(operator: Any, report: Callable[[Any], Lineage]) -> Any:
    """``report(operator)`` as an ``OperatorLineage``; on any error, a warning and an empty one."""
    return _facets(operator, report, outputs=True)


def facets_on_failure(operator: Any, report: Callable[[Any], Lineage]) -> Any:
    """A failed run: ``report(operator)`` without its outputs (what failed did not produce them;
    an extract's file written before a later step failed is not claimed either). Never raises."""
    return _facets(operator, report, outputs=False)


def _facets(operator: Any, report: Callable[[Any], Lineage], *, outputs: bool) -> Any:
    try:
        lineage = report(operator)
        if not outputs:
            lineage = replace(lineage, outputs=[])
        return to_operator_lineage(lineage)
    except Exception as err:
        log.warning(
            "OpenLineage: no lineage for task %s (%s: %s); the task's result is unaffected",
            getattr(operator, "task_id", "?"),
            type(err).__name__,
            redact_uris_in(str(err)),  # an error may quote an output_path or source
        )
        try:
            from airflow.providers.openlineage.extractors import OperatorLineage

            return OperatorLineage()
        except Exception:  # the provider went missing: nothing to return to
            return None
