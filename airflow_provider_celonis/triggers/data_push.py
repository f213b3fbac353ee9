"""Trigger that waits for one executed Data Push job to reach DONE, ERROR or CANCELED."""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.decisions import PushWait, judge_push
from airflow_provider_celonis.triggers.polling import CelonisPollingTrigger


class CelonisDataPushJobTrigger(CelonisPollingTrigger):
    """Poll ``GET .../data-push/{pool}/jobs/{id}`` until the job is finished or the deadline passes.

    Only GETs: the triggerer may run a trigger twice, so it never executes or deletes a job;
    on a ``timeout`` event the operator deletes the job itself.

    :param wait: :meth:`PushWait.to_dict` output: pool and job ids, the deadline, the grace
        deadline for leaving NEW, and the summary of what was pushed (no secrets).
    :param poll_interval: seconds between polls.
    :param celonis_conn_id: the connection; looked up by the trigger, never serialized.
    :param hook_params: non-secret hook arguments (retry bounds, ``timeout``, ``api_prefixes``).

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
    ) -> None:
        super().__init__(
            poll_interval=poll_interval, celonis_conn_id=celonis_conn_id, hook_params=hook_params
        )
        self.push_wait = PushWait.from_dict(wait)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "wait": self.push_wait.to_dict(),
                "poll_interval": self.poll_interval,
                "celonis_conn_id": self.celonis_conn_id,
                "hook_params": self.hook_params,
            },
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

    def make_hook(self) -> Any:
        from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook

        return CelonisDataPushHook(self.celonis_conn_id, **self.hook_params)

    async def poll(self, hook: Any) -> Any:
        return await hook.aget_job(self.push_wait.data_pool_id, self.push_wait.job_id)

    def judge(self, snapshot: Any) -> dict[str, Any] | None:
        return judge_push(snapshot, self.push_wait)
