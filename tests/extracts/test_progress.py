"""The progress lines of a long pull: steady cadence, sub-windows and time left."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from airflow_provider_celonis.extracts.concurrency import pull_windows
from airflow_provider_celonis.extracts.progress import CHECK_EVERY, PullProgress


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str, *args: object) -> None:
        self.lines.append(message % args)


def test_progress_reports_at_a_steady_cadence_with_sub_windows_and_eta() -> None:
    now = [0.0]
    log = Log()
    progress = PullProgress(log, every=60, clock=lambda: now[0])
    progress.tick(CHECK_EVERY)
    assert log.lines == []  # not a minute yet
    now[0] = 61.0
    progress.tick(CHECK_EVERY + 1)  # the clock is read only every CHECK_EVERY records
    assert log.lines == []
    progress.windows(4, 16)
    progress.tick(2 * CHECK_EVERY)
    assert log.lines == [
        "Pulled 10000 records so far (164 records/s, 4 of 16 sub-windows done, about 183 s left)"
    ]
    now[0] = 200.0
    progress.tick(3 * CHECK_EVERY)
    assert len(log.lines) == 2


def test_progress_of_a_sequential_pull_has_no_sub_windows() -> None:
    log = Log()
    progress = PullProgress(log, every=0, clock=lambda: 10.0)
    progress.cadence.began = 0.0
    progress.tick(CHECK_EVERY)
    assert log.lines == ["Pulled 5000 records so far (500 records/s)"]


def test_a_pull_whose_workers_all_wait_still_reports_at_the_cadence() -> None:
    """Every worker waiting (a 429's reset of minutes, a slow answer): no record arrives, so
    the per-record check never runs; the consumer's idle turns keep the line coming, and the
    task does not look hung."""
    now = [0.0]
    log = Log()
    progress = PullProgress(log, every=60, clock=lambda: now[0])
    release = threading.Event()
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    windows = [(t0 + timedelta(seconds=i), t0 + timedelta(seconds=i + 1)) for i in range(4)]

    def fetch(start: datetime, end: datetime) -> Iterator[int]:
        release.wait(60)  # stands for the wait; released once a progress line came
        yield from range(3)

    def idle() -> None:
        now[0] += 61
        progress.idle()
        if log.lines:
            release.set()

    got = list(pull_windows(windows, fetch, workers=2, on_window_done=progress.windows, on_idle=idle))
    assert len(got) == 12
    assert log.lines and log.lines[0].startswith("Pulled 0 records so far")
