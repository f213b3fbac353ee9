"""Waiting for a Data Push job: the typed wait carried into the trigger, and one poll's verdict.

Pure, like :mod:`airflow_provider_celonis.waiting.decisions` (whose data job and data model
verdicts follow the same rules): the sync operator loop and the async trigger call the same
:func:`judge_push`. A push job is ours by its id (the operator created it), so there is no
identity question here; what can go wrong is a job that never leaves NEW (the execute call
did not take effect), an answer about another job, an unknown status, or a DONE whose logs
report errors.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from airflow_provider_celonis.waiting.status import (
    ERROR,
    SUCCESS,
    TIMEOUT,
    DataPushJobStatus,
    deadline_passed,
    event,
)

MAX_PUSH_LOG_LINES = 50
NOT_EXECUTED = "not_executed"
"""``reason`` of the error event of a push job still NEW after a lost execute answer."""
PUSH_ERROR_LINE = re.compile(r"(?i)(^\W*error\b|\berror:|\bfailed\b|\bexception\b)")
"""A ``logs`` line that reports a failure; a DONE job with one is not trusted (fail closed)."""


@dataclass(frozen=True)
class PushWait:
    """Everything needed to wait for one executed Data Push job; JSON-serializable via ``asdict``."""

    data_pool_id: str
    job_id: str
    deadline: float | None = None
    """Epoch seconds; past it the wait ends with a ``timeout`` event (the operator deletes the job)."""
    appear_deadline: float | None = None
    """Epoch seconds; the job must have left NEW by then, or the execute call did not take effect."""
    summary: dict[str, Any] = field(default_factory=dict)
    """What was pushed (chunks, bytes, rows): carried through the trigger into the result."""
    fail_on_error_logs: bool = True
    """A DONE whose ``logs`` hold an error line (:data:`PUSH_ERROR_LINE`) fails closed."""

    def __post_init__(self) -> None:
        # A trigger's kwargs come back from the metadata database: a wrong payload fails loudly.
        for name in ("data_pool_id", "job_id"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"PushWait.{name} must be a non-empty string")
        for name in ("deadline", "appear_deadline"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"PushWait.{name} must be epoch seconds or None")
        if not isinstance(self.summary, dict):
            raise ValueError("PushWait.summary must be a dict")
        if not isinstance(self.fail_on_error_logs, bool):
            raise ValueError("PushWait.fail_on_error_logs must be a bool")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PushWait:
        if not isinstance(data, dict):
            raise ValueError(f"PushWait: expected a dict, got {type(data).__name__}")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"PushWait: unknown fields {sorted(unknown)}")
        return cls(**data)


def push_logs(job: dict[str, Any] | None) -> list[str]:
    """The job's ``logs`` lines (Celonis's explanation of an ERROR), bounded for events and XCom."""
    lines = (job or {}).get("logs") or []
    if not isinstance(lines, list):
        lines = [lines]
    return [str(line)[:2000] for line in lines[:MAX_PUSH_LOG_LINES]]


def judge_push(job: dict[str, Any] | None, wait: PushWait, now: float | None = None) -> dict[str, Any] | None:
    """Verdict on one ``GET .../jobs/{id}`` answer (None: keep polling)."""
    raw = (job or {}).get("status")
    ids: dict[str, Any] = {
        "data_pool_id": wait.data_pool_id,
        "job_id": wait.job_id,
        "job_status": raw,
        "summary": wait.summary,
    }
    got = job.get("id") if isinstance(job, dict) else None
    if got is None or str(got) != wait.job_id:
        return event(
            ERROR,
            f"Celonis answered about push job {got!r} when asked for job {wait.job_id}, so the task "
            "cannot tell how its own job ended (fail closed)",
            **ids,
        )
    status = DataPushJobStatus.parse(raw)
    if status is None:
        return event(
            ERROR,
            f"Celonis reported the unknown push job status {raw!r}; treating it as a failure (fail closed)",
            logs=push_logs(job),
            **ids,
        )
    if status is DataPushJobStatus.NEW or status.in_progress:
        if deadline_passed(wait.deadline, now):
            return event(TIMEOUT, f"the timeout passed while the push job was {status.value}", **ids)
        if status is DataPushJobStatus.NEW and deadline_passed(wait.appear_deadline, now):
            return event(
                ERROR,
                "the push job is still NEW after the start grace period, so no execute call took "
                "effect (none is sent again from here, to never run a job twice)",
                logs=push_logs(job),
                reason=NOT_EXECUTED,
                **ids,
            )
        return None
    if status.succeeded:
        errors = [line for line in push_logs(job) if PUSH_ERROR_LINE.search(line)]
        errors = errors if wait.fail_on_error_logs else []
        if errors:
            return event(
                ERROR,
                "Celonis reported the push job DONE with error lines in its logs; not trusting that "
                "DONE (fail closed)",
                logs=errors,
                **ids,
            )
        return event(SUCCESS, "the push job finished (DONE)", **ids)
    verb = "was cancelled (CANCELED)" if status is DataPushJobStatus.CANCELED else "failed (ERROR)"
    return event(ERROR, f"the push job {verb}", logs=push_logs(job), **ids)
