"""Process Data Model API: reload a data model and read its load status.

Same shape as :mod:`~airflow_provider_celonis.hooks.data_jobs`: each endpoint is one
:class:`~airflow_provider_celonis.client.calls.Call`, sent by ``call`` or its async twin
``acall``. Loads have no cancel endpoint (docs/celonis-api.md), so a timed-out wait only
fails the task; the load itself keeps running in Celonis.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.client.apis import DATA_MODELS
from airflow_provider_celonis.client.calls import Call, segment, unexpected_answer
from airflow_provider_celonis.exceptions import CelonisApiError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook
from airflow_provider_celonis.hooks.data_jobs import explain_internal

DATA_MODEL_UI_PATH = "/integration/ui/pools/{pool_id}/data-models/{data_model_id}"
"""[guess] Where the Celonis UI shows a data model; Celonis does not document it."""


class CelonisDataModelHook(CelonisOAuthHook):
    """Process Data Model API (scope ``integration.data-pools``; Edit permission on the pool)."""

    # -- request descriptions --------------------------------------------------------------
    @staticmethod
    def load_call(
        pool_id: str, data_model_id: str, *, full_reload: bool = True, tables: list[str] | None = None
    ) -> Call:
        """Complete reload, reload from cache (``full_reload=False``) or partial reload of ``tables``."""
        base = "/api/v1/data-pools/{pool_id}/data-models/{data_model_id}/load"
        ids = {"pool_id": pool_id, "data_model_id": data_model_id}
        if tables:
            params = {"fullReload": str(full_reload).lower()}
            return Call(
                DATA_MODELS, "POST", f"{base}/partial-sync", ids, {"json": list(tables), "params": params}
            )
        return Call(
            DATA_MODELS, "POST", base, ids, {"params": {} if full_reload else {"fullReload": "false"}}
        )

    @staticmethod
    def load_info_call(pool_id: str, data_model_id: str) -> Call:
        path = "/api/pools/{pool_id}/data-models/{data_model_id}/load-history/load-info-sync"
        return Call(DATA_MODELS, "GET", path, {"pool_id": pool_id, "data_model_id": data_model_id})

    def explain(self, err: CelonisApiError, call: Call) -> CelonisApiError:
        return explain_internal(err, call)

    # -- API -------------------------------------------------------------------------------
    def start_load(
        self, pool_id: str, data_model_id: str, *, full_reload: bool = True, tables: list[str] | None = None
    ) -> Any:
        """Trigger a load; the answer body is undocumented, so callers must not depend on it."""
        return self.call(self.load_call(pool_id, data_model_id, full_reload=full_reload, tables=tables))

    async def astart_load(
        self, pool_id: str, data_model_id: str, *, full_reload: bool = True, tables: list[str] | None = None
    ) -> Any:
        return await self.acall(
            self.load_call(pool_id, data_model_id, full_reload=full_reload, tables=tables)
        )

    def get_load_info(self, pool_id: str, data_model_id: str) -> dict[str, Any]:
        """The internal ``load-info-sync`` answer (no public endpoint gives a load's id and status);
        ``loadInfo.currentComputeLoad`` is null before the first load. An answer without its
        ``loadInfo`` object is a :class:`CelonisUnexpectedResponseError`: read as "never
        loaded", it would make a previous load look new."""
        call = self.load_info_call(pool_id, data_model_id)
        return checked_load_info(call, self.call(call))

    async def aget_load_info(self, pool_id: str, data_model_id: str) -> dict[str, Any]:
        call = self.load_info_call(pool_id, data_model_id)
        return checked_load_info(call, await self.acall(call))

    def data_model_url(self, pool_id: str, data_model_id: str) -> str:
        base = self.get_config().base_url.rstrip("/")
        ids = {"pool_id": pool_id, "data_model_id": data_model_id}
        return base + DATA_MODEL_UI_PATH.format(**{name: segment(name, v) for name, v in ids.items()})


def checked_load_info(call: Call, answer: Any) -> dict[str, Any]:
    info = answer.get("loadInfo") if isinstance(answer, dict) else None
    history = answer.get("loadHistory") if isinstance(answer, dict) else None
    if isinstance(info, dict) and (history is None or isinstance(history, dict)):
        return answer
    raise unexpected_answer(
        "Process Data Model API",
        "GET",
        call.path,
        "without its loadInfo object",
        answer,
        "The provider cannot tell which loads exist",
    )
