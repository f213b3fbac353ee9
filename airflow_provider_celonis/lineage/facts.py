"""What an operator read and wrote, as plain data: built from what it kept while it ran.

Operators keep the facts lineage needs on themselves while they run (:func:`remember`: the
final output URI, record counts, the team URL), never in XCom, and the lineage method builds
a :class:`Lineage` from them when the task completes. Nothing here imports OpenLineage:
:mod:`.openlineage` turns a :class:`Lineage` into the provider's objects.

Every URI is reduced to a dataset name (:func:`.naming.storage_dataset`), which drops userinfo,
so no credential of an ``output_path`` or ``source`` reaches an event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_celonis.client.paths import redact_uri
from airflow_provider_celonis.lineage.naming import (
    DatasetName,
    celonis_dataset,
    data_model_name,
    pool_table_name,
    storage_dataset,
)

__all__ = [
    "FACTS_ATTRIBUTE",
    "Dataset",
    "Lineage",
    "data_job_lineage",
    "data_model_lineage",
    "extract_lineage",
    "push_lineage",
    "remember",
    "team_url_of",
]

log = logging.getLogger(__name__)

FACTS_ATTRIBUTE = "_celonis_lineage_facts"
"""The operator attribute :func:`remember` fills (a dict; absent until the run got that far)."""


@dataclass(frozen=True)
class Dataset:
    namespace: str
    name: str
    rows: int | None = None
    """Output statistics: records written (None: not known)."""
    size: int | None = None
    """Output statistics: bytes (None: not known)."""


@dataclass
class Lineage:
    inputs: list[Dataset] = field(default_factory=list)
    outputs: list[Dataset] = field(default_factory=list)
    external_id: str | None = None
    """The Celonis id of the run (push job, data job execution), for the external query facet."""
    external_source: str | None = None


def remember(operator: Any, **facts: Any) -> None:
    """Keep ``facts`` on ``operator`` for its lineage method; never raises (lineage must never
    fail the task). URIs are kept redacted: the attribute is visible to anything holding the task."""
    try:
        kept = dict(getattr(operator, FACTS_ATTRIBUTE, None) or {})
        for key, value in facts.items():
            if isinstance(value, str) and "://" in value:
                value = redact_uri(value)
            elif isinstance(value, (list, tuple)):
                value = [redact_uri(v) if isinstance(v, str) else v for v in value]
            kept[key] = value
        setattr(operator, FACTS_ATTRIBUTE, kept)
    except Exception as err:  # e.g. an operator class with __slots__
        log.debug("Lineage facts not kept: %s", err)


def team_url_of(hook: Any) -> str | None:
    """The team URL of a hook (its connection is read once per hook, so after a run this is the
    cached value); None if it cannot be told."""
    try:
        return str(hook.get_config().base_url)
    except Exception:
        return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _ds(name: DatasetName | None, rows: Any = None, size: Any = None) -> list[Dataset]:
    return [] if name is None else [Dataset(name.namespace, name.name, _int(rows), _int(size))]


def extract_lineage(
    team_url: str | None, apis: list[str], output: str | None, records: Any = None
) -> Lineage:
    """A usage, SCIM or Knowledge Model export: the API(s) in, the final output file out."""
    inputs = [d for api in apis for d in _ds(celonis_dataset(team_url, api))]
    outputs = _ds(storage_dataset(output), records) if output else []
    return Lineage(inputs=inputs, outputs=outputs)


def push_lineage(
    team_url: str | None,
    pool_id: str,
    table: str,
    *,
    data_connection_id: str | None = None,
    sources: list[str] | None = None,
    rows: Any = None,
    size: Any = None,
    job_id: str | None = None,
) -> Lineage:
    """A data push: its source files in, the pool table out (rows and bytes pushed)."""
    inputs = [d for uri in sources or [] for d in _ds(storage_dataset(uri))]
    name = pool_table_name(pool_id, table, data_connection_id or None)
    outputs = _ds(celonis_dataset(team_url, name), rows, size)
    source = outputs[0].namespace if outputs else None
    return Lineage(inputs, outputs, external_id=job_id, external_source=source)


def data_job_lineage(team_url: str | None, pool_id: str, execution_id: str | None = None) -> Lineage:
    """A data job reads and writes tables of its pool; Celonis does not say which: the pool is both."""
    pool = _ds(celonis_dataset(team_url, pool_id))
    return Lineage(
        inputs=list(pool),
        outputs=list(pool),
        external_id=execution_id,
        external_source=pool[0].namespace if pool else None,
    )


def data_model_lineage(
    team_url: str | None, pool_id: str, data_model_id: str, load_id: str | None = None
) -> Lineage:
    """A data model reload reads its pool's tables into the model."""
    pool = _ds(celonis_dataset(team_url, pool_id))
    model = _ds(celonis_dataset(team_url, data_model_name(data_model_id)))
    return Lineage(
        inputs=pool,
        outputs=model,
        external_id=load_id,
        external_source=model[0].namespace if model else None,
    )
