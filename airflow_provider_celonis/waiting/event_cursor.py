"""Which finished Celonis runs an event watcher has already handled: the cursor, and its verdict.

Pure functions, used by :mod:`airflow_provider_celonis.triggers.events` (``AssetWatcher``
triggers that schedule a DAG when a data job execution or a data model load ends).

**The cursor.** A JSON document kept outside the trigger (an Airflow Variable), because the
triggerer rebuilds a trigger from its kwargs after every restart and kwargs cannot change:

* ``seen``: run id -> its time (epoch ms, Celonis's clock: end date, else start date) for
  every finished run the watcher has decided on, fired or not;
* ``floor_ms``: any finished run at or before this time is old. It is set, when the cursor is
  created, to the latest time of the runs already finished then (so a run that ended before
  the watcher first ran never fires, even if it shows up later on a history page the watcher
  did not read), and raised when old ids are dropped from ``seen`` to keep it small;
* ``running``: ids of runs seen in progress and not yet judged. Such a run is provably new (it
  had not ended when the watcher looked), so it fires when it ends whatever its end date says
  against ``floor_ms`` (clock skew between Celonis nodes, two runs ending in one millisecond);
* ``watches``: what the watcher watches (``"<kind> <pool id> <job or model id>"``), so a cursor
  named by the user and copied to a watcher of another job is refused, not shared.

**The verdict** (:func:`decide`): a run fires when it is finished, not in ``seen``, later than
``floor_ms`` (or in ``running``), and its status is one the user asked for. Every finished run is added to
``seen`` whether or not it fires, so nothing is judged twice. Runs in progress are
only noted in ``running``: they are judged when they end. A finished run with no date at all cannot be placed
against ``floor_ms``: it is recorded without firing (a schedule must never fire for an old run)
and named in the verdict's ``undated`` list so the trigger can log it.

Ids, never positions: a history page may repeat or reorder items, and the same id is judged once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from airflow_provider_celonis.waiting.status import DataJobExecutionStatus, DataModelLoadStatus
from airflow_provider_celonis.waiting.waits import current_load, execution_id_of, job_items

VERSION = 1
MAX_SEEN = 500
"""Ids kept in ``seen``; older ones are dropped and ``floor_ms`` rises to cover them."""

JOB_TERMINAL = ("SUCCESS", "FAIL", "CANCEL", "SKIPPED")
LOAD_TERMINAL = ("SUCCESS", "WARNING", "ERROR", "CANCELED")


@dataclass(frozen=True)
class FinishedRun:
    """One run as the watcher sees it (ids, status and times only; never a secret)."""

    run_id: str
    status: str
    start_ms: int | None
    end_ms: int | None
    finished: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def time_ms(self) -> int | None:
        return self.end_ms if self.end_ms is not None else self.start_ms


@dataclass(frozen=True)
class Cursor:
    seen: dict[str, int | None]
    floor_ms: int | None
    running: tuple[str, ...] = ()
    watches: str = ""

    def to_text(self) -> str:
        data = {"version": VERSION, "seen": self.seen, "floor_ms": self.floor_ms, "running": self.running}
        return json.dumps({**data, "watches": self.watches} if self.watches else data, sort_keys=True)

    @classmethod
    def from_text(cls, text: str) -> Cursor:
        """Strict: a cursor that is not ours must not be read as "nothing seen" (that refires)."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} event cursor")
        seen, floor = data.get("seen"), data.get("floor_ms")
        if not isinstance(seen, dict) or not all(
            isinstance(k, str) and (v is None or _is_int(v)) for k, v in seen.items()
        ):
            raise ValueError("its 'seen' is not a map of run ids to epoch ms")
        if floor is not None and not _is_int(floor):
            raise ValueError("its 'floor_ms' is not epoch ms")
        running = data.get("running", [])  # absent in cursors written before it existed
        if not isinstance(running, list) or not all(isinstance(r, str) for r in running):
            raise ValueError("its 'running' is not a list of run ids")
        watches = data.get("watches", "")
        if not isinstance(watches, str):
            raise ValueError("its 'watches' is not a string")
        return cls(dict(seen), floor, tuple(running), watches)


@dataclass(frozen=True)
class Verdict:
    cursor: Cursor
    fire: list[FinishedRun]
    undated: list[str]
    changed: bool


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ms(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -- what Celonis lists, as runs -----------------------------------------------------------------
def job_runs(items: Any) -> list[FinishedRun]:
    """Job-level execution items (``/logs/{job}/executions`` pages) as runs, one per id."""
    runs: dict[str, FinishedRun] = {}
    for item in job_items(items):
        run_id = execution_id_of(item)
        if run_id is None:
            continue
        raw = str(item.get("status") or "").upper()
        status = DataJobExecutionStatus.parse(raw)
        extra = {"scheduling_id": item.get("schedulingId"), "mode": item.get("mode")}
        runs[run_id] = FinishedRun(
            run_id,
            raw,
            _ms(item.get("startDate")),
            _ms(item.get("endDate")),
            status is not None and status.value in JOB_TERMINAL,
            {k: v if v is None else str(v) for k, v in extra.items()},
        )
    return list(runs.values())


def load_runs(load_info: Any) -> list[FinishedRun]:
    """The loads a ``load-info-sync`` answer names (current load and history), one per id."""
    history = load_info.get("loadHistory") if isinstance(load_info, dict) else None
    loads = [
        current_load(load_info),
        *((history.get("dataLoadHistory") or []) if isinstance(history, dict) else []),
    ]
    runs: dict[str, FinishedRun] = {}
    for load in loads:
        if not isinstance(load, dict) or not load.get("dataLoadId"):
            continue
        run_id = str(load["dataLoadId"])
        raw = str(load.get("loadStatus") or "").upper()
        status = DataModelLoadStatus.parse(raw)
        extra = {"load_type": load.get("loadType")}
        runs.setdefault(
            run_id,
            FinishedRun(
                run_id,
                raw,
                _ms(load.get("startDate")),
                _ms(load.get("endDate")),
                status is not None and status.value in LOAD_TERMINAL,
                {k: v if v is None else str(v) for k, v in extra.items()},
            ),
        )
    return list(runs.values())


# -- which history pages to read ------------------------------------------------------------------
def newest_last(first: list[FinishedRun], last: list[FinishedRun]) -> bool:
    """Whether the history lists the newest runs on its last page (the order is undocumented;
    the emulator plays both): the page with the later start (else end) date is the newest."""

    def latest(runs: list[FinishedRun]) -> int:
        return max((r.start_ms or r.end_ms or 0 for r in runs), default=0)

    return latest(last) > latest(first)


def caught_up(cursor: Cursor, runs: list[FinishedRun]) -> bool:
    """Whether a page reaches what the cursor already covers (a run it judged, or a finished run at
    or before its floor): the pages beyond it hold older runs only, so reading stops there.

    A page that does not reach it may be the newest of several pages of runs that ended since the
    last poll (a burst, or a triggerer that was down for a day): the next page must be read too,
    or the runs on it never fire."""
    for run in runs:
        if run.run_id in cursor.seen:
            return True
        time, floor = run.time_ms, cursor.floor_ms
        if run.finished and time is not None and floor is not None and time <= floor:
            return True
    return False


# -- the verdict ---------------------------------------------------------------------------------
def baseline(runs: list[FinishedRun]) -> Cursor:
    """The first cursor: every run finished now is old, and so is anything at or before the latest."""
    finished = [r for r in runs if r.finished]
    times = [r.time_ms for r in finished if r.time_ms is not None]
    running = tuple(dict.fromkeys(r.run_id for r in runs if not r.finished))
    return _capped(Cursor({r.run_id: r.time_ms for r in finished}, max(times) if times else None, running))


def decide(cursor: Cursor, runs: list[FinishedRun], on: tuple[str, ...]) -> Verdict:
    """Which runs fire now (in time order), and the cursor to store before firing them."""
    seen = dict(cursor.seen)
    running = dict.fromkeys(cursor.running)
    fire: list[FinishedRun] = []
    undated: list[str] = []
    for run in runs:
        if run.run_id in seen:
            continue
        if not run.finished:
            running[run.run_id] = None
            continue
        seen[run.run_id] = run.time_ms
        was_running = run.run_id in running
        running.pop(run.run_id, None)
        if run.time_ms is None and not was_running:
            undated.append(run.run_id)
        elif run.status in on and (was_running or _after(run.time_ms, cursor.floor_ms)):
            fire.append(run)
    fire.sort(key=lambda r: (r.time_ms or 0, r.run_id))
    new = _capped(replace(cursor, seen=seen, running=tuple(running)))
    return Verdict(new, fire, undated, new != cursor)


def _after(time_ms: int | None, floor_ms: int | None) -> bool:
    return floor_ms is None or (time_ms is not None and time_ms > floor_ms)


def merged(one: Cursor, other: Cursor) -> Cursor:
    """Both cursors' knowledge: ``seen`` only grows and ``floor_ms`` only rises, so the union of
    an older copy and a newer one is the newer one (a run either recorded stays recorded)."""
    floors = [f for f in (one.floor_ms, other.floor_ms) if f is not None]
    seen = {**one.seen, **other.seen}
    running = tuple(r for r in dict.fromkeys((*one.running, *other.running)) if r not in seen)
    return _capped(replace(one, seen=seen, floor_ms=max(floors) if floors else None, running=running))


def _capped(cursor: Cursor) -> Cursor:
    if len(cursor.running) > MAX_SEEN:  # ids that never end (deleted runs): the oldest noted go
        cursor = replace(cursor, running=cursor.running[-MAX_SEEN:])
    if len(cursor.seen) <= MAX_SEEN:
        return cursor
    ordered = sorted(cursor.seen.items(), key=lambda kv: (kv[1] is not None, kv[1] or 0))
    dropped, kept = ordered[: len(ordered) - MAX_SEEN], ordered[len(ordered) - MAX_SEEN :]
    times = [t for _, t in dropped if t is not None]
    floor = max([*times, *([cursor.floor_ms] if cursor.floor_ms is not None else [])], default=None)
    return replace(cursor, seen=dict(kept), floor_ms=floor)
