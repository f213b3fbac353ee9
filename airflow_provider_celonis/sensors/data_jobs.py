"""``CelonisDataJobSensor``: wait for a data job execution someone else started.

For jobs started by a Celonis schedule or by another task. It never starts or cancels
anything. "Which execution": the latest one whose time (start, or end for a run cancelled
while queued, which has no start) is at or after ``started_after`` (typically
``{{ data_interval_end }}``); an older execution, however fresh its status, never satisfies
the sensor. Each execution seen is logged once per status with why it was accepted or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.client.timestamps import to_epoch_ms
from airflow_provider_celonis.links import CelonisDataJobLink
from airflow_provider_celonis.sensors._base import CelonisWaitSensor
from airflow_provider_celonis.waiting.decisions import WATCH, JobWait, judge_job, log_job_items
from airflow_provider_celonis.waiting.outcomes import check_on_skipped, finish_job

if TYPE_CHECKING:
    from airflow.triggers.base import BaseTrigger

    from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook


class CelonisDataJobSensor(CelonisWaitSensor):
    """Succeed when the latest execution since ``started_after`` has finished successfully.

    Import: ``from airflow_provider_celonis.sensors.data_jobs import CelonisDataJobSensor``.

    :param data_pool_id: the pool. Templated.
    :param data_job_id: the job. Templated.
    :param data_pool_name: the pool's name instead of ``data_pool_id`` (exactly one of the two),
        resolved when the sensor runs (docs/data-jobs.md, "Names instead of ids"). Templated.
    :param data_job_name: the job's name instead of ``data_job_id``. Templated.
    :param started_after: lower bound for the execution's start (datetime, ISO 8601 string or
        epoch seconds); ``None`` accepts any execution. Templated.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param poke_interval: seconds between polls (both modes); ``poll_interval`` is an alias,
        as on the operators.
    :param on_skipped: outcome of a job-level SKIPPED execution: ``"skip"`` (default),
        ``"success"`` or ``"fail"``.
    :param timeout: the sensor's ``timeout`` (seconds or timedelta), a wall-clock deadline in
        deferrable mode too.
    :param celonis_conn_id: the Celonis connection.
    :param hook_params: extra :class:`CelonisDataJobHook` arguments.

    FAIL, CANCEL and unknown statuses raise CelonisJobFailedError (with Celonis's ERROR
    lines); SKIPPED skips the task. With ``soft_fail`` any failure skips, in both modes.
    Returns (XCom ``return_value``) the execution id, in both modes.
    """

    template_fields: Sequence[str] = (
        "data_pool_id",
        "data_job_id",
        "started_after",
        "data_pool_name",
        "data_job_name",
    )
    name_pairs = ("data_pool", "data_job")
    operator_extra_links = (CelonisDataJobLink(),)
    ui_color = "#e3f2fd"

    def __init__(
        self,
        *,
        data_job_id: str | None = None,
        data_job_name: str | None = None,
        on_skipped: str = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_job_id, self.data_job_name = data_job_id or "", data_job_name
        self.check_names()  # exactly one of id and name; a template counts as given
        self.on_skipped = check_on_skipped(on_skipped)
        self._seen: dict[str, str] = {}

    @cached_property
    def hook(self) -> CelonisDataJobHook:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

        return CelonisDataJobHook(self.celonis_conn_id, **self.hook_params)

    def object_url(self) -> str:
        return self.hook.job_url(self.data_pool_id, self.data_job_id)

    def describe(self) -> str:
        return f"Data job {self.data_job_id} in pool {self.data_pool_id}"

    def make_wait(self, deadline: float | None = None) -> JobWait:
        if isinstance(self.started_after, timedelta):  # pragma: no cover - defensive
            raise TypeError("started_after must be a point in time, not a timedelta")
        return JobWait(
            self.data_pool_id,
            self.data_job_id,
            role=WATCH,  # the latest execution since started_after, as documented
            started_after_ms=to_epoch_ms(self.started_after),
            deadline=deadline,
        )

    def make_trigger(self, wait: dict[str, Any], poll_interval: float) -> BaseTrigger:
        # Lazy: DAG parsing must not import the trigger module (and its hook).
        from airflow_provider_celonis.triggers.data_jobs import CelonisDataJobExecutionTrigger

        return CelonisDataJobExecutionTrigger(
            wait=wait,
            poll_interval=poll_interval,
            celonis_conn_id=self.celonis_conn_id,
            hook_params=self.hook_params,
        )

    def read(self) -> Any:
        return self.hook.list_executions(self.data_pool_id, self.data_job_id)

    def judge(self, snapshot: Any) -> dict[str, Any] | None:
        wait = self.make_wait()
        log_job_items(self.log, snapshot, wait, self._seen)
        return judge_job(snapshot, wait)

    def finish(self, verdict: dict[str, Any]) -> str | None:
        return finish_job(verdict, self.hook, self.on_skipped)
