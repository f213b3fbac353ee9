"""Trigger that waits for one data job execution to finish (used by operator and sensor)."""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook
from airflow_provider_celonis.triggers.polling import CelonisPollingTrigger
from airflow_provider_celonis.waiting.decisions import (
    OWN,
    JobWait,
    job_candidates,
    judge_job,
    log_job_items,
    pin_execution,
)
from airflow_provider_celonis.waiting.progress import Progress


class CelonisDataJobExecutionTrigger(CelonisPollingTrigger):
    """Poll a job's execution history until the awaited execution is finished or the deadline passes.

    :param wait: :meth:`JobWait.to_json` output (checked again by ``from_json``): pool and job
        ids, the role (the operator's own run, runs in progress that must end first, or a
        sensor's watch), the execution ids that existed before the start, the execution once
        identified, the deadline and the start grace deadline (epoch seconds).
    :param poll_interval: seconds between polls.
    :param celonis_conn_id: the connection; the trigger looks it up itself, so no secret or
        token is ever part of its serialized kwargs.
    :param hook_params: non-secret hook arguments (retry bounds, ``timeout``, ``api_prefixes``).
    :param cancel_on_kill: cancel the execution in :meth:`on_kill` (set by the operator that
        started or joined the run).

    Events: ``{"status": "success"|"skipped"|"error"|"timeout", "message", "data_pool_id",
    "data_job_id", "execution_id", "execution_status", "start_ms"}``.
    """

    def __init__(
        self,
        *,
        wait: dict[str, Any],
        poll_interval: float = 30.0,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        cancel_on_kill: bool = False,
    ) -> None:
        super().__init__(
            poll_interval=poll_interval, celonis_conn_id=celonis_conn_id, hook_params=hook_params
        )
        self.job_wait = JobWait.from_json(wait)
        self.cancel_on_kill = cancel_on_kill
        self._seen: dict[str, str] = {}
        self._progress = Progress(self.log)

    def extra_kwargs(self) -> dict[str, Any]:
        return {"wait": self.job_wait.to_json(), "cancel_on_kill": self.cancel_on_kill}

    async def on_kill(self) -> None:
        """A user killed the deferred task (mark failed, clear): cancel the execution the operator owns.

        The one POST a trigger sends, and only here: Airflow calls ``on_kill`` on an explicit
        user action, never on a triggerer restart or redistribution, and cancel is safe to
        repeat. The sensor, which owns nothing, leaves ``cancel_on_kill`` off. Never raises.
        """
        if not self.cancel_on_kill:
            return
        pool, job = self.job_wait.data_pool_id, self.job_wait.data_job_id
        # Bounded (few retries, KILL_TIMEOUT): the triggerer gives on_kill about 30 s in all.
        await self.run_kill_action(
            lambda hook: hook.acancel_execution(pool, job), f"cancel data job {job} in pool {pool}"
        )

    @property
    def deadline(self) -> float | None:
        return self.job_wait.deadline

    def ids(self) -> dict[str, Any]:
        return {
            "data_pool_id": self.job_wait.data_pool_id,
            "data_job_id": self.job_wait.data_job_id,
            "execution_id": self.job_wait.execution_id,
        }

    def make_hook(self, **overrides: Any) -> Any:
        return CelonisDataJobHook(self.celonis_conn_id, **{**self.hook_params, **overrides})

    async def poll(self, hook: Any) -> Any:
        return await hook.alist_executions(self.job_wait.data_pool_id, self.job_wait.data_job_id)

    def judge(self, snapshot: Any) -> dict[str, Any] | None:
        # Pin the first new execution seen, so a later run (queued behind ours) is never followed.
        self.job_wait = pin_execution(snapshot, self.job_wait)
        log_job_items(self.log, snapshot, self.job_wait, self._seen)
        if self.job_wait.role == OWN and self.job_wait.execution_id is not None:
            found = job_candidates(snapshot, self.job_wait)
            status = found[0].get("status") if found else "not listed"
            self._progress.note("Execution", self.job_wait.execution_id, status)
        return judge_job(snapshot, self.job_wait)
