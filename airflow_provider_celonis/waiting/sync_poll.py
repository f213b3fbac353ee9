"""The worker-side twin of :class:`~airflow_provider_celonis.triggers.polling.CelonisPollingTrigger`.

Same loop, same rules (transient errors do not fail the wait before its deadline; the
deadline is wall-clock epoch seconds; the verdict comes from the shared judge), blocking
with ``time.sleep`` because it runs in a worker (non-deferrable mode).

:func:`watch_job`, :func:`await_job_start` and :func:`watch_load` are the operators' waits
(non-deferrable): the loop plus what the worker does on each snapshot (pin the run, record
it in the run ledger once the start grace is over, report it, log progress).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_celonis.waiting.decisions import (
    job_candidates,
    judge_job,
    judge_load,
    pin_execution,
    pin_load,
    window_closed,
)
from airflow_provider_celonis.waiting.progress import Progress
from airflow_provider_celonis.waiting.run_ledger import RunLedger
from airflow_provider_celonis.waiting.status import (
    SUCCESS,
    TIMEOUT,
    bounded_pause,
    deadline_passed,
    error_pause,
    event,
    transient_errors,
)
from airflow_provider_celonis.waiting.waits import JobWait, LoadWait, execution_id_of

TRANSIENT_ERRORS = transient_errors()

log = logging.getLogger(__name__)


def poll_until_done(
    fetch: Callable[[], Any],
    judge: Callable[[Any], dict[str, Any] | None],
    *,
    poll_interval: float,
    deadline: float | None,
    ids: dict[str, Any],
    on_snapshot: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Call ``fetch`` every ``poll_interval`` seconds until ``judge`` returns an event."""
    failures = 0
    while True:
        try:
            snapshot = fetch()
        except TRANSIENT_ERRORS as err:
            failures += 1
            if deadline_passed(deadline):
                return event(TIMEOUT, f"the timeout passed while Celonis was unreachable ({err})", **ids)
            pause = error_pause(poll_interval, failures)
            log.warning("Celonis status poll failed (%s); polling again in %.1f s", err, pause)
            time.sleep(bounded_pause(pause, deadline))
            continue
        failures = 0
        if on_snapshot is not None:
            on_snapshot(snapshot)
        verdict = judge(snapshot)
        if verdict is not None:
            return verdict
        time.sleep(bounded_pause(poll_interval, deadline))


def watch_job(
    hook: Any,
    wait: JobWait,
    *,
    poll_interval: float,
    ledger: RunLedger | None,
    on_found: Callable[[str, Any], None],
    log: Any,
) -> dict[str, Any]:
    """Wait in the worker for this task's execution; ``on_found(id, start_ms)`` once per new id."""
    found_ids: set[str] = set()
    recorded: set[str] = set()  # the ids written to the run ledger
    progress = Progress(log)
    current = wait
    ids: dict[str, Any] = {
        "data_pool_id": wait.data_pool_id,
        "data_job_id": wait.data_job_id,
        "execution_id": wait.execution_id,
    }

    def note_execution(items: list[dict[str, Any]]) -> None:
        nonlocal current
        # Pin the first new execution seen: a run started later (queued behind ours by a
        # schedule or another DAG) must never be followed instead of ours.
        current = pin_execution(items, current)
        ids["execution_id"] = current.execution_id  # a timeout event then names it (cancel)
        # Into the run ledger only once the start grace is over: until then the pin is
        # tentative (a run created just before ours may be listed first), and a retry must
        # reconcile from the pending entry rather than adopt it.
        pin = current.execution_id
        if ledger is not None and pin and pin not in recorded and window_closed(current):
            recorded.add(pin)
            ledger.pinned(pin, current.known_ids)
        found = job_candidates(items, current) if current.execution_id else []
        for item in found:
            execution_id = str(execution_id_of(item))
            if execution_id not in found_ids:
                found_ids.add(execution_id)
                on_found(execution_id, item.get("startDate"))
                log.info("This task's execution is %s (a new id).", execution_id)
        progress.note(
            "Execution", current.execution_id, found[0].get("status") if found else "not listed yet"
        )

    return poll_until_done(
        lambda: hook.list_executions(wait.data_pool_id, wait.data_job_id),
        lambda items: judge_job(items, current),
        poll_interval=poll_interval,
        deadline=wait.deadline,
        ids=ids,
        on_snapshot=note_execution,
    )


def await_job_start(hook: Any, wait: JobWait, *, poll_interval: float) -> dict[str, Any]:
    """Fire-and-forget: poll until this task's execution is listed (a SUCCESS event naming it),
    or until no new execution appeared within the start grace or the timeout passed."""
    ids = {"data_pool_id": wait.data_pool_id, "data_job_id": wait.data_job_id}

    def judge(items: list[dict[str, Any]]) -> dict[str, Any] | None:
        pinned = pin_execution(items, wait)
        item = job_candidates(items, pinned)[0] if pinned.execution_id else None
        if item is not None:
            return event(
                SUCCESS,
                "the execution started",
                execution_id=execution_id_of(item),
                start_ms=item.get("startDate"),
                **ids,
            )
        return judge_job(items, wait)  # None (keep looking), or no execution in time

    return poll_until_done(
        lambda: hook.list_executions(wait.data_pool_id, wait.data_job_id),
        judge,
        poll_interval=poll_interval,
        deadline=wait.deadline,
        ids={**ids, "execution_id": None},
    )


def watch_load(
    hook: Any, wait: LoadWait, *, poll_interval: float, ledger: RunLedger | None
) -> dict[str, Any]:
    """Wait in the worker for this task's data model load (pinned by id, as in :func:`watch_job`)."""
    current = wait
    recorded: set[str] = set()

    def judge(info: Any) -> dict[str, Any] | None:
        nonlocal current
        current = pin_load(info, current)  # a later load replacing ours is then an error
        pin = current.data_load_id  # into the ledger once the grace is over (see watch_job)
        grace_over = current.appear_deadline is None or deadline_passed(current.appear_deadline)
        if ledger is not None and pin and pin not in recorded and grace_over:
            recorded.add(pin)
            ledger.pinned(pin, current.known_ids)
        return judge_load(info, current)

    return poll_until_done(
        lambda: hook.get_load_info(wait.data_pool_id, wait.data_model_id),
        judge,
        poll_interval=poll_interval,
        deadline=wait.deadline,
        ids={"data_pool_id": wait.data_pool_id, "data_model_id": wait.data_model_id},
    )
