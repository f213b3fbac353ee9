"""Trigger that waits for a data model load to finish (used by the reload operator and the sensor)."""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook
from airflow_provider_celonis.triggers.polling import CelonisPollingTrigger
from airflow_provider_celonis.waiting.decisions import LoadWait, judge_load, pin_load


class CelonisDataModelLoadTrigger(CelonisPollingTrigger):
    """Poll ``load-info-sync`` until the awaited load (a new load id) is finished.

    :param wait: :meth:`LoadWait.to_json` output (ids, role, load ids that existed before the
        request, the load once identified, deadlines in epoch seconds).

    Events: ``{"status": "success"|"error"|"timeout", "message", "data_pool_id",
    "data_model_id", "data_load_id", "load_status", "celonis_message"}``.
    """

    def __init__(
        self,
        *,
        wait: dict[str, Any],
        poll_interval: float = 30.0,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            poll_interval=poll_interval, celonis_conn_id=celonis_conn_id, hook_params=hook_params
        )
        self.load_wait = LoadWait.from_json(wait)

    def extra_kwargs(self) -> dict[str, Any]:
        return {"wait": self.load_wait.to_json()}

    @property
    def deadline(self) -> float | None:
        return self.load_wait.deadline

    def ids(self) -> dict[str, Any]:
        return {"data_pool_id": self.load_wait.data_pool_id, "data_model_id": self.load_wait.data_model_id}

    def make_hook(self, **overrides: Any) -> Any:
        return CelonisDataModelHook(self.celonis_conn_id, **{**self.hook_params, **overrides})

    async def poll(self, hook: Any) -> Any:
        return await hook.aget_load_info(self.load_wait.data_pool_id, self.load_wait.data_model_id)

    def judge(self, snapshot: Any) -> dict[str, Any] | None:
        self.load_wait = pin_load(snapshot, self.load_wait)
        return judge_load(snapshot, self.load_wait)
