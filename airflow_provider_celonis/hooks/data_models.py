"""Process Data Model API: reload a data model and read its load status.

Same shape as :mod:`~airflow_provider_celonis.hooks.data_jobs`: each endpoint is one
:class:`~airflow_provider_celonis.hooks.data_jobs.Call`, sent by a sync method or its async
twin. Loads have no cancel endpoint (docs/celonis-api.md), so a timed-out wait only
fails the task; the load itself keeps running in Celonis.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_celonis.client.apis import DATA_MODELS
from airflow_provider_celonis.exceptions import (
    CelonisNotFoundError,
    CelonisPermissionError,
    CelonisUnexpectedResponseError,
    response_excerpt,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook
from airflow_provider_celonis.hooks.data_jobs import Call, decoded, explain_internal

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
        base = f"/api/v1/data-pools/{pool_id}/data-models/{data_model_id}/load"
        if tables:
            return Call(
                "POST",
                f"{base}/partial-sync",
                {"json": list(tables), "params": {"fullReload": str(full_reload).lower()}},
            )
        return Call("POST", base, {"params": {} if full_reload else {"fullReload": "false"}})

    @staticmethod
    def load_info_call(pool_id: str, data_model_id: str) -> Call:
        return Call("GET", f"/api/pools/{pool_id}/data-models/{data_model_id}/load-history/load-info-sync")

    def call(self, call: Call) -> Any:
        try:
            with self.request(
                call.method, call.path, api=DATA_MODELS, idempotent=call.idempotent, **call.kwargs
            ) as response:
                return decoded(call, response.text, response.headers.get("content-type"))
        except (CelonisPermissionError, CelonisNotFoundError) as err:
            raise explain_internal(err, call) from err

    async def acall(self, call: Call) -> Any:
        try:
            response = await self.arequest(
                call.method, call.path, api=DATA_MODELS, idempotent=call.idempotent, **call.kwargs
            )
        except (CelonisPermissionError, CelonisNotFoundError) as err:
            raise explain_internal(err, call) from err
        return decoded(call, response.text, response.headers.get("content-type"))

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
        return base + DATA_MODEL_UI_PATH.format(pool_id=pool_id, data_model_id=data_model_id)


def checked_load_info(call: Call, answer: Any) -> dict[str, Any]:
    info = answer.get("loadInfo") if isinstance(answer, dict) else None
    history = answer.get("loadHistory") if isinstance(answer, dict) else None
    if isinstance(info, dict) and (history is None or isinstance(history, dict)):
        return answer
    excerpt = response_excerpt(json.dumps(answer, default=str))
    raise CelonisUnexpectedResponseError(
        f"Celonis answered GET {call.path} with 200 but without its loadInfo object; first bytes: "
        f"{excerpt!r}. The provider cannot tell which loads exist, so it stops (failing closed).",
        status=200,
        method="GET",
        path=call.path,
        content_type="application/json",
        excerpt=excerpt,
        fix="retry later; if it persists, the internal endpoint changed: report it",
    )
