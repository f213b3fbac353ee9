"""Trigger that waits for one executed Data Push job to reach DONE, ERROR or CANCELED."""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook
from airflow_provider_celonis.triggers.polling import CelonisPollingTrigger
from airflow_provider_celonis.waiting.push_wait import PushWait, judge_push


class CelonisDataPushJobTrigger(CelonisPollingTrigger):
    """Poll ``GET .../data-push/{pool}/jobs/{id}`` until the job is finished or the deadline passes.

    Only GETs while polling: the triggerer may run a trigger twice, so it never executes or
    deletes a job then; on a ``timeout`` event the operator deletes the job itself. The one
    exception is :meth:`on_kill` (Airflow >= 3.3.0 calls it only when a user kills the
    deferred task): with ``delete_on_kill`` it deletes the job the operator created.

    :param wait: :meth:`PushWait.to_dict` output: pool and job ids, the deadline, the grace
        deadline for leaving NEW, and the summary of what was pushed (no secrets).
    :param poll_interval: seconds between polls.
    :param celonis_conn_id: the connection; looked up by the trigger, never serialized.
    :param hook_params: non-secret hook arguments (retry bounds, ``timeout``, ``api_prefixes``).
    :param delete_on_kill: delete the job in :meth:`on_kill` (set by the operator that owns it).

    Events: ``{"status": "success"|"error"|"timeout", "message", "data_pool_id", "job_id",
    "job_status", "summary"[, "logs"]}``.
    """

    def __init__(
        self,
        *,
        wait: dict[str, Any],
        poll_interval: float = 30.0,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        delete_on_kill: bool = False,
    ) -> None:
        super().__init__(
            poll_interval=poll_interval, celonis_conn_id=celonis_conn_id, hook_params=hook_params
        )
        self.push_wait = PushWait.from_dict(wait)
        self.delete_on_kill = delete_on_kill

    def extra_kwargs(self) -> dict[str, Any]:
        return {"wait": self.push_wait.to_dict(), "delete_on_kill": self.delete_on_kill}

    async def on_kill(self) -> None:
        """A user killed the deferred task: delete the push job the operator owns; never raises.

        Bounded (few retries, ``KILL_TIMEOUT``) to finish within the triggerer's ``on_kill``
        time. Airflow calls it on a user's kill only, never on a triggerer restart.
        """
        if not self.delete_on_kill:
            return
        pool, job_id = self.push_wait.data_pool_id, self.push_wait.job_id
        await self.run_kill_action(
            lambda hook: hook.adelete_job(pool, job_id), f"delete push job {job_id} in pool {pool}"
        )

    @property
    def deadline(self) -> float | None:
        return self.push_wait.deadline

    def ids(self) -> dict[str, Any]:
        return {
            "data_pool_id": self.push_wait.data_pool_id,
            "job_id": self.push_wait.job_id,
            "job_status": None,
            "summary": self.push_wait.summary,
        }

    def make_hook(self, **overrides: Any) -> Any:
        return CelonisDataPushHook(self.celonis_conn_id, **{**self.hook_params, **overrides})

    async def poll(self, hook: Any) -> Any:
        return await hook.aget_job(self.push_wait.data_pool_id, self.push_wait.job_id)

    def judge(self, snapshot: Any) -> dict[str, Any] | None:
        return judge_push(snapshot, self.push_wait)
