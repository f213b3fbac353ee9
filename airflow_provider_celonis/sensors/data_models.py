"""``CelonisDataModelLoadSensor``: wait for a data model load someone else started.

For loads started by a data job, a Celonis schedule or another task: succeeds when the
current load started at or after ``started_after`` has finished with SUCCESS or WARNING.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.client.timestamps import to_epoch_ms
from airflow_provider_celonis.links import CelonisDataModelLink
from airflow_provider_celonis.sensors._base import CelonisWaitSensor
from airflow_provider_celonis.waiting.decisions import (
    WATCH,
    LoadWait,
    current_load,
    is_awaited_load,
    judge_load,
)
from airflow_provider_celonis.waiting.outcomes import finish_load

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook


class CelonisDataModelLoadSensor(CelonisWaitSensor):
    """Succeed when the data model's current load, started at/after ``started_after``, has finished.

    Import: ``from airflow_provider_celonis.sensors.data_models import CelonisDataModelLoadSensor``.
    ``poll_interval`` is an alias of ``poke_interval``, as on the operators.

    :param data_pool_id: the pool. Templated.
    :param data_model_id: the data model. Templated.
    :param data_pool_name: the pool's name instead of ``data_pool_id`` (exactly one of the two),
        resolved when the sensor runs (docs/data-jobs.md, "Names instead of ids"). Templated.
    :param data_model_name: the model's name instead of ``data_model_id``. Templated.
    :param started_after: lower bound for the load's start (datetime, ISO string or epoch
        seconds); ``None`` accepts the current load, whenever it started. Templated.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param celonis_conn_id: the Celonis connection.
    :param hook_params: extra :class:`CelonisDataModelHook` arguments.

    ERROR, CANCELED and unknown statuses raise CelonisJobFailedError with Celonis's message.
    With ``soft_fail`` any failure skips, in both modes. Returns the load id, in both modes.
    """

    template_fields: Sequence[str] = (
        "data_pool_id",
        "data_model_id",
        "started_after",
        "data_pool_name",
        "data_model_name",
    )
    name_pairs = ("data_pool", "data_model")
    operator_extra_links = (CelonisDataModelLink(),)
    ui_color = "#e8f5e9"

    def __init__(
        self, *, data_model_id: str | None = None, data_model_name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.data_model_id, self.data_model_name = data_model_id or "", data_model_name
        self.check_names()  # exactly one of id and name; a template counts as given
        self._seen: tuple[Any, Any] | None = None

    @cached_property
    def hook(self) -> CelonisDataModelHook:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook

        return CelonisDataModelHook(self.celonis_conn_id, **self.hook_params)

    def object_url(self) -> str:
        return self.hook.data_model_url(self.data_pool_id, self.data_model_id)

    def describe(self) -> str:
        return f"Data model {self.data_model_id} in pool {self.data_pool_id}"

    def make_wait(self, deadline: float | None = None) -> LoadWait:
        return LoadWait(
            self.data_pool_id,
            self.data_model_id,
            role=WATCH,
            started_after_ms=to_epoch_ms(self.started_after),
            deadline=deadline,
        )

    def make_trigger(self, wait: dict[str, Any], poll_interval: float) -> BaseTrigger:
        # Lazy: DAG parsing must not import the trigger module (and its hook).
        from airflow_provider_celonis.triggers.data_models import CelonisDataModelLoadTrigger

        return CelonisDataModelLoadTrigger(
            wait=wait,
            poll_interval=poll_interval,
            celonis_conn_id=self.celonis_conn_id,
            hook_params=self.hook_params,
        )

    def read(self) -> Any:
        return self.hook.get_load_info(self.data_pool_id, self.data_model_id)

    def judge(self, snapshot: Any) -> dict[str, Any] | None:
        wait, load = self.make_wait(), current_load(snapshot)
        if load is not None and self._seen != (load.get("dataLoadId"), load.get("loadStatus")):
            self._seen = (load.get("dataLoadId"), load.get("loadStatus"))
            verdict = (
                "accepted"
                if is_awaited_load(load, wait)
                else "not the awaited load: it started before started_after"
            )
            self.log.info(
                "Load %s (%s, started %s): %s.",
                load.get("dataLoadId"),
                load.get("loadStatus"),
                load.get("startDate"),
                verdict,
            )
        return judge_load(snapshot, wait)

    def finish(self, verdict: dict[str, Any]) -> str | None:
        return finish_load(verdict)
