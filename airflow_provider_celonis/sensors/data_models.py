"""``CelonisDataModelLoadSensor``: wait for a data model load someone else started.

For loads started by a data job, a Celonis schedule or another task: succeeds when the
current load started at or after ``started_after`` has finished with SUCCESS or WARNING.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_celonis.links import CelonisDataModelLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_celonis.decisions import LoadWait
    from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook


def _seconds(value: timedelta | float | None) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value


class CelonisDataModelLoadSensor(BaseSensorOperator):
    """Succeed when the data model's current load, started at/after ``started_after``, has finished.

    :param data_pool_id: the pool. Templated.
    :param data_model_id: the data model. Templated.
    :param started_after: lower bound for the load's start (datetime, ISO string or epoch
        seconds); ``None`` accepts the current load, whenever it started. Templated.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param celonis_conn_id: the Celonis connection.
    :param hook_params: extra :class:`CelonisDataModelHook` arguments.

    ERROR, CANCELED and unknown statuses raise CelonisJobFailedError with Celonis's message.
    """

    template_fields: Sequence[str] = ("data_pool_id", "data_model_id", "started_after")
    operator_extra_links = (CelonisDataModelLink(),)
    ui_color = "#e8f5e9"

    def __init__(
        self,
        *,
        data_pool_id: str,
        data_model_id: str,
        started_after: datetime | str | float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_pool_id = data_pool_id
        self.data_model_id = data_model_id
        self.started_after = started_after
        self.deferrable = deferrable
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.celonis_url: str | None = None

    @cached_property
    def hook(self) -> CelonisDataModelHook:
        from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook

        return CelonisDataModelHook(self.celonis_conn_id, **self.hook_params)

    def _wait(self, deadline: float | None = None) -> LoadWait:
        from airflow_provider_celonis.decisions import LoadWait
        from airflow_provider_celonis.status import RunMarker, to_epoch_ms

        return LoadWait(
            self.data_pool_id,
            self.data_model_id,
            RunMarker(started_after_ms=to_epoch_ms(self.started_after)),
            deadline=deadline,
        )

    def execute(self, context: Context) -> Any:
        self.celonis_url = self.hook.data_model_url(self.data_pool_id, self.data_model_id)
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_celonis.status import deadline_after
        from airflow_provider_celonis.triggers.data_models import CelonisDataModelLoadTrigger

        trigger = CelonisDataModelLoadTrigger(
            wait=self._wait(deadline_after(_seconds(self.timeout))).to_dict(),
            poll_interval=float(_seconds(self.poke_interval) or 30.0),
            celonis_conn_id=self.celonis_conn_id,
            hook_params=self.hook_params,
        )
        self.defer(trigger=trigger, method_name="execute_complete")

    def poke(self, context: Context) -> PokeReturnValue | bool:
        """One poll; done returns ``PokeReturnValue(True, xcom_value=<id>)``, like the deferrable path.

        A failure (failed run, 403, ...) under ``soft_fail`` skips, as it does when deferred
        (Airflow's ``resume_execution`` skips on any AirflowException with ``soft_fail``).
        """
        from airflow.sdk.exceptions import AirflowSkipException

        from airflow_provider_celonis.exceptions import CelonisError

        try:
            return self._poke_once()
        except CelonisError as err:
            if self.soft_fail:
                raise AirflowSkipException(f"Skipping due to soft_fail: {err}") from err
            raise

    def _poke_once(self) -> PokeReturnValue | bool:
        from airflow_provider_celonis.decisions import judge_load
        from airflow_provider_celonis.outcomes import finish_load
        from airflow_provider_celonis.sync_poll import TRANSIENT_ERRORS

        try:
            info = self.hook.get_load_info(self.data_pool_id, self.data_model_id)
        except TRANSIENT_ERRORS as err:
            self.log.warning("Could not read the data model's load info (%s); poking again.", err)
            return False
        verdict = judge_load(info, self._wait())
        if verdict is None:
            return False
        return PokeReturnValue(True, xcom_value=finish_load(verdict))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str | None:
        from airflow.sdk.exceptions import AirflowSensorTimeout

        from airflow_provider_celonis.outcomes import check_event, finish_load
        from airflow_provider_celonis.status import TIMEOUT

        self.celonis_url = self.hook.data_model_url(self.data_pool_id, self.data_model_id)
        if check_event(event)["status"] == TIMEOUT:
            raise AirflowSensorTimeout(
                f"Data model {self.data_model_id} in pool {self.data_pool_id}: {event['message']}."
            )
        return finish_load(event)
