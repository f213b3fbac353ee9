"""Data Job Execution API: start, watch and cancel data job executions in a data pool.

Each endpoint is described once as a :class:`~airflow_provider_celonis.client.calls.Call`; a
sync method (workers) and an async twin (triggers) send it with ``call``/``acall`` of
:class:`~airflow_provider_celonis.hooks.celonis.CelonisOAuthHook`, so both see the same retry
policy, typed errors and percent-encoded ids. Only ``start_execution`` is a non-idempotent
POST: the hook never replays it once it may have reached Celonis; ``cancel`` is safe to repeat and is retried.

Endpoints (docs/celonis-api.md): the public v2 ``execute`` and ``jobs/{jobId}`` status; the
internal ``/api/pools/...`` family for execute-with-configuration, cancel, history and logs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from airflow_provider_celonis.client.apis import DATA_JOBS
from airflow_provider_celonis.client.arguments import MODES, check_int, check_mode, subset_list
from airflow_provider_celonis.client.calls import Call, reworded, said, segment, unexpected_answer
from airflow_provider_celonis.exceptions import (
    CelonisApiError,
    CelonisConfigurationError,
    CelonisNotFoundError,
    CelonisPermissionError,
    CelonisUnexpectedResponseError,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

# check_mode, subset_list and MODES live with the other argument checks (operators use them
# without importing a hook module); re-exported here for code that imported them from here.
__all__ = [
    "MODES",
    "CelonisDataJobHook",
    "check_mode",
    "execution_configuration",
    "explain_internal",
    "subset_list",
]


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


def explain_internal(err: CelonisApiError, call: Call) -> CelonisApiError:
    """A 403/404 from an internal ``logs/...`` endpoint, re-raised saying what it means.

    The same answer from a public endpoint (a wrong pool or job id) is left as it is.
    """
    if not isinstance(err, (CelonisPermissionError, CelonisNotFoundError)):
        return err
    if "/logs/" not in call.path and "/load-history/" not in call.path:
        return err
    what = "refused" if err.status == 403 else "does not know"
    return reworded(
        err,
        f"{said(err)} The internal Celonis endpoint {call.method} {call.path} {what} this request. The "
        "provider needs it to read the run history and logs (there is no public endpoint for "
        "them): the OAuth client may lack view permission on the data pool, or Celonis changed or "
        "removed this undocumented endpoint.",
        "give the OAuth client view and manage permission on the data pool; if it has them, "
        "report the change of the internal API",
    )


def failed_tasks(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tasks if str(t.get("status") or "").upper() == "FAIL" and t.get("taskId")]


MAX_TASK_ERROR_LINES = 5
"""ERROR lines kept per failed task: the first ones say what broke; the rest is in Celonis's log."""


def task_errors(task: dict[str, Any], log_page: Any) -> list[str]:
    """``"<task name>: <ERROR line>"`` for the first ERROR lines of a failed task."""
    lines = error_lines(log_page)[:MAX_TASK_ERROR_LINES]
    name = task.get("name") or task.get("taskId")
    return [f"{name}: {line}" for line in lines] or [f"{name}: failed (no ERROR line in its log)"]


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
    ``history_limit`` is the page size asked of the execution history; ``max_history_pages``
    bounds the pages read for the "before" snapshot of an operator's start.

    Only ``execute`` (v2) and ``jobs/{jobId}`` are public; the execution history, task items
    and log lines exist only under the internal ``logs/...`` endpoints (docs/celonis-api.md),
    so a 403 or 404 from them is re-raised with what it most likely means.
    """

    def __init__(
        self,
        celonis_conn_id: str = CelonisOAuthHook.default_conn_name,
        *,
        history_limit: int = 50,
        max_history_pages: int = 200,
        **kwargs: Any,
    ) -> None:
        super().__init__(celonis_conn_id, **kwargs)
        self.history_limit = check_int("history_limit", history_limit, minimum=1)
        self.max_history_pages = check_int("max_history_pages", max_history_pages, minimum=1)

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
                DATA_JOBS,
                "POST",
                "/api/v2/data-pools/{pool_id}/data-jobs/{job_id}/execute",
                {"pool_id": pool_id, "job_id": job_id},
                {"params": {"mode": mode}},
            )
        body = execution_configuration(
            pool_id,
            job_id,
            mode,
            transformations=transformations,
            extractions=extractions,
            data_models=data_models,
        )
        return Call(
            DATA_JOBS,
            "POST",
            "/api/pools/{pool_id}/jobs/{job_id}/execute",
            _ids(pool_id, job_id),
            {"json": body},
        )

    @staticmethod
    def cancel_call(pool_id: str, job_id: str) -> Call:
        return Call(
            DATA_JOBS,
            "POST",
            "/api/pools/{pool_id}/jobs/{job_id}/cancel",
            _ids(pool_id, job_id),
            idempotent=True,
        )

    @staticmethod
    def status_call(pool_id: str, job_id: str) -> Call:
        """The public ``JobTransport`` of the job (``status``, ``currentExecutionId``)."""
        return Call(DATA_JOBS, "GET", "/api/pools/{pool_id}/jobs/{job_id}", _ids(pool_id, job_id))

    def history_call(self, pool_id: str, job_id: str, page: int = 0) -> Call:
        params = {"limit": str(self.history_limit), "page": str(page)}
        return Call(
            DATA_JOBS,
            "GET",
            "/api/pools/{pool_id}/logs/{job_id}/executions",
            _ids(pool_id, job_id),
            {"params": params},
        )

    @staticmethod
    def tasks_call(pool_id: str, job_id: str, execution_id: str) -> Call:
        """The task items of one execution (``type=TASK``), each with its own ``taskId`` and status."""
        params = {"executionId": execution_id, "id": job_id, "type": "TASK"}
        return Call(
            DATA_JOBS, "GET", "/api/pools/{pool_id}/logs/executions", {"pool_id": pool_id}, {"params": params}
        )

    @staticmethod
    def log_call(pool_id: str, execution_id: str, task_id: str, limit: int = 100) -> Call:
        """ERROR lines of one task of an execution (``id`` is the task's ``taskId``, ``type=TASK``),
        as pycelonis asks them; a job-level ``type=JOB`` query returns no task log lines."""
        params = {
            "executionId": execution_id,
            "id": task_id,
            "type": "TASK",
            "limit": str(limit),
            "page": "0",
            "logLevels": "ERROR",
        }
        path = "/api/pools/{pool_id}/logs/executions/detail"
        return Call(DATA_JOBS, "GET", path, {"pool_id": pool_id}, {"params": params})

    def explain(self, err: CelonisApiError, call: Call) -> CelonisApiError:
        return explain_internal(err, call)

    # -- sync API --------------------------------------------------------------------------
    def start_execution(self, pool_id: str, job_id: str, mode: str = "DELTA", **subset: Any) -> Any:
        """Start the job; the answer body is undocumented, so callers must not depend on it."""
        return self.call(self.start_call(pool_id, job_id, mode, **subset))

    def cancel_execution(self, pool_id: str, job_id: str) -> None:
        self.call(self.cancel_call(pool_id, job_id))

    def get_job_status(self, pool_id: str, job_id: str) -> dict[str, Any] | None:
        """The job's ``JobTransport`` (``status``, ``currentExecutionId``), or None."""
        answer = self.call(self.status_call(pool_id, job_id))
        return answer if isinstance(answer, dict) else None

    def list_executions(self, pool_id: str, job_id: str, *, all_pages: bool = False) -> list[dict[str, Any]]:
        """The execution history: page 0 and the last page (order is undocumented, the newest
        runs are on one of them), or every page with ``all_pages`` (the "before" snapshot whose
        ids can never be ours must be complete; at most ``max_history_pages`` pages).

        A page without its ``executionItems`` list, or one that repeats the previous page, is a
        :class:`CelonisUnexpectedResponseError`: read as "no executions", it would make an old
        run look new."""
        path = self.history_call(pool_id, job_id).path
        first = self.call(self.history_call(pool_id, job_id))
        pages = [_items(first, path, 0)]
        for number in self._pages_to_read(first, all_pages):
            pages.append(_items(self.call(self.history_call(pool_id, job_id, number)), path, number))
        return _joined(pages, path, all_pages)

    def list_tasks(self, pool_id: str, job_id: str, execution_id: str) -> list[dict[str, Any]]:
        return _task_items(self.call(self.tasks_call(pool_id, job_id, execution_id)))

    def get_error_lines(self, pool_id: str, job_id: str, execution_id: str) -> list[str]:
        """``"<task name>: <ERROR line>"``: the first ERROR lines of each failed task of the execution,
        each read with the task's own id (the documented way; pycelonis does the same)."""
        lines: list[str] = []
        for task in failed_tasks(self.list_tasks(pool_id, job_id, execution_id)):
            lines += task_errors(task, self.call(self.log_call(pool_id, execution_id, str(task["taskId"]))))
        return lines

    # -- async twins (triggers: GETs only) -------------------------------------------------
    async def astart_execution(self, pool_id: str, job_id: str, mode: str = "DELTA", **subset: Any) -> Any:
        return await self.acall(self.start_call(pool_id, job_id, mode, **subset))

    async def acancel_execution(self, pool_id: str, job_id: str) -> None:
        await self.acall(self.cancel_call(pool_id, job_id))

    async def aget_job_status(self, pool_id: str, job_id: str) -> dict[str, Any] | None:
        answer = await self.acall(self.status_call(pool_id, job_id))
        return answer if isinstance(answer, dict) else None

    async def alist_executions(
        self, pool_id: str, job_id: str, *, all_pages: bool = False
    ) -> list[dict[str, Any]]:
        path = self.history_call(pool_id, job_id).path
        first = await self.acall(self.history_call(pool_id, job_id))
        pages = [_items(first, path, 0)]
        for number in self._pages_to_read(first, all_pages):
            pages.append(_items(await self.acall(self.history_call(pool_id, job_id, number)), path, number))
        return _joined(pages, path, all_pages)

    async def aget_error_lines(self, pool_id: str, job_id: str, execution_id: str) -> list[str]:
        lines: list[str] = []
        tasks = _task_items(await self.acall(self.tasks_call(pool_id, job_id, execution_id)))
        for task in failed_tasks(tasks):
            page = await self.acall(self.log_call(pool_id, execution_id, str(task["taskId"])))
            lines += task_errors(task, page)
        return lines

    def _pages_to_read(self, first: Any, all_pages: bool) -> list[int]:
        pages = _num_pages(first)
        if not all_pages:
            return [pages - 1] if pages > 1 else []
        if pages > self.max_history_pages:
            raise CelonisConfigurationError(
                "max_history_pages",
                f"is {self.max_history_pages}, but the execution history has {pages} pages of "
                f"{self.history_limit}; without all of them the provider cannot prove which run is its own",
                "raise hook_params max_history_pages (or history_limit)",
            )
        return list(range(1, pages))

    # -- links -----------------------------------------------------------------------------
    def job_url(self, pool_id: str, job_id: str) -> str:
        """The job in the Celonis UI (the page whose URL holds the pool and job ids): the pool id
        one path segment, the job id one query value, as for the API's paths."""
        base = self.get_config().base_url.rstrip("/")
        pool = segment("pool_id", pool_id)
        segment("job_id", job_id)  # refused as in the API's paths (empty, '.' or '..')
        query = urlencode({"jobId": job_id}, quote_via=quote)  # '&', '#', '+', '/' stay in the value
        return f"{base}/integration/ui/pools/{pool}/data-configuration/data-jobs?{query}"


def _num_pages(page: Any) -> int:
    try:
        return int((page or {}).get("numOfPages") or 1)
    except (TypeError, ValueError, AttributeError):
        return 1


def _ids(pool_id: str, job_id: str) -> dict[str, str]:
    return {"pool_id": pool_id, "job_id": job_id}


def _unexpected(path: str, problem: str, answer: Any) -> CelonisUnexpectedResponseError:
    return unexpected_answer(
        "Data Job Execution API",
        "GET",
        path,
        problem,
        answer,
        "The provider cannot tell which executions exist",
    )


def _task_items(answer: Any, path: str = "logs/executions") -> list[dict[str, Any]]:
    if not isinstance(answer, list):
        raise _unexpected(path, "the task items are not a list", answer)
    return [i for i in answer if isinstance(i, dict)]


def _items(page: Any, path: str, number: int) -> list[dict[str, Any]]:
    items = page.get("executionItems") if isinstance(page, dict) else None
    if not isinstance(items, list):
        raise _unexpected(path, f"page {number} has no executionItems list", page)
    return [i for i in items if isinstance(i, dict)]


def _joined(pages: list[list[dict[str, Any]]], path: str, all_pages: bool) -> list[dict[str, Any]]:
    """The pages' items; with ``all_pages``, a page equal to the one before (a server ignoring
    ``page``) is an error, not a complete history."""
    for number in range(1, len(pages) if all_pages else 0):
        if pages[number] and pages[number] == pages[number - 1]:
            raise _unexpected(
                path, f"page {number} repeats page {number - 1} (is 'page' ignored?)", pages[number][:2]
            )
    return [item for page in pages for item in page]
