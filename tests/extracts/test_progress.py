"""The progress lines of a long pull: steady cadence, sub-windows and time left."""

from __future__ import annotations

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
    progress.began = 0.0
    progress.tick(CHECK_EVERY)
    assert log.lines == ["Pulled 5000 records so far (500 records/s)"]
