"""Shared values for the usage extract tests: a fixed window and a realistic task context."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pendulum

START = pendulum.datetime(2025, 1, 1, 0, 0, tz="UTC")
END = pendulum.datetime(2025, 1, 1, 6, 0, tz="UTC")
"""Six hours: 720 audit, 360 login and 540 adoption events at the emulator's default rates."""
AUDIT_PATH = "/log/api/external/audit"


def context(start: pendulum.DateTime = START, end: pendulum.DateTime = END) -> dict[str, Any]:
    """What the task runner hands ``execute`` for a scheduled run of this interval (the parts used)."""
    return {
        "data_interval_start": start,
        "data_interval_end": end,
        "logical_date": start,
        "ds": start.to_date_string(),
        "ts": start.isoformat(),
        "run_id": f"scheduled__{start.isoformat()}",
    }


def iso(when: pendulum.DateTime) -> str:
    return when.isoformat()


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


def key(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)


class EmulatorClock:
    """Replaces ``_late_data.CLOCK``: "now" is the emulator's clock, and sleeping moves that clock
    instead of the test's (a 15-minute settle period takes no real time). The operators then see
    the same time as the emulated Celonis, whose events become queryable as that clock moves."""

    def __init__(self, emulator: Any, at: pendulum.DateTime) -> None:
        import time

        self.emulator = emulator
        self.offset = at.timestamp() - time.time()
        emulator.advance_clock(self.offset)
        self.slept: list[float] = []

    def now(self) -> Any:
        import datetime as dt
        import time

        return dt.datetime.fromtimestamp(time.time() + self.offset, dt.timezone.utc)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += seconds
        self.emulator.advance_clock(seconds)

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)
        self.slept.pop()
