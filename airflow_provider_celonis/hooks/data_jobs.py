"""Data Job Execution API: start, watch and cancel data job executions in a data pool.

Each endpoint is described once as a :class:`Call` (method, path, arguments); a sync method
(workers) and an async twin (triggers) send it through the same request core of
:class:`~airflow_provider_celonis.hooks.celonis.CelonisOAuthHook`, so both see the same retry
policy and typed errors. Only ``start_execution`` is a non-idempotent POST: the hook never
replays it once it may have reached Celonis; ``cancel`` is safe to repeat and is retried.

Endpoints (shared/celonis-api.md 2.5): the public v2 ``execute``; the internal
``/api/pools/...`` family for execute-with-configuration, cancel, status, history and logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_celonis.apis import DATA_JOBS
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

MODES = ("FULL", "DELTA")


@dataclass(frozen=True)
class Call:
    """One request to the Data Job Execution API."""

    method: str
    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    idempotent: bool | None = None


def _extraction(spec: Any) -> dict[str, Any]:
    if isinstance(spec, dict):
        tables = list(spec.get("tables") or [])
        return {
            "extractionId": spec["extractionId"],
            "loadOnlySubsetOfTables": bool(tables),
            "tables": tables,
        }
    return {"extractionId": str(spec), "loadOnlySubsetOfTables": False, "tables": []}


def _data_model(spec: Any) -> dict[str, Any]:
    if isinstance(spec, dict):
        return {
            "dataModelExecutionId": spec["dataModelExecutionId"],
            "tables": list(spec.get("tables") or []),
        }
    return {"dataModelExecutionId": str(spec), "tables": []}


def execution_configuration(
    pool_id: str,
    job_id: str,
    mode: str,
    *,
    transformations: list[str] | None = None,
    extractions: list[Any] | None = None,
    data_models: list[Any] | None = None,
) -> dict[str, Any]:
    """The internal ``JobExecutionConfiguration`` body; each ``*OnlySubset*`` flag is set when its list is

    given.

    ``extractions`` items are extraction ids or ``{"extractionId": ..., "tables": [...]}``;
    ``data_models`` items are data model execution ids or ``{"dataModelExecutionId": ..., "tables": [...]}``.
    """
    body: dict[str, Any] = {
        "poolId": pool_id,
        "jobId": job_id,
        "mode": mode,
        "executeOnlySubsetOfTransformations": transformations is not None,
        "transformations": list(transformations or []),
        "executeOnlySubsetOfExtractions": extractions is not None,
        "extractions": [_extraction(e) for e in extractions or []],
        "loadOnlySubsetOfDataModels": data_models is not None,
        "dataModels": [_data_model(d) for d in data_models or []],
    }
    return body


def subset_list(value: Any, name: str, id_key: str | None = None) -> list[Any] | None:
    """A subset argument as a list, checked before any call; ``None`` (or blank) means "all".

    Accepts a list/tuple of ids (or, with ``id_key``, dicts carrying that key and optional
    ``tables``), or a string: comma-separated ids, or a rendered list (``"['a', 'b']"``: a
    templated list renders as text unless the DAG sets ``render_template_as_native_obj``).
    A plain string is never split into characters.
    """
    import ast

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise CelonisConfigurationError(
                    name, f"is the text {text!r}, not a list", "give a list, or ids separated by commas"
                ) from None
        else:
            return [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)):
        raise CelonisConfigurationError(
            name, f"is a {type(value).__name__}", "give a list of ids, or ids separated by commas"
        )
    shape = f"ids or {{'{id_key}': ..., 'tables': [...]}}" if id_key else "ids (strings)"
    items: list[Any] = []
    for item in value:
        if isinstance(item, dict) and id_key and item.get(id_key):
            tables = item.get("tables") or []
            if isinstance(tables, str):
                tables = [t.strip() for t in tables.split(",") if t.strip()]
            items.append({**item, "tables": list(tables)})
        elif isinstance(item, (str, int)) and not isinstance(item, bool) and str(item).strip():
            items.append(str(item).strip())
        else:
            raise CelonisConfigurationError(name, f"has the item {item!r}", f"use {shape}")
    return items


def check_mode(mode: str) -> str:
    mode = str(mode).upper()
    if mode not in MODES:
        raise CelonisConfigurationError("mode", f"is {mode!r}", "use 'FULL' or 'DELTA'")
    return mode


def error_lines(log_page: Any) -> list[str]:
    """The ``logMessage`` of every ERROR line in a ``logs/executions/detail`` answer."""
    messages = (log_page or {}).get("logMessages") or [] if isinstance(log_page, dict) else log_page or []
    return [
        str(m.get("logMessage"))
        for m in messages
        if isinstance(m, dict) and str(m.get("level", "")).upper() == "ERROR" and m.get("logMessage")
    ]


class CelonisDataJobHook(CelonisOAuthHook):
    """Data Job Execution API on top of :class:`CelonisOAuthHook` (scope ``integration.data-pools``).

    The OAuth client needs view **and** manage permission on the data pool.
    ``history_limit`` is the page size asked of the execution history.
    """

    def __init__(
        self,
        celonis_conn_id: str = CelonisOAuthHook.default_conn_name,
        *,
        history_limit: int = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(celonis_conn_id, **kwargs)
        self.history_limit = history_limit

    # -- request descriptions --------------------------------------------------------------
    @staticmethod
    def start_call(
        pool_id: str,
        job_id: str,
        mode: str = "DELTA",
        *,
        transformations: list[str] | None = None,
        extractions: list[Any] | None = None,
        data_models: list[Any] | None = None,
    ) -> Call:
        mode = check_mode(mode)
        if transformations is None and extractions is None and data_models is None:
            return Call(
                "POST", f"/api/v2/data-pools/{pool_id}/data-jobs/{job_id}/execute", {"params": {"mode": mode}}
            )
        body = execution_configuration(
            pool_id,
            job_id,
            mode,
            transformations=transformations,
            extractions=extractions,
            data_models=data_models,
        )
        return Call("POST", f"/api/pools/{pool_id}/jobs/{job_id}/execute", {"json": body})

    @staticmethod
    def cancel_call(pool_id: str, job_id: str) -> Call:
        return Call("POST", f"/api/pools/{pool_id}/jobs/{job_id}/cancel", idempotent=True)

    @staticmethod
    def status_call(pool_id: str) -> Call:
        return Call("GET", f"/api/pools/{pool_id}/logs/status")

    def history_call(self, pool_id: str, job_id: str, page: int = 0) -> Call:
        return Call(
            "GET",
            f"/api/pools/{pool_id}/logs/{job_id}/executions",
            {"params": {"limit": str(self.history_limit), "page": str(page)}},
        )

    @staticmethod
    def log_call(pool_id: str, job_id: str, execution_id: str, limit: int = 100) -> Call:
        params = {
            "executionId": execution_id,
            "id": job_id,
            "type": "JOB",
            "limit": str(limit),
            "page": "0",
            "logLevels": "ERROR",
        }
        return Call("GET", f"/api/pools/{pool_id}/logs/executions/detail", {"params": params})

    def call(self, call: Call) -> Any:
        return self.request_json(
            call.method, call.path, api=DATA_JOBS, idempotent=call.idempotent, **call.kwargs
        )

    async def acall(self, call: Call) -> Any:
        return await self.arequest_json(
            call.method, call.path, api=DATA_JOBS, idempotent=call.idempotent, **call.kwargs
        )

    # -- sync API --------------------------------------------------------------------------
    def start_execution(self, pool_id: str, job_id: str, mode: str = "DELTA", **subset: Any) -> Any:
        """Start the job; the answer body is undocumented, so callers must not depend on it."""
        return self.call(self.start_call(pool_id, job_id, mode, **subset))

    def cancel_execution(self, pool_id: str, job_id: str) -> None:
        self.call(self.cancel_call(pool_id, job_id))

    def get_job_status(self, pool_id: str, job_id: str) -> dict[str, Any] | None:
        """The job's item in ``logs/status`` (``{id, status, lastExecutionStartDate}``), or None."""
        return _pick_job(self.call(self.status_call(pool_id)), job_id)

    def list_executions(self, pool_id: str, job_id: str) -> list[dict[str, Any]]:
        """Newest executions: page 0, plus the last page when there are several (order is undocumented)."""
        first = self.call(self.history_call(pool_id, job_id))
        pages = _num_pages(first)
        last = self.call(self.history_call(pool_id, job_id, pages - 1)) if pages > 1 else None
        return _items(first) + _items(last)

    def get_error_lines(self, pool_id: str, job_id: str, execution_id: str) -> list[str]:
        return error_lines(self.call(self.log_call(pool_id, job_id, execution_id)))

    # -- async twins (triggers: GETs only) -------------------------------------------------
    async def astart_execution(self, pool_id: str, job_id: str, mode: str = "DELTA", **subset: Any) -> Any:
        return await self.acall(self.start_call(pool_id, job_id, mode, **subset))

    async def acancel_execution(self, pool_id: str, job_id: str) -> None:
        await self.acall(self.cancel_call(pool_id, job_id))

    async def aget_job_status(self, pool_id: str, job_id: str) -> dict[str, Any] | None:
        return _pick_job(await self.acall(self.status_call(pool_id)), job_id)

    async def alist_executions(self, pool_id: str, job_id: str) -> list[dict[str, Any]]:
        first = await self.acall(self.history_call(pool_id, job_id))
        pages = _num_pages(first)
        last = await self.acall(self.history_call(pool_id, job_id, pages - 1)) if pages > 1 else None
        return _items(first) + _items(last)

    async def aget_error_lines(self, pool_id: str, job_id: str, execution_id: str) -> list[str]:
        return error_lines(await self.acall(self.log_call(pool_id, job_id, execution_id)))

    # -- links -----------------------------------------------------------------------------
    def job_url(self, pool_id: str, job_id: str) -> str:
        """The job in the Celonis UI (the page whose URL holds the pool and job ids)."""
        base = self.get_config().base_url.rstrip("/")
        return f"{base}/integration/ui/pools/{pool_id}/data-configuration/data-jobs?jobId={job_id}"


def _pick_job(items: Any, job_id: str) -> dict[str, Any] | None:
    for item in items or []:
        if isinstance(item, dict) and str(item.get("id")) == str(job_id):
            return item
    return None


def _num_pages(page: Any) -> int:
    try:
        return int((page or {}).get("numOfPages") or 1)
    except (TypeError, ValueError, AttributeError):
        return 1


def _items(page: Any) -> list[dict[str, Any]]:
    if not page:
        return []
    items = page.get("executionItems") if isinstance(page, dict) else page
    return [i for i in items or [] if isinstance(i, dict)]
