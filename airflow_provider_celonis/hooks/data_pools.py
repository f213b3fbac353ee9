"""Discovery in the integration service: data pools, their data jobs, a job's tasks, the pool's
data models and a model's tables, and names resolved to ids.

The same :class:`~airflow_provider_celonis.client.calls.Call` style as
:mod:`~airflow_provider_celonis.hooks.data_jobs`: one description per endpoint, a sync method
(workers) and an async twin (triggers). Every list is shape-checked, and the paged pool list is
read until two complete reads agree, by :mod:`airflow_provider_celonis.client.pool_pages`
(``checked_list``, ``PoolPages``, ``PoolReads`` are re-exported here): a name resolved against
part of a list could pick the wrong object.

Endpoints (docs/celonis-api.md 3.5), the ones pycelonis and content-cli call:
``GET /integration/api/pools`` (or ``/pools/paged``), ``/pools/{poolId}/jobs``,
``/pools/{poolId}/jobs/{jobId}/tasks/``, ``/pools/{poolId}/data-models`` and the public
``/api/v1/data-pools/{poolId}/data-models/{dataModelId}/tables``.

Operators resolve names with :meth:`CelonisDataPoolHook.for_operator` at run time, never at
parse time; the matching rule is :func:`airflow_provider_celonis.client.names.pick`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from airflow_provider_celonis.client.apis import DATA_JOBS, DATA_MODELS
from airflow_provider_celonis.client.arguments import check_int
from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.client.names import (
    check_id_or_name,
    chosen,
    distinct,
    name_list,
    one_name,
    pick,
)
from airflow_provider_celonis.client.pool_pages import PoolPages, PoolReads, checked_list
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisNotFoundError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

POOL_LISTINGS = ("auto", "all", "paged")
TASK_TYPES = ("EXTRACTION", "TRANSFORMATION")


class CelonisDataPoolHook(CelonisOAuthHook):
    """List pools, jobs, tasks, data models and tables; resolve their names to ids.

    Scope ``integration.data-pools`` and a view permission on the pools (which pools are listed
    depends on the OAuth client's permissions [guess]).

    :param pool_listing: ``"auto"`` (default: ``GET /pools``, and the paged list if that path
        answers 404), ``"all"`` (only ``GET /pools``, as pycelonis) or ``"paged"`` (only
        ``/pools/paged``, as content-cli).
    :param page_size: ``limit`` of a paged request (content-cli asks 100).
    :param max_pages: pages of the paged list read at most before failing.
    """

    def __init__(
        self,
        celonis_conn_id: str = CelonisOAuthHook.default_conn_name,
        *,
        pool_listing: str = "auto",
        page_size: int = 100,
        max_pages: int = 1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(celonis_conn_id, **kwargs)
        if pool_listing not in POOL_LISTINGS:
            raise CelonisConfigurationError(
                "pool_listing", f"is {pool_listing!r}", f"use one of {', '.join(POOL_LISTINGS)}"
            )
        self.pool_listing = pool_listing
        self.page_size = check_int("page_size", page_size, minimum=1)
        self.max_pages = check_int("max_pages", max_pages, minimum=1)

    @classmethod
    def for_operator(cls, celonis_conn_id: str, hook_params: dict[str, Any]) -> CelonisDataPoolHook:
        """The hook an operator resolves names with: the base-hook part of its ``hook_params``
        (retries, timeout, prefixes), not what only its own hook knows (``history_limit``...).
        The listing switches keep their defaults (``pool_listing="auto"``)."""
        known = set(inspect.signature(CelonisOAuthHook.__init__).parameters) - {"self", "celonis_conn_id"}
        return cls(celonis_conn_id, **{k: v for k, v in hook_params.items() if k in known})

    # -- request descriptions --------------------------------------------------------------
    @staticmethod
    def pools_call() -> Call:
        return Call(DATA_JOBS, "GET", "/api/pools")

    def pools_page_call(self, page: int) -> Call:
        params = {"limit": str(self.page_size), "page": str(page)}
        return Call(DATA_JOBS, "GET", "/api/pools/paged", kwargs={"params": params})

    @staticmethod
    def jobs_call(pool_id: str) -> Call:
        return Call(DATA_JOBS, "GET", "/api/pools/{pool_id}/jobs", {"pool_id": pool_id})

    @staticmethod
    def tasks_call(pool_id: str, job_id: str) -> Call:
        """Trailing slash kept, as pycelonis sends it."""
        ids = {"pool_id": pool_id, "job_id": job_id}
        return Call(DATA_JOBS, "GET", "/api/pools/{pool_id}/jobs/{job_id}/tasks/", ids)

    @staticmethod
    def data_models_call(pool_id: str) -> Call:
        return Call(DATA_MODELS, "GET", "/api/pools/{pool_id}/data-models", {"pool_id": pool_id})

    @staticmethod
    def tables_call(pool_id: str, data_model_id: str) -> Call:
        path = "/api/v1/data-pools/{pool_id}/data-models/{data_model_id}/tables"
        return Call(DATA_MODELS, "GET", path, {"pool_id": pool_id, "data_model_id": data_model_id})

    # -- sync lists ------------------------------------------------------------------------
    def list_pools(self) -> list[dict[str, Any]]:
        """Every data pool the client may see (``id``, ``name``...)."""
        if self.pool_listing != "paged":
            try:
                return checked_list(self.pools_call(), self.call(self.pools_call()), "data pools")
            except CelonisNotFoundError:
                if self.pool_listing == "all":
                    raise
                self.log.info("GET /integration/api/pools answered 404: reading the paged pool list.")
        reads = PoolReads(self.max_pages)
        while reads.take(call := self.pools_page_call(reads.number), self.call(call)):
            pass
        return reads.items

    def list_jobs(self, pool_id: str) -> list[dict[str, Any]]:
        call = self.jobs_call(pool_id)
        return checked_list(call, self.call(call), "data jobs")

    def list_tasks(self, pool_id: str, job_id: str, task_type: str | None = None) -> list[dict[str, Any]]:
        """The job's task instances; ``task_type`` ``EXTRACTION`` or ``TRANSFORMATION`` keeps those."""
        call = self.tasks_call(pool_id, job_id)
        return _of_type(checked_list(call, self.call(call), "tasks", required=("taskType",)), task_type)

    def list_data_models(self, pool_id: str) -> list[dict[str, Any]]:
        call = self.data_models_call(pool_id)
        return checked_list(call, self.call(call), "data models")

    def list_tables(self, pool_id: str, data_model_id: str) -> list[dict[str, Any]]:
        """The data model's tables (``id``, ``name``, ``alias``, ``aliasOrName``)."""
        call = self.tables_call(pool_id, data_model_id)
        return checked_list(call, self.call(call), "tables")

    # -- async twins -----------------------------------------------------------------------
    async def alist_pools(self) -> list[dict[str, Any]]:
        if self.pool_listing != "paged":
            try:
                return checked_list(self.pools_call(), await self.acall(self.pools_call()), "data pools")
            except CelonisNotFoundError:
                if self.pool_listing == "all":
                    raise
                self.log.info("GET /integration/api/pools answered 404: reading the paged pool list.")
        reads = PoolReads(self.max_pages)
        while reads.take(call := self.pools_page_call(reads.number), await self.acall(call)):
            pass
        return reads.items

    async def alist_jobs(self, pool_id: str) -> list[dict[str, Any]]:
        call = self.jobs_call(pool_id)
        return checked_list(call, await self.acall(call), "data jobs")

    async def alist_tasks(
        self, pool_id: str, job_id: str, task_type: str | None = None
    ) -> list[dict[str, Any]]:
        call = self.tasks_call(pool_id, job_id)
        return _of_type(
            checked_list(call, await self.acall(call), "tasks", required=("taskType",)), task_type
        )

    async def alist_data_models(self, pool_id: str) -> list[dict[str, Any]]:
        call = self.data_models_call(pool_id)
        return checked_list(call, await self.acall(call), "data models")

    async def alist_tables(self, pool_id: str, data_model_id: str) -> list[dict[str, Any]]:
        call = self.tables_call(pool_id, data_model_id)
        return checked_list(call, await self.acall(call), "tables")

    # -- names to ids (operators, at run time) ---------------------------------------------
    def resolve_pool(self, name: str, field: str = "data_pool_name") -> str:
        item = pick("data pool", field, name, self.list_pools(), where="on this team", log=self.log)
        return self._resolved(field, name, item)

    def resolve_job(self, pool_id: str, name: str, field: str = "data_job_name") -> str:
        where = f"in data pool {pool_id}"
        item = pick("data job", field, name, self.list_jobs(pool_id), where=where, log=self.log)
        return self._resolved(field, name, item)

    def resolve_data_model(self, pool_id: str, name: str, field: str = "data_model_name") -> str:
        where = f"in data pool {pool_id}"
        item = pick("data model", field, name, self.list_data_models(pool_id), where=where, log=self.log)
        return self._resolved(field, name, item)

    def resolve_tasks(
        self, pool_id: str, job_id: str, names: Sequence[str], task_type: str, field: str
    ) -> list[str]:
        """The ids of the job's tasks of ``task_type`` named ``names``, in order (one list read)."""
        tasks = self.list_tasks(pool_id, job_id, task_type)
        kind = task_type.lower()
        where = f"in data job {job_id}"
        picked = [pick(kind, field, n, tasks, where=where, log=self.log) for n in names]
        for name, task in zip(names, picked, strict=True):
            if task.get("disabled") is True:  # it would not run, and the task would end green
                raise CelonisConfigurationError(
                    field,
                    f"names {name!r}, {kind} {task['id']} {where}, which is disabled in Celonis",
                    "enable it in Celonis, leave it out, or give its id in the id argument to send it anyway",
                )
        ids = [self._resolved(field, n, t) for n, t in zip(names, picked, strict=True)]
        return distinct(field, kind, names, ids)

    def resolve_tables(self, pool_id: str, data_model_id: str, names: Sequence[str], field: str) -> list[str]:
        """Table ids of ``names``; a name matches a table's ``name`` or its ``alias``."""
        tables = self.list_tables(pool_id, data_model_id)
        where = f"in data model {data_model_id}"
        keys = ("name", "alias")
        ids = [
            self._resolved(field, n, pick("table", field, n, tables, where=where, keys=keys, log=self.log))
            for n in names
        ]
        return distinct(field, "table", names, ids)

    def _resolved(self, field: str, name: str, item: dict[str, Any]) -> str:
        self.log.info("%s %r is %s.", field, name, item["id"])
        return str(item["id"])


def resolve_ids(
    celonis_conn_id: str,
    hook_params: dict[str, Any],
    *,
    where: str,
    pool: tuple[Any, Any],
    job: tuple[Any, Any] | None = None,
    model: tuple[Any, Any] | None = None,
    transformation_names: Any = None,
    extraction_names: Any = None,
    table_names: Any = None,
) -> dict[str, Any]:
    """The ids an operator works with, from its rendered ``(id, name)`` pairs and subset names.

    Run at the start of ``execute`` (never at parse time), before anything is started: exactly
    one of each pair must be given, and a name must match one object (:func:`pick`). Returns
    ``data_pool_id`` (and ``data_job_id``, ``data_model_id`` when asked), plus ``transformations``,
    ``extractions`` or ``tables`` when names were given for them. Without any name, no call is
    made: ids are used as given.
    """
    pairs = {"data_pool": pool, "data_job": job, "data_model": model}
    for kind, pair in pairs.items():
        if pair is not None:
            check_id_or_name(f"{kind}_id", pair[0], f"{kind}_name", pair[1], where=where)
    names = {kind: one_name(f"{kind}_name", p[1]) for kind, p in pairs.items() if p is not None}
    transformations = name_list(transformation_names, "transformation_names")
    extractions = name_list(extraction_names, "extraction_names", with_tables=True)
    tables = name_list(table_names, "table_names")
    if not any(names.values()) and transformations is None and extractions is None and tables is None:
        return {f"{k}_id": chosen(p[0]) for k, p in pairs.items() if p is not None}
    hook = CelonisDataPoolHook.for_operator(celonis_conn_id, hook_params)
    pool_id = chosen(pool[0]) or hook.resolve_pool(str(names["data_pool"]))
    found: dict[str, Any] = {"data_pool_id": pool_id}
    if job is not None:
        job_id = chosen(job[0]) or hook.resolve_job(pool_id, str(names["data_job"]))
        found["data_job_id"] = job_id
        if transformations is not None:
            found["transformations"] = hook.resolve_tasks(
                pool_id, job_id, transformations, "TRANSFORMATION", "transformation_names"
            )
        if extractions is not None:
            found["extractions"] = _extractions(hook, pool_id, job_id, extractions)
    if model is not None:
        model_id = chosen(model[0]) or hook.resolve_data_model(pool_id, str(names["data_model"]))
        found["data_model_id"] = model_id
        if tables is not None:
            found["tables"] = hook.resolve_tables(pool_id, model_id, tables, "table_names")
    return found


def _extractions(hook: CelonisDataPoolHook, pool_id: str, job_id: str, items: list[Any]) -> list[Any]:
    """``extraction_names`` items (a name, or ``{"name", "tables"}``) as ``extractions`` items."""
    names = [i["name"] if isinstance(i, dict) else i for i in items]
    ids = hook.resolve_tasks(pool_id, job_id, names, "EXTRACTION", "extraction_names")
    return [
        {"extractionId": id_, "tables": item["tables"]} if isinstance(item, dict) else id_
        for id_, item in zip(ids, items, strict=True)
    ]


def _of_type(tasks: list[dict[str, Any]], task_type: str | None) -> list[dict[str, Any]]:
    if task_type is None:
        return tasks
    if task_type not in TASK_TYPES:
        raise CelonisConfigurationError(
            "task_type", f"is {task_type!r}", f"use one of {', '.join(TASK_TYPES)}"
        )
    return [t for t in tasks if str(t["taskType"]).upper() == task_type]


__all__ = ["CelonisDataPoolHook", "PoolPages", "PoolReads", "checked_list", "resolve_ids"]
