"""Late-arriving events: settle period, re-check of recent intervals, "since last load" state.

Usage events reach Celonis's query side some time after they happened. Three tools keep a
nightly extract complete (docs/usage-extracts.md, "Late events"):

- the **settle period**: a window is pulled only once its end is ``settle_period`` old;
- the **re-check**: after the pull, the previous N intervals are pulled again and an
  interval whose record count changed is rewritten (same file name, same order);
- **since last load**: the window starts at the previous run's high-water mark (its last
  event's timestamp) minus an overlap; records of the overlap that were already delivered
  are recognised by a digest and dropped.

Pure helpers, no network: the operator in :mod:`airflow_provider_celonis.operators._extract` calls them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_celonis.client.arguments import check_duration, to_utc
from airflow_provider_celonis.client.paths import redact_uri
from airflow_provider_celonis.client.timestamps import canonical_ts, iso_ms
from airflow_provider_celonis.client.timestamps import iso_utc as _iso_utc
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.waiting.progress import PROGRESS_EVERY

DEFAULT_SETTLE_PERIOD = 900.0
"""15 minutes: a window is pulled once its end is this old (connection extra ``settle_period``)."""
DEFAULT_OVERLAP = 3600.0
"""1 hour: how far before the high-water mark a "since last load" pull starts again."""
MAX_PERIOD = 7 * 86400.0
"""A settle period or overlap above a week is a typo (and would hold a deferral that long)."""
STATE_KEY = "celonis_high_water_mark"
"""XCom key of the "since last load" state (also the Variable's JSON shape)."""


def check_period(name: str, value: Any, where: str | None) -> float:
    """Seconds (number or timedelta) from 0 to a week; 0 turns the feature off."""
    seconds = check_duration(name, value, allow_zero=True, where=where)
    assert seconds is not None
    if seconds > MAX_PERIOD:
        raise CelonisConfigurationError(
            name, f"is {value!r} ({seconds:g} s)", "give at most 7 days (604800 seconds)", where=where
        )
    return seconds


class Clock:
    """Wall-clock time and sleeping, in one replaceable object: tests swap :data:`CLOCK` for one
    that follows the emulator's controllable clock, so a 15-minute settle takes no real time."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


CLOCK = Clock()


def utcnow() -> datetime:
    return CLOCK.now()


def wait_until(ready_at: datetime, log: Any) -> None:
    """Block until ``ready_at``, logging what is awaited every :data:`PROGRESS_EVERY` seconds."""
    while (left := (ready_at - CLOCK.now()).total_seconds()) > 0:
        log.info("Waiting %.0f s more for the window to settle (until %s)", left, ready_at.isoformat())
        CLOCK.sleep(min(left, PROGRESS_EVERY))


def record_digest(line: str) -> str:
    """A short, stable fingerprint of one canonical record line (what the overlap remembers)."""
    return hashlib.sha256(line.rstrip("\n").encode("utf-8")).hexdigest()[:20]


@dataclass
class HighWaterMark:
    """What a "since last load" run leaves for the next one (JSON in XCom or a Variable).

    ``mark`` is the newest event timestamp delivered so far (canonical form); ``seen`` the
    digests of the delivered records at or after ``mark - overlap``, so the next run can drop
    them. ``run_id`` and ``previous`` let a re-run of the same run start where it started.
    """

    mark: str | None = None
    seen: list[str] = field(default_factory=list)
    run_id: str | None = None
    previous: dict[str, Any] | None = None
    until: str | None = None
    """End of the last window pulled: where to resume while no event has been seen yet."""

    def to_json(self) -> dict[str, Any]:
        return {
            "mark": self.mark,
            "seen": self.seen,
            "run_id": self.run_id,
            "previous": self.previous,
            "until": self.until,
        }

    @classmethod
    def from_json(cls, value: Any, where: str, origin: str = "the saved state") -> HighWaterMark:
        """Read a state back; ``origin`` names where it was kept (a Variable someone may have
        edited), so an error says what to delete or fix. Times are normalised: the marks are
        compared as strings, and a hand-written ``+02:00`` or zone-less mark must compare as a time."""
        if value in (None, "", {}):
            return cls()
        shown = str(value)[:80]
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = None

        def fail(problem: str) -> CelonisConfigurationError:
            return CelonisConfigurationError(
                "high_water_mark",
                f"{origin} {problem}",
                f"delete {origin} (the next run starts from start / the data interval) or fix its JSON "
                '(e.g. {"mark": "2025-02-05T14:30:00.000Z", "seen": []})',
                where=where,
            )

        if not isinstance(value, Mapping) or not isinstance(value.get("seen", []), list):
            raise fail(f"holds {shown!r}, not a state this operator wrote")
        mark = value.get("mark")
        if mark in (None, ""):
            mark = None
        else:
            mark = canonical_ts(mark) if isinstance(mark, str) else None
            if mark is None:
                raise fail(f"has mark {value.get('mark')!r}, not an ISO 8601 date-time")
        until = value.get("until")
        if until in (None, ""):
            until = None
        else:
            until = _iso_utc(until)
            if until is None:
                raise fail(f"has until {value.get('until')!r}, not an ISO 8601 date-time")
        previous = value.get("previous")
        return cls(
            mark=mark,
            seen=[str(d) for d in value.get("seen") or []],
            run_id=value.get("run_id") or None,
            previous=dict(previous) if isinstance(previous, Mapping) else None,
            until=until,
        )

    def starting_point(self, run_id: str | None) -> HighWaterMark:
        """The state this run starts from: a re-run of the run that wrote it starts where that
        run started (its ``previous``), so it rewrites the same file instead of an empty one."""
        if run_id is not None and self.run_id == run_id:
            return HighWaterMark.from_json(self.previous, "high_water_mark")
        return self


def load_state(context: Mapping[str, Any], task_id: str, variable: str | None) -> HighWaterMark:
    """The previous successful run's state: the Variable ``variable``, else this task's XCom
    of the latest earlier run (``include_prior_dates``)."""
    if variable:
        from airflow.sdk import Variable

        return HighWaterMark.from_json(
            Variable.get(variable, default=None), task_id, f"the Variable {variable!r}"
        )
    ti = context.get("ti")
    if ti is None:
        return HighWaterMark()
    # One map index: Airflow then asks for the newest value (by logical date); without it, Airflow
    # 3.3 returns the values of every earlier run in no guaranteed order.
    value = ti.xcom_pull(
        task_ids=task_id,
        key=STATE_KEY,
        include_prior_dates=True,
        map_indexes=getattr(ti, "map_index", -1) if isinstance(getattr(ti, "map_index", -1), int) else -1,
    )
    origin = f"the XCom {STATE_KEY!r} of the previous run"
    if isinstance(value, list):  # whatever the Airflow version did: take the state that got furthest
        states = [HighWaterMark.from_json(v, task_id, origin) for v in value if v]
        return max(states, key=lambda st: (st.until or "", st.mark or ""), default=HighWaterMark())
    return HighWaterMark.from_json(value, task_id, origin)


def save_state(context: Mapping[str, Any], variable: str | None, state: HighWaterMark) -> None:
    if variable:
        from airflow.sdk import Variable

        Variable.set(variable, json.dumps(state.to_json()))
        return
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key=STATE_KEY, value=state.to_json())


SHIFTED_KEYS = ("data_interval_start", "data_interval_end", "logical_date")


def shifted_context(context: Mapping[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    """``context`` as a run of the interval ``[start, end)`` would see it (for re-rendering
    ``output_path``): the interval, ``logical_date`` (= start, as interval timetables set it),
    ``ds``, ``ds_nodash``, ``ts`` and ``ts_nodash`` move; everything else stays."""
    import pendulum

    begin, finish = pendulum.instance(start), pendulum.instance(end)
    shifted = dict(context)
    shifted.update(
        data_interval_start=begin,
        data_interval_end=finish,
        logical_date=begin,
        ds=begin.format("YYYY-MM-DD"),
        ds_nodash=begin.format("YYYYMMDD"),
        ts=begin.isoformat(),
        ts_nodash=begin.strftime("%Y%m%dT%H%M%S"),
    )
    return shifted


def recheck_windows(start: datetime, end: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """The ``count`` intervals before ``[start, end)``, newest first, each as long as it."""
    length = end - start
    if length <= timedelta(0):
        return []
    return [(start - length * k, end - length * k) for k in range(1, count + 1)]


def recheck_targets(
    render: Callable[[datetime, datetime], str],
    current: str,
    start: datetime,
    end: datetime,
    count: int,
    where: str,
) -> list[tuple[datetime, datetime, str]]:
    """The ``count`` intervals before ``[start, end)`` with the file ``render`` names for each.

    A path that does not change with the interval (a fixed name, ``run_id``, a month for daily
    runs) would have the re-check replace this run's file, or one interval's file, with another
    interval's events: refused here, before any call.
    """

    targets: list[tuple[datetime, datetime, str]] = []
    used = {current: (start, end)}
    for begin, finish in recheck_windows(start, end, count):
        path = render(begin, finish)
        if path in used:
            first, last = used[path]
            raise CelonisConfigurationError(
                "output_path",
                f"names the same file ({redact_uri(path)}) for [{begin.isoformat()}, {finish.isoformat()}) "
                f"as for [{first.isoformat()}, {last.isoformat()}), so recheck_intervals would overwrite "
                "one interval's events with another's",
                "name each interval's file after it, e.g. {{ data_interval_start.strftime('%Y-%m-%d') }}, "
                "or set recheck_intervals=0",
                where=where,
            )
        used[path] = (begin, finish)
        targets.append((begin, finish, path))
    return targets


class Overlap:
    """Digests of the records at or after ``newest - overlap``, kept as records stream in
    unordered; pruned as the newest timestamp moves, so memory holds about one overlap.

    Records whose timestamp does not parse cannot be placed in time: their digests are kept in
    :attr:`untimed` for as long as the server returns them (each run that sees one remembers it
    again), so they are delivered once, not by every run whose overlap they fall in."""

    def __init__(self, overlap: float) -> None:
        self.overlap = timedelta(seconds=overlap)
        self.newest: str | None = None
        self.items: list[tuple[str, str]] = []
        self.untimed: set[str] = set()
        self._limit = 10_000

    def add(self, ts: str | None, digest: str) -> None:
        if ts is None:
            self.untimed.add(digest)
            return
        if self.newest is None or ts > self.newest:
            self.newest = ts
        self.items.append((ts, digest))
        if len(self.items) > self._limit:
            self.items = self.kept()
            self._limit = max(10_000, 2 * len(self.items))

    def floor(self, mark: str) -> str:

        return iso_ms(to_utc(mark, "high_water_mark") - self.overlap)

    def kept(self) -> list[tuple[str, str]]:
        if self.newest is None:
            return []
        low = self.floor(self.newest)
        return [(ts, d) for ts, d in self.items if ts >= low]
