"""One poll's verdict: given what Celonis answered, is the wait over, and how did it end?

Pure functions of (snapshot, wait spec, now), shared by the sync operator loop and the
async triggers, so "previous run's SUCCESS is not ours", "unknown status fails closed" and
"deadline passed" are decided in exactly one place. ``None`` means "keep polling".
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from airflow_provider_celonis.status import (
    ERROR,
    SKIPPED,
    SUCCESS,
    TIMEOUT,
    DataJobExecutionStatus,
    DataModelLoadStatus,
    RunMarker,
    belongs_to_new_run,
    deadline_passed,
    event,
    newest,
)


def execution_id_of(item: dict[str, Any]) -> str | None:
    """An execution item's execution id (``executionId``; ``id`` when Celonis leaves it out)."""
    value = item.get("executionId") or item.get("id")
    return None if value is None else str(value)


@dataclass(frozen=True)
class JobWait:
    """Everything needed to wait for one data job execution; JSON-serializable via ``asdict``."""

    data_pool_id: str
    data_job_id: str
    marker: RunMarker = field(default_factory=RunMarker)
    execution_id: str | None = None
    """Wait for exactly this execution (reused, or already identified)."""
    deadline: float | None = None
    """Epoch seconds; past it the wait ends with a ``timeout`` event."""
    appear_deadline: float | None = None
    """Epoch seconds; a new execution must show up by then (stale-status grace period)."""
    newest: bool = False
    """Sensors: follow the newest execution after the marker (an operator pins the oldest, its own)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobWait:
        return cls(**{**data, "marker": RunMarker(**data.get("marker") or {})})


def find_job_execution(items: list[dict[str, Any]], wait: JobWait) -> dict[str, Any] | None:
    """The execution item this wait is about, if Celonis shows it yet."""
    jobs = [i for i in items if str(i.get("type") or "JOB").upper() == "JOB"]
    if wait.execution_id is not None:
        return next((i for i in jobs if execution_id_of(i) == wait.execution_id), None)
    ours = [i for i in jobs if belongs_to_new_run(execution_id_of(i), i.get("startDate"), wait.marker)]
    return newest(ours) if wait.newest else oldest(ours)


def oldest(items: list[dict[str, Any]], start_key: str = "startDate") -> dict[str, Any] | None:
    """The oldest item: started ones by start date first, not-yet-started (QUEUED) ones last.

    Among the executions that appeared after the marker, ours is the first one: a run started
    later by someone else (a schedule, a second DAG) queues behind it, with no start date.
    """
    if not items:
        return None
    return min(items, key=lambda item: (item.get(start_key) is None, item.get(start_key) or 0))


def pin_execution(items: list[dict[str, Any]], wait: JobWait) -> JobWait:
    """The wait with its execution id fixed, once the first new execution shows in ``items``.

    Without pinning, every poll would pick again among the executions newer than the marker,
    and a second run started while ours is RUNNING would be followed instead of ours.
    """
    if wait.execution_id is not None or wait.newest:
        return wait
    item = find_job_execution(items, wait)
    execution_id = execution_id_of(item) if item is not None else None
    return wait if execution_id is None else replace(wait, execution_id=execution_id)


def judge_job(items: list[dict[str, Any]], wait: JobWait, now: float | None = None) -> dict[str, Any] | None:
    """Verdict on one snapshot of a job's execution history (None: keep polling)."""
    ids: dict[str, Any] = {"data_pool_id": wait.data_pool_id, "data_job_id": wait.data_job_id}
    item = find_job_execution(items, wait)
    if item is None:
        if deadline_passed(wait.deadline, now):
            return event(
                TIMEOUT,
                "the timeout passed before the execution was visible in Celonis",
                execution_id=wait.execution_id,
                **ids,
            )
        if deadline_passed(wait.appear_deadline, now):
            return event(
                ERROR,
                "no new execution of the job appeared in Celonis's execution history after "
                "the execute call (still showing the previous run); raise start_grace_period if "
                "Celonis is slow to register runs",
                execution_id=None,
                execution_status=None,
                **ids,
            )
        return None
    ids.update(
        execution_id=execution_id_of(item),
        execution_status=item.get("status"),
        start_ms=item.get("startDate"),
    )
    status = DataJobExecutionStatus.parse(item.get("status"))
    if status is None:
        return event(
            ERROR,
            f"Celonis reported the unknown execution status {item.get('status')!r}; "
            "treating it as a failure (fail closed)",
            **ids,
        )
    if status.in_progress:
        if deadline_passed(wait.deadline, now):
            return event(TIMEOUT, f"the timeout passed while the execution was {status.value}", **ids)
        return None
    if status.succeeded:
        return event(SUCCESS, "the data job execution succeeded", **ids)
    if status.skipped:
        return event(SKIPPED, "Celonis skipped the data job execution", **ids)
    verb = "was cancelled" if status is DataJobExecutionStatus.CANCEL else "failed"
    return event(ERROR, f"the data job execution {verb} (status {status.value})", **ids)


@dataclass(frozen=True)
class LoadWait:
    """Everything needed to wait for one data model load; JSON-serializable via ``asdict``."""

    data_pool_id: str
    data_model_id: str
    marker: RunMarker = field(default_factory=RunMarker)
    deadline: float | None = None
    appear_deadline: float | None = None
    data_load_id: str | None = None
    """Wait for exactly this load (a running one reused); None: the first new one."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoadWait:
        return cls(**{**data, "marker": RunMarker(**data.get("marker") or {})})


def current_load(load_info: dict[str, Any] | None) -> dict[str, Any] | None:
    """``loadInfo.currentComputeLoad`` of a ``load-info-sync`` answer (None before the first load)."""
    info = (load_info or {}).get("loadInfo") or {}
    load = info.get("currentComputeLoad")
    return load if isinstance(load, dict) else None


def judge_load(
    load_info: dict[str, Any] | None, wait: LoadWait, now: float | None = None
) -> dict[str, Any] | None:
    """Verdict on one ``load-info-sync`` answer (None: keep polling)."""
    ids: dict[str, Any] = {"data_pool_id": wait.data_pool_id, "data_model_id": wait.data_model_id}
    load = current_load(load_info)
    if (
        wait.data_load_id is not None
        and load is not None
        and str(load.get("dataLoadId")) != wait.data_load_id
    ):
        # load-info-sync shows only the current load: the awaited one was replaced, its end unseen.
        return event(
            ERROR,
            f"the awaited load {wait.data_load_id} was replaced by load {load.get('dataLoadId')} "
            "before its end was seen; its outcome is unknown (failing closed)",
            data_load_id=wait.data_load_id,
            **ids,
        )
    if load is None or not belongs_to_new_run(load.get("dataLoadId"), load.get("startDate"), wait.marker):
        if deadline_passed(wait.deadline, now):
            return event(TIMEOUT, "the timeout passed before the new load was visible in Celonis", **ids)
        if deadline_passed(wait.appear_deadline, now):
            return event(
                ERROR,
                "no new data model load appeared in load-info-sync after the load request "
                "(still showing the previous load); raise start_grace_period if Celonis is slow",
                **ids,
            )
        return None
    ids.update(
        data_load_id=load.get("dataLoadId"),
        load_status=load.get("loadStatus"),
        celonis_message=load.get("message"),
    )
    status = DataModelLoadStatus.parse(load.get("loadStatus"))
    if status is None:
        return event(
            ERROR,
            f"Celonis reported the unknown load status {load.get('loadStatus')!r}; "
            "treating it as a failure (fail closed)",
            **ids,
        )
    if status.in_progress:
        if deadline_passed(wait.deadline, now):
            return event(TIMEOUT, f"the timeout passed while the load was {status.value}", **ids)
        return None
    if status.succeeded:
        note = " with warnings" if status is DataModelLoadStatus.WARNING else ""
        return event(SUCCESS, f"the data model load succeeded{note}", **ids)
    return event(ERROR, f"the data model load ended with {status.value}", **ids)


# -- data push jobs (issue 5) -----------------------------------------------------------------
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PushWait:
        return cls(**data)


def push_logs(job: dict[str, Any] | None) -> list[str]:
    """The job's ``logs`` lines (Celonis's explanation of an ERROR), bounded for events and XCom."""
    lines = (job or {}).get("logs") or []
    if not isinstance(lines, list):
        lines = [lines]
    return [str(line)[:2000] for line in lines[:MAX_PUSH_LOG_LINES]]


def judge_push(job: dict[str, Any] | None, wait: PushWait, now: float | None = None) -> dict[str, Any] | None:
    """Verdict on one ``GET .../jobs/{id}`` answer (None: keep polling)."""
    from airflow_provider_celonis.status import DataPushJobStatus

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
