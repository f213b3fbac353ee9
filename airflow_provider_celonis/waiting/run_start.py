"""Start exactly one fresh run: wait for (or reuse, or refuse) a run in progress, and reconcile a
start whose answer was lost. Shared by the data job and data model operators.

Rules, in order (each is a promise of the operators; see docs/data-jobs.md):

* **Fresh by default** (``if_running="wait"``): a run in progress (a Celonis schedule, another
  DAG) started before this task asked, so it may miss the data loaded upstream. The task waits
  for it to end, logging the ids it waits for at every poll, then starts its own. ``"reuse"``
  waits for that run instead and reports it (the old behaviour, an explicit opt-in);
  ``"fail"`` fails at once.
* **Identity by ids**: the ids listed just before the start are never ours (``known``).
* **Ambiguity is reconciled** (:class:`CelonisRequestMaybeSentError`: a timeout, a dropped
  connection, a 5xx on the start POST): the run ids are read back for up to ``grace`` seconds; a
  single new id is adopted; several fail closed; none means Celonis did not act, and the start is
  sent again, at most ``max_starts`` times in all. A run is never started twice on purpose.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_provider_celonis.client.arguments import check_duration, check_number
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisConflictError,
    CelonisJobAlreadyRunningError,
    CelonisJobFailedError,
    CelonisJobTimeoutError,
    CelonisNotFoundError,
    CelonisPermissionError,
    CelonisRequestMaybeSentError,
)
from airflow_provider_celonis.waiting.decisions import is_awaited_load, job_candidates
from airflow_provider_celonis.waiting.status import DataJobExecutionStatus, bounded_pause, deadline_passed
from airflow_provider_celonis.waiting.waits import (
    JobWait,
    LoadWait,
    current_load,
    execution_id_of,
    in_progress,
    job_items,
    load_ids,
    load_in_progress,
)

IF_RUNNING = ("wait", "reuse", "fail")
MAX_STARTS = 2
"""Start POSTs per task try: the first, and one more only after a lost answer whose run never appeared."""


def if_running_option(if_running: Any, reuse: Any, reuse_name: str) -> str:
    """``if_running`` from the new option and the legacy boolean (``True`` means ``"reuse"``)."""
    if if_running is None:
        return "reuse" if reuse else "wait"
    value = str(if_running).strip().lower()
    if value not in IF_RUNNING:
        raise CelonisConfigurationError("if_running", f"is {if_running!r}", "use 'wait', 'reuse' or 'fail'")
    if reuse and value != "reuse":
        raise CelonisConfigurationError(
            reuse_name, f"is True but if_running is {value!r}", f"drop {reuse_name} (if_running replaces it)"
        )
    return value


def check_wait_arguments(poll_interval: Any, timeout: Any, start_grace_period: Any) -> tuple[float, float]:
    """The operators' numeric arguments, checked in ``__init__`` (none of them is templated)."""
    check_duration("timeout", timeout, allow_none=True)
    return (
        check_number("poll_interval", poll_interval, above=0),
        check_number("start_grace_period", start_grace_period, minimum=0),
    )


@dataclass(frozen=True)
class Snapshot:
    """What one read of Celonis shows: every run id, the runs in progress, and the new ones."""

    ids: tuple[str, ...]
    live: tuple[str, ...]
    busy: bool
    """Something is in progress (``live``, or a status flag without a listed run yet)."""
    new: Callable[[tuple[str, ...]], list[str]]
    """Ids not in the given ``known`` set that could be ours (a schedule's runs are not)."""


@dataclass(frozen=True)
class Started:
    """How the start ended: ``run_id`` is set when the run is already identified."""

    known: tuple[str, ...]
    run_id: str | None = None
    reused: bool = False
    blocked: bool = False
    """Deferrable ``wait``: runs in progress; the operator defers until they end, then starts again."""


class RunStarter:
    """One start, for ``what`` (e.g. "data job J in pool P"); see the module docstring."""

    def __init__(
        self,
        *,
        what: str,
        read: Callable[[], Snapshot],
        start: Callable[[], None],
        if_running: str,
        poll_interval: float,
        grace: float,
        deadline: float | None,
        defer_blockers: bool,
        log: logging.Logger | Any,
        sleep: Callable[[float], None] = time.sleep,
        before_start: Callable[[tuple[str, ...]], None] | None = None,
        resume_known: tuple[str, ...] | None = None,
    ) -> None:
        self.what, self.read, self.start = what, read, start
        # ``before_start(known)`` records a pending start (the run ledger) before each start call;
        # ``resume_known``: an earlier try's pending ledger (its known ids), reconciled first.
        self.before_start, self.resume_known = before_start, resume_known
        self.if_running, self.poll_interval, self.grace = if_running, poll_interval, grace
        self.deadline, self.defer_blockers, self.log, self.sleep = deadline, defer_blockers, log, sleep

    def run(self) -> Started:
        starts, frozen = 0, None  # ``frozen``: the known ids before a start whose answer was lost
        if self.resume_known is not None:
            # An earlier try may have started a run and died: that is a start whose answer was lost.
            self.log.warning(
                "%s: an earlier try of this task recorded a start but no run id; reading the runs back "
                "for up to %.0f s to find out whether Celonis started one.",
                self.what,
                self.grace,
            )
            adopted = self._reconcile(self.resume_known)
            if adopted is not None:
                return adopted
            self.log.info("%s: no run of the earlier try appeared; starting as usual.", self.what)
        while True:
            snap = self.read()
            if frozen is not None:
                adopted = self._adopt(snap, frozen)
                if adopted is not None:
                    return adopted
            if snap.busy:
                early = self._busy(snap)
                if early is not None:
                    return early
                continue
            known = frozen if frozen is not None else snap.ids
            if starts >= MAX_STARTS:
                raise CelonisJobFailedError(
                    f"{self.what}: the start call's answer was lost {starts} times and no new run "
                    f"appeared within {self.grace:g} s of each; not starting again (failing closed).",
                    fix="check the runs in Celonis; raise start_grace_period if Celonis is slow to list them",
                )
            starts += 1
            if self.before_start is not None:
                self.before_start(known)
            try:
                self.start()
                return Started(known)
            except CelonisRequestMaybeSentError as err:
                self.log.warning(
                    "%s: the start call's answer was lost (%s); reading the runs back for up to %.0f s "
                    "to find out whether Celonis started one.",
                    self.what,
                    err,
                    self.grace,
                )
                frozen = known
                adopted = self._reconcile(frozen)
                if adopted is not None:
                    return adopted
                self.log.warning(
                    "%s: no new run appeared within %.0f s, so Celonis did not act; starting again.",
                    self.what,
                    self.grace,
                )
            except CelonisConflictError as err:
                if self.if_running == "reuse":  # a run we cannot list yet: the first new id
                    self.log.info(
                        "%s: Celonis refused the start, a run is in progress; reusing it.", self.what
                    )
                    return Started(known, reused=True)
                if self.if_running == "fail":
                    raise
                self.log.warning("%s: Celonis refused the start, a run is in progress (%s).", self.what, err)
                self._pause()

    def _busy(self, snap: Snapshot) -> Started | None:
        runs = ", ".join(snap.live) or "(not listed yet)"
        if self.if_running == "fail":
            raise CelonisJobAlreadyRunningError(
                f"{self.what} is already running: {runs}.",
                fix="wait for it to finish, or set if_running='wait' (the default) to wait and then start",
            )
        if self.if_running == "reuse":
            self.log.info(
                "%s is already running (%s); reusing that run (if_running='reuse').", self.what, runs
            )
            return Started(snap.ids, run_id=snap.live[0] if len(snap.live) == 1 else None, reused=True)
        if self.defer_blockers:
            self.log.info(
                "%s: waiting in the triggerer for run(s) %s to end before starting.", self.what, runs
            )
            return Started(snap.ids, blocked=True)
        self.log.info(
            "%s: waiting for run(s) %s to end before starting a fresh run (if_running='wait').",
            self.what,
            runs,
        )
        self._pause()
        return None

    def _pause(self) -> None:
        if deadline_passed(self.deadline):
            raise CelonisJobTimeoutError(
                f"{self.what}: the timeout passed while runs that are not this task's were in progress; "
                "this task started nothing.",
                cancelled=False,
                fix="raise the operator's timeout, or use if_running='fail' or 'reuse'",
            )
        self.sleep(bounded_pause(self.poll_interval, self.deadline))

    def _reconcile(self, known: tuple[str, ...]) -> Started | None:
        """Read the runs back for up to ``grace`` seconds; a single new id is ours."""
        until = time.time() + self.grace
        pause = max(min(self.poll_interval, self.grace / 10), 0.05)
        while True:
            adopted = self._adopt(self.read(), known)
            if adopted is not None or time.time() >= until:
                return adopted
            if deadline_passed(self.deadline):
                # The grace did not pass, so nothing proves Celonis did not act: starting again
                # here could start a second run (the first may land late). Fail, start nothing.
                raise CelonisJobTimeoutError(
                    f"{self.what}: the timeout passed while reading the runs back after a start whose "
                    "answer was lost; no new run is listed yet, but Celonis may still start one, so "
                    "the task does not start another.",
                    cancelled=False,
                    fix="check the runs in Celonis; raise the operator's timeout above start_grace_period",
                )
            self.sleep(pause)

    def _adopt(self, snap: Snapshot, known: tuple[str, ...]) -> Started | None:
        new = snap.new(known)
        if len(new) > 1:
            raise CelonisJobFailedError(
                f"{self.what}: after a start whose answer was lost, runs {', '.join(sorted(new))} "
                "appeared; the provider cannot prove which one is this task's (failing closed).",
                fix="check these runs in Celonis",
            )
        if new:
            self.log.info(
                "%s: Celonis did start a run after all: %s (adopted, not started again).", self.what, new[0]
            )
            return Started(known, run_id=new[0])
        return None


# -- what "runs" means for each API ------------------------------------------------------------
def job_snapshot(hook: Any, pool: str, job: str, log: Any) -> Snapshot:
    """Every execution id of the job (all history pages), the ones in progress, and the new ones.

    While a run is in progress nothing is started, so the newest pages (page 0 and the last:
    the order is undocumented) are enough; every page is read only when a start may follow,
    because the ids that can never be ours must then be complete.
    """
    items = job_items(hook.list_executions(pool, job))
    live = tuple(str(execution_id_of(i)) for i in items if in_progress(i))
    try:  # a second opinion for a run the history does not list yet; the history decides
        status = DataJobExecutionStatus.parse((hook.get_job_status(pool, job) or {}).get("status"))
    except (CelonisPermissionError, CelonisNotFoundError) as err:
        log.warning("Could not read the job's status (%s); relying on the execution history.", err)
        status = None
    if not live and not (status and status.in_progress):
        items = job_items(hook.list_executions(pool, job, all_pages=True))

    def new(known: tuple[str, ...]) -> list[str]:
        return [str(execution_id_of(i)) for i in job_candidates(items, JobWait(pool, job, known_ids=known))]

    ids = tuple(str(execution_id_of(i)) for i in items)
    return Snapshot(ids, live, bool(live) or bool(status and status.in_progress), new)


def load_snapshot(hook: Any, pool: str, model: str) -> Snapshot:
    """The load ids ``load-info-sync`` lists (current and history) and the load in progress."""
    info = hook.get_load_info(pool, model)
    load = current_load(info)
    busy = load_in_progress(load)
    live = (str(load["dataLoadId"]),) if busy and load and load.get("dataLoadId") else ()

    def new(known: tuple[str, ...]) -> list[str]:
        ours = load is not None and is_awaited_load(load, LoadWait(pool, model, known_ids=known))
        return [str(load["dataLoadId"])] if ours and load is not None else []

    return Snapshot(load_ids(info), live, busy, new)
