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
