"""``CelonisDataJobSensor``: wait for a data job execution someone else started.

For jobs started by a Celonis schedule or by another task. It never starts or cancels
anything. "Which execution": the newest one that started at or after ``started_after``
(typically ``{{ data_interval_end }}``); an older execution, however fresh its status, never
satisfies the sensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_celonis.links import CelonisDataJobLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_celonis.decisions import JobWait
    from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook


def _seconds(value: timedelta | float | None) -> float | None:
    return value.total_seconds() if isinstance(value, timedelta) else value


class CelonisDataJobSensor(BaseSensorOperator):
    """Succeed when the newest execution started at/after ``started_after`` has finished successfully.

    :param data_pool_id: the pool. Templated.
    :param data_job_id: the job. Templated.
    :param started_after: lower bound for the execution's start (datetime, ISO 8601 string or
        epoch seconds); ``None`` accepts any execution. Templated.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param poke_interval: seconds between polls (both modes).
    :param timeout: the sensor's ``timeout`` (seconds or timedelta), a wall-clock deadline in
        deferrable mode too.
    :param celonis_conn_id: the Celonis connection.
    :param hook_params: extra :class:`CelonisDataJobHook` arguments.

    FAIL, CANCEL and unknown statuses raise CelonisJobFailedError (with Celonis's ERROR
    lines); SKIPPED skips the task. With ``soft_fail`` any failure skips, in both modes.
    Returns (XCom ``return_value``) the execution id, in both modes.
    """

    template_fields: Sequence[str] = ("data_pool_id", "data_job_id", "started_after")
    operator_extra_links = (CelonisDataJobLink(),)
    ui_color = "#e3f2fd"

    def __init__(
        self,
        *,
        data_pool_id: str,
        data_job_id: str,
        started_after: datetime | str | float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_pool_id = data_pool_id
        self.data_job_id = data_job_id
        self.started_after = started_after
        self.deferrable = deferrable
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.celonis_url: str | None = None

    @cached_property
    def hook(self) -> CelonisDataJobHook:
        from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

        return CelonisDataJobHook(self.celonis_conn_id, **self.hook_params)

    def _wait(self, deadline: float | None = None) -> JobWait:
        from airflow_provider_celonis.decisions import JobWait
        from airflow_provider_celonis.status import RunMarker, to_epoch_ms

        started_after = self.started_after
        if isinstance(started_after, timedelta):  # pragma: no cover - defensive: a timedelta is not a time
            raise TypeError("started_after must be a point in time, not a timedelta")
        return JobWait(
            self.data_pool_id,
            self.data_job_id,
            RunMarker(started_after_ms=to_epoch_ms(started_after)),
            deadline=deadline,
            newest=True,  # the newest execution since started_after, as documented
        )

    def execute(self, context: Context) -> Any:
        self.celonis_url = self.hook.job_url(self.data_pool_id, self.data_job_id)
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_celonis.status import deadline_after
        from airflow_provider_celonis.triggers.data_jobs import CelonisDataJobExecutionTrigger

        timeout = _seconds(self.timeout)
        trigger = CelonisDataJobExecutionTrigger(
            wait=self._wait(deadline_after(timeout)).to_dict(),
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
        from airflow_provider_celonis.decisions import judge_job
        from airflow_provider_celonis.outcomes import finish_job
        from airflow_provider_celonis.sync_poll import TRANSIENT_ERRORS

        try:
            items = self.hook.list_executions(self.data_pool_id, self.data_job_id)
        except TRANSIENT_ERRORS as err:  # a blip is not a verdict: poke again
            self.log.warning("Could not read the job's executions (%s); poking again.", err)
            return False
        verdict = judge_job(items, self._wait())
        if verdict is None:
            return False
        return PokeReturnValue(True, xcom_value=finish_job(verdict, self.hook))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str | None:
        from airflow.sdk.exceptions import AirflowSensorTimeout

        from airflow_provider_celonis.outcomes import check_event, finish_job
        from airflow_provider_celonis.status import TIMEOUT

        self.celonis_url = self.hook.job_url(self.data_pool_id, self.data_job_id)
        if check_event(event)["status"] == TIMEOUT:
            raise AirflowSensorTimeout(
                f"Data job {self.data_job_id} in pool {self.data_pool_id}: {event['message']}."
            )
        return finish_job(event, self.hook)
