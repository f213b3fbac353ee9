"""Export Knowledge Model data (a record's rows, with KPIs and filters) to a file.

Scope ``studio`` by default (override with the connection extra ``scopes``) and USE PACKAGE on
the Studio package that holds the model. Limits: 20 requests/s and 6,000/day per team, 200
fields per request, and only the first 5,000 records of a filtered or sorted table; see
docs/process-intelligence.md.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from airflow.exceptions import AirflowProviderDeprecationWarning
from airflow.sdk import BaseOperator

from airflow_provider_celonis.client import transport
from airflow_provider_celonis.client.paths import redact_uri, redact_uris_in, uri_password
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisError
from airflow_provider_celonis.extracts.outputs import check_format, check_output_path
from airflow_provider_celonis.extracts.records import write_in_order
from airflow_provider_celonis.lineage.assets import declare_outlets, output_asset_uri
from airflow_provider_celonis.lineage.facts import remember, team_url_of

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["CelonisKnowledgeModelDataOperator"]


def _names(value: Any, field: str, where: str | None = None) -> list[str]:
    """A list of ids from a list or a comma-separated string (templates render to strings)."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise CelonisConfigurationError(
        field, f"is {value!r}", "pass a list of ids or a comma-separated string", where=where
    )


class CelonisKnowledgeModelDataOperator(BaseOperator):
    """Page through a Knowledge Model's ``/data`` (or one record's) into ``output_path``.

    Rows are written in the API's order (identical rows kept), atomically, as ``jsonl``, ``csv``
    or ``parquet``, to a local path or an object-storage URI. When a filtered or sorted query
    reaches Celonis's 5,000-record cut, the task fails (nothing is written), naming the filter
    or sort that caused the cut and how to split the query; with ``allow_cut=True`` it writes
    the partial export, logs a warning and returns ``cut: True``. Returns ``{"path", "records",
    "total", "cut"}``.

    :param knowledge_model_id: the model's id (templated).
    :param record_id: a record of the model; its ``/data`` is read and ``fields`` are plain
        field ids. Without it, the model-level ``/data`` is read and ``fields`` are required, as
        ``RECORD.field`` ids.
    :param fields: field ids (list or comma-separated string); default all of the record's.
    :param filter_expr: OData-like filter, e.g. ``"status eq 'OPEN' and amount gt 100"``.
    :param filters: ids of filters defined in the model.
    :param kpis: ids of KPIs to add as columns.
    :param sort: one field, ``+field`` or ``-field`` (a sorted table is cut at 5,000 too).
    :param page_size: rows per request (API default 50; larger pages spend less of the
        6,000-requests-a-day budget).
    :param method: ``GET`` (query parameters) or ``POST`` (``KmQueryDataRequest`` body, for long
        field lists).
    :param output_path: file path or URI, templated. :param output_format: jsonl, csv or parquet.
    :param allow_cut: accept a result cut at 5,000 records (a partial export) instead of failing.
    :param fail_on_cut: deprecated, the opposite of ``allow_cut`` (failing is now the default).
    :param hook_params: keyword arguments for the hook (retries, ``max_rate_limit_wait``, timeout).
    """

    template_fields: Sequence[str] = (
        "knowledge_model_id",
        "record_id",
        "fields",
        "filter_expr",
        "filters",
        "kpis",
        "sort",
        "output_path",
    )
    ui_color = "#f4d48b"

    def __init__(
        self,
        *,
        knowledge_model_id: str,
        output_path: str,
        record_id: str | None = None,
        fields: list[str] | str | None = None,
        filter_expr: str | None = None,
        filters: list[str] | str | None = None,
        kpis: list[str] | str | None = None,
        sort: str | None = None,
        page_size: int = 200,
        method: str = "GET",
        output_format: str = "jsonl",
        allow_cut: bool | None = None,
        fail_on_cut: bool | None = None,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        spill_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        declare_outlets(self, kwargs, output_asset_uri(output_path))  # docs/lineage.md; outlets= wins
        self.knowledge_model_id = knowledge_model_id
        self.record_id = record_id
        self.fields = fields
        self.filter_expr = filter_expr
        self.filters = filters
        self.kpis = kpis
        self.sort = sort
        self.page_size = page_size
        self.method = method
        self.output_path = output_path
        self.output_format = output_format
        if fail_on_cut is not None:
            warnings.warn(
                "fail_on_cut is deprecated: a cut result now fails by default; pass allow_cut=True to "
                "accept a partial export",
                AirflowProviderDeprecationWarning,
                stacklevel=2,
            )
        self.allow_cut = allow_cut
        self.fail_on_cut = fail_on_cut
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.spill_dir = spill_dir

    def execute(self, context: Context) -> dict[str, Any]:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.knowledge_model import CelonisKnowledgeModelHook

        fmt = check_format(self.output_format)
        path, shown = str(self.output_path), self.shown_path
        try:
            check_output_path(path)
        except CelonisConfigurationError as error:  # its text may quote credentials of the URI
            raise CelonisConfigurationError(
                error.field,
                redact_uris_in(error.problem),
                redact_uris_in(error.fix or ""),
                where=self.task_id,
            ) from None
        allow_cut = self._allow_cut()
        fields, filters, kpis = (
            _names(self.fields, "fields", self.task_id),
            _names(self.filters, "filters", self.task_id),
            _names(self.kpis, "kpis", self.task_id),
        )
        hook = CelonisKnowledgeModelHook(self.celonis_conn_id, **self.hook_params)
        remember(self, team_url=team_url_of(hook))  # before the export: a failed run names its input
        data = hook.data(
            str(self.knowledge_model_id or ""),
            record_id=self.record_id or None,
            fields=fields,
            filter_expr=self.filter_expr or None,
            filters=filters,
            kpis=kpis,
            sort=self.sort or None,
            page_size=self.page_size,
            method=self.method,
            where=self.task_id,
        )
        where = f"record {self.record_id}" if self.record_id else "model-level data"
        self.log.info(
            "Exporting Knowledge Model %s (%s) to %s (%s)", self.knowledge_model_id, where, shown, fmt
        )
        rows = data if allow_cut else _stop_on_cut(data, self._cut_fix())
        count = write_in_order(rows, path, fmt, preferred=[*fields, *kpis], spill_dir=self.spill_dir)
        remember(self, team_url=team_url_of(hook), output=path, records=count)  # for lineage, not XCom
        self.log.info("Wrote %d rows (server total %s) to %s", count, data.total, shown)
        if data.cut:
            self.log.warning(
                "The export holds only %d of %s rows: Celonis cuts a filtered or sorted table at 5,000 "
                "records. Split the query into narrower filterExpr ranges to get all rows.",
                count,
                data.total,
            )
        return {"path": shown, "records": count, "total": data.total, "cut": data.cut}

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render, then register the password of an ``output_path`` URI with Airflow's masker, so
        rendered fields and logs show ``***`` (this runs before Airflow stores rendered fields)."""
        super().render_template_fields(context, jinja_env)
        # Only the password: a bare userinfo is usually a connection id (s3://aws_default@bucket),
        # and masking it would hide that name everywhere in the task log.
        secret = uri_password(self.output_path)
        if secret:
            transport.mask(secret)
            if unquote(secret) != secret:
                transport.mask(unquote(secret))  # a library's error may quote it decoded

    @property
    def shown_path(self) -> str:
        """``output_path`` as logs, XCom and errors show it: credentials replaced by ``***``."""
        return redact_uri(self.output_path)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the Knowledge Model in, the final ``output_path`` out (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_complete
        from airflow_provider_celonis.lineage.reports import extract_report

        return facets_on_complete(self, extract_report)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """OpenLineage of a failed run: its inputs and Celonis id, no output (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_failure
        from airflow_provider_celonis.lineage.reports import extract_report

        return facets_on_failure(self, extract_report)

    def _allow_cut(self) -> bool:
        for name in ("allow_cut", "fail_on_cut"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise CelonisConfigurationError(
                    name, f"is {getattr(self, name)!r}", "use True or False", where=self.task_id
                )
        if self.allow_cut is not None and self.fail_on_cut is not None and self.allow_cut == self.fail_on_cut:
            raise CelonisConfigurationError(
                "allow_cut",
                f"is {self.allow_cut} and the deprecated fail_on_cut is {self.fail_on_cut}",
                "pass only allow_cut",
                where=self.task_id,
            )
        if self.allow_cut is not None:
            return self.allow_cut
        return self.fail_on_cut is False

    def _cut_fix(self) -> str:
        """What would avoid the cut, naming this task's own filter and sort."""
        ways = []
        if self.sort:
            ways.append(
                f"drop sort={self.sort!r} (only a sorted or filtered table is cut; sort the file later)"
            )
        if self.filter_expr:
            ways.append(
                f"split filter_expr={self.filter_expr!r} into ranges of under 5,000 records each, e.g. "
                "one task per month with \"and created ge '...' and created lt '...'\""
            )
        if self.filters:
            ways.append(f"narrow the model filters {self.filters!r} or run one export per slice of them")
        ways.append("or pass allow_cut=True to accept the first 5,000 records only")
        return "; ".join(ways)


def _stop_on_cut(data: Any, fix: str) -> Any:
    """Yield the rows, then raise if the result was cut (so the atomic writer leaves no file)."""
    yield from data
    if data.cut:
        total = "an unknown number of" if data.total is None else data.total
        raise CelonisError(
            f"Knowledge Model data {data.path} was cut at {data.fetched} of {total} records: Celonis "
            "returns only the first 5,000 records of a filtered or sorted table, so the export would be "
            "partial. Nothing was written.",
            fix=fix,
        )
