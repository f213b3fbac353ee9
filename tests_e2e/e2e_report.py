"""Lines printed at the end of the e2e run (conftest's terminal summary): the stack line, each
s3:// object the run checked, timings. A module of its own so tests and fixtures share one list."""

from __future__ import annotations

LINES: list[str] = []


def report(line: str) -> None:
    LINES.append(line)
