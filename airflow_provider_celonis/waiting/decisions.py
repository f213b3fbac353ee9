"""One poll's verdict: given what Celonis answered, is the wait over, and how did it end?

Pure functions of (snapshot, wait, now), shared by the sync operator loop, the sensors and
the async triggers, so "which execution is ours", "unknown status fails closed" and
"deadline passed" are decided in exactly one place. ``None`` means "keep polling".

**Identity by ids, never by dates.** Before an operator starts a run it records the ids of
every execution (data job) or load (data model) that already exists (``known_ids``). Its own
run is an id that was not there before, whatever its dates say: a run cancelled while queued
has no ``startDate``, Celonis's clock is not Airflow's, and a run queued ahead of ours may
start after it. When more than one unknown id could be ours, the verdict fails closed and
names them. Only the sensors, which wait for a run someone else started, compare dates
(the user's ``started_after``).

The waits themselves (typed, validated on resume) are in :mod:`airflow_provider_celonis.waiting.waits`;
the Data Push job's wait and verdict in :mod:`airflow_provider_celonis.waiting.push_wait`.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.waiting.push_wait import PushWait, judge_push  # importable from here too
from airflow_provider_celonis.waiting.status import (
    ERROR,
    SKIPPED,
    SUCCESS,
    TIMEOUT,
    DataJobExecutionStatus,
    DataModelLoadStatus,
    deadline_passed,
    event,
)
from airflow_provider_celonis.waiting.waits import (
    BLOCKER,
    OWN,
    WATCH,
    JobWait,
    LoadWait,
    current_load,
    execution_id_of,
    in_progress,
    job_items,
    load_ids,
    load_in_progress,
    run_time,
    scheduled,
)

__all__ = [
    "BLOCKER",
    "OWN",
    "WATCH",
    "JobWait",
    "LoadWait",
    "PushWait",
    "current_load",
    "execution_id_of",
    "in_progress",
    "job_items",
    "judge_job",
    "judge_load",
    "judge_push",
    "load_ids",
    "load_in_progress",
    "scheduled",
]


def latest(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest run by :func:`~airflow_provider_celonis.waiting.waits.run_time`; one with no date at all
    (QUEUED) counts as latest."""
    if not items:
        return None
    return max(items, key=lambda i: (run_time(i) is None, run_time(i) or 0))


# -- data jobs ---------------------------------------------------------------------------------
def job_candidates(items: list[dict[str, Any]], wait: JobWait) -> list[dict[str, Any]]:
    """The job-level items that may be the awaited run (see :class:`JobWait`'s roles)."""
    jobs = job_items(items)
    if wait.role == WATCH:
        bound = wait.started_after_ms
        return [
            i
            for i in jobs
            if bound is None or (run_time(i) is None and in_progress(i)) or (run_time(i) or 0) >= bound
        ]
    if wait.execution_id is not None:
        return [i for i in jobs if execution_id_of(i) == wait.execution_id]
    return [i for i in jobs if execution_id_of(i) not in wait.known_ids and not scheduled(i)]


def why_not_ours(item: dict[str, Any], wait: JobWait) -> str | None:
    """Why an execution seen in the history is not the awaited one (None: it may be)."""
    execution_id = execution_id_of(item)
    if wait.role == WATCH:
        if wait.started_after_ms is None or item in job_candidates([item], wait):
            return None
        if run_time(item) is None:
            return "it has neither a start nor an end date, so it cannot be placed after started_after"
        return f"its time {run_time(item)} (epoch ms) is before started_after {wait.started_after_ms}"
    if wait.execution_id is not None:
        return None if execution_id == wait.execution_id else f"the awaited execution is {wait.execution_id}"
    if execution_id in wait.known_ids:
        return "it existed before this task started its run"
    if scheduled(item):
        return f"a Celonis schedule started it (schedulingId {item.get('schedulingId')})"
    return None


def log_job_items(log: Any, items: list[dict[str, Any]], wait: JobWait, seen: dict[str, str]) -> None:
    """Log each execution seen, once per status, and why it is (or is not) the awaited one."""
    if wait.role == BLOCKER:
        return
    for item in job_items(items):
        execution_id, status = str(execution_id_of(item)), str(item.get("status"))
        if seen.get(execution_id) == status:
            continue
        seen[execution_id] = status
        reason = why_not_ours(item, wait)
        verdict = "accepted" if reason is None else f"not the awaited run: {reason}"
        log.info("Execution %s (%s, started %s): %s.", execution_id, status, item.get("startDate"), verdict)


def pin_execution(items: list[dict[str, Any]], wait: JobWait) -> JobWait:
    """The wait with its execution id fixed once exactly one new execution shows.

    Pinned, later polls follow that id only: a run started after ours (a schedule, another
    DAG, queued behind ours) is never followed instead of it.
    """
    if wait.role != OWN or wait.execution_id is not None:
        return wait
    found = job_candidates(items, wait)
    if len(found) != 1:
        return wait
    return JobWait.from_json({**wait.to_json(), "execution_id": execution_id_of(found[0])})


def window_closed(wait: JobWait, now: float | None = None) -> bool:
    """True once a run first listed now cannot be the task's: the start grace has passed (or the
    run was identified otherwise: adopted after a lost answer, or reused)."""
    return wait.appear_deadline is None or deadline_passed(wait.appear_deadline, now)


def judge_job(items: list[dict[str, Any]], wait: JobWait, now: float | None = None) -> dict[str, Any] | None:
    """Verdict on one snapshot of a job's execution history (None: keep polling)."""
    ids: dict[str, Any] = {"data_pool_id": wait.data_pool_id, "data_job_id": wait.data_job_id}
    if wait.role == BLOCKER:
        live = [execution_id_of(i) for i in job_items(items) if in_progress(i)]
        if not live:
            return event(
                SUCCESS, "no execution of the job is in progress", role=BLOCKER, deadline=wait.deadline, **ids
            )
        if deadline_passed(wait.deadline, now):
            return event(
                TIMEOUT,
                f"the timeout passed while waiting for execution(s) {', '.join(map(str, live))} to end",
                role=BLOCKER,
                execution_id=None,
                **ids,
            )
        return None
    found = job_candidates(items, wait)
    if wait.role == OWN and wait.execution_id is not None and not window_closed(wait, now):
        # Pinned, but the start is recent: another new run listed now may have been created
        # before ours (and ours is the one listed second). Only after the grace are later runs
        # provably not ours ([guess]: Celonis lists a run within start_grace_period).
        unpinned = JobWait.from_json({**wait.to_json(), "execution_id": None})
        found = found + [
            i for i in job_candidates(items, unpinned) if execution_id_of(i) != wait.execution_id
        ]
    if wait.role == OWN and len(found) > 1:
        candidates = sorted(str(execution_id_of(i)) for i in found)
        return event(
            ERROR,
            "cannot prove which execution is this task's: executions "
            f"{', '.join(candidates)} all appeared after it recorded the history and none was "
            "started by a schedule (failing closed; none of them is reported as this task's)",
            execution_id=None,
            execution_status=None,
            candidates=candidates,
            **ids,
        )
    item = latest(found) if wait.role == WATCH else (found[0] if found else None)
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
                "the execute call (it still lists only executions that existed before); raise "
                "start_grace_period if Celonis is slow to register runs",
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


# -- data model loads ----------------------------------------------------------------------------
def is_awaited_load(load: dict[str, Any] | None, wait: LoadWait) -> bool:
    if load is None:
        return False
    load_id = None if load.get("dataLoadId") is None else str(load.get("dataLoadId"))
    if wait.data_load_id is not None:
        return load_id == wait.data_load_id
    if wait.role == WATCH:
        return wait.started_after_ms is None or (run_time(load) or 0) >= wait.started_after_ms
    return load_id is not None and load_id not in wait.known_ids  # a load without an id proves nothing


def pin_load(load_info: dict[str, Any] | None, wait: LoadWait) -> LoadWait:
    """The wait with ``data_load_id`` fixed once our new load shows (see :func:`pin_execution`)."""
    load = current_load(load_info)
    if wait.role != OWN or wait.data_load_id is not None or not is_awaited_load(load, wait):
        return wait
    return LoadWait.from_json({**wait.to_json(), "data_load_id": str(load["dataLoadId"])})  # type: ignore[index]


def judge_load(
    load_info: dict[str, Any] | None, wait: LoadWait, now: float | None = None
) -> dict[str, Any] | None:
    """Verdict on one ``load-info-sync`` answer (None: keep polling)."""
    ids: dict[str, Any] = {"data_pool_id": wait.data_pool_id, "data_model_id": wait.data_model_id}
    load = current_load(load_info)
    if wait.role == BLOCKER:
        if not load_in_progress(load):
            return event(
                SUCCESS,
                "no load of the data model is in progress",
                role=BLOCKER,
                deadline=wait.deadline,
                **ids,
            )
        if deadline_passed(wait.deadline, now):
            return event(
                TIMEOUT,
                f"the timeout passed while waiting for load {load.get('dataLoadId')} to end",  # type: ignore[union-attr]
                role=BLOCKER,
                **ids,
            )
        return None
    if (
        wait.role == OWN
        and wait.appear_deadline is not None
        and not deadline_passed(wait.appear_deadline, now)
    ):
        new = [i for i in load_ids(load_info) if i not in wait.known_ids]
        if len(new) > 1:  # as for jobs: within the grace, two new loads cannot be told apart
            return event(
                ERROR,
                f"cannot prove which load is this task's: loads {', '.join(sorted(new))} all appeared "
                "after it recorded the load history (failing closed)",
                candidates=sorted(new),
                **ids,
            )
    if wait.data_load_id is not None and load is not None and not is_awaited_load(load, wait):
        # load-info-sync shows only the current load: the awaited one was replaced, its end unseen.
        return event(
            ERROR,
            f"the awaited load {wait.data_load_id} was replaced by load {load.get('dataLoadId')} "
            "before its end was seen; its outcome is unknown (failing closed)",
            data_load_id=wait.data_load_id,
            **ids,
        )
    if not is_awaited_load(load, wait):
        if deadline_passed(wait.deadline, now):
            return event(TIMEOUT, "the timeout passed before the new load was visible in Celonis", **ids)
        if deadline_passed(wait.appear_deadline, now):
            return event(
                ERROR,
                "no new data model load appeared in load-info-sync after the load request "
                "(it still shows a load that existed before); raise start_grace_period if Celonis is slow",
                **ids,
            )
        return None
    assert load is not None
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
