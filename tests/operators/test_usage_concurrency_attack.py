"""Hostile cases for the concurrent usage pulls, against the emulator over real sockets: a server
whose time resolution is coarser than assumed, a token expiring mid-pull, a consumer failing
while the worker threads run (an execution timeout raised in the task's main thread)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pendulum
import pytest
from usage_support import context, read_jsonl

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.concurrency import START_LIMIT, split_window
from airflow_provider_celonis.operators.usage import (
    CelonisAuditLogOperator,
    CelonisStudioAdoptionOperator,
)

DENSE = {"audit_per_hour": 360_000, "adoption_per_hour": 360_000, "burst": 20}
"""A burst of 20 events sharing one millisecond every 200 ms: 100 events a second."""
T0 = pendulum.datetime(2025, 1, 1, 0, 0, tz="UTC")
T1 = T0 + pendulum.duration(seconds=160)


def pull(operator: type, path: Path, start: Any = T0, end: Any = T1, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = operator(task_id="p", output_path=str(path), **kwargs).execute(
        context(start, end)
    )
    return result


def pull_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("celonis-pull-")]


# -- a server coarser than assumed ------------------------------------------------------------
def test_adoption_survives_a_server_that_reads_whole_seconds(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """The Adoption API's parameters are a guess: a server that cuts ``from``/``to`` to whole
    seconds made every sub-window boundary inside a second lose the events between the second
    and the boundary (the earlier sub-window's ``to`` was cut below them, the later one trimmed
    them away). Sub-window bounds of the Adoption pull now fall on whole seconds."""
    emulator.configure_usage(time_resolution=1.0, latency=0.01, **DENSE)
    # The premise: at 1 ms, 7 threads cut 160 s into 14 sub-windows whose bounds fall inside seconds.
    assert any(b.microsecond for b, _ in split_window(T0, T1, 14, resolution=0.001, min_span=1.0)[1:])
    concurrent, sequential = tmp_path / "c.jsonl", tmp_path / "s.jsonl"
    emulator.usage_stats(reset=True)
    got = pull(CelonisStudioAdoptionOperator, concurrent, max_concurrency=7)
    assert emulator.usage_stats()["max_in_flight"] >= 2  # it did pull concurrently
    pull(CelonisStudioAdoptionOperator, sequential, max_concurrency=1)
    assert got["records"] == emulator.usage_count("adoption", T0.isoformat(), T1.isoformat()) == 16_000
    assert concurrent.read_bytes() == sequential.read_bytes()


def test_time_resolution_argument_covers_a_coarse_audit_log(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Any API can turn out coarser than documented: ``time_resolution`` says so per task."""
    emulator.configure_usage(time_resolution=1.0, **DENSE)
    out = tmp_path / "a.jsonl"
    got = pull(CelonisAuditLogOperator, out, max_concurrency=7, time_resolution=1.0)
    assert got["records"] == emulator.usage_count("audit", T0.isoformat(), T1.isoformat()) == 16_000
    stamps = [r["timestamp"] for r in read_jsonl(out)]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("bad", [0, -1, "fast", float("nan"), 10**9, True])
def test_bad_time_resolution_is_refused_at_parse_time(bad: Any) -> None:
    with pytest.raises(CelonisConfigurationError, match="time_resolution"):
        CelonisAuditLogOperator(task_id="p", output_path="/tmp/x.jsonl", time_resolution=bad)


def test_a_window_shorter_than_ten_resolution_units_is_pulled_whole(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """A server that reads whole hours, told so: a 2 h window is not split (ten units are 10 h),
    and its one request asks an hour more on each side, trimmed back: every event, once."""
    emulator.configure_usage(time_resolution=3600)
    end = T0 + pendulum.duration(hours=2)
    emulator.usage_stats(reset=True)
    got = pull(CelonisStudioAdoptionOperator, tmp_path / "a.jsonl", end=end, time_resolution=3600)
    assert got["records"] == emulator.usage_count("adoption", T0.isoformat(), end.isoformat()) == 180
    assert emulator.usage_stats()["max_in_flight"] == 1


# -- one token, also when it expires mid-pull ---------------------------------------------------
class ExpiringAuditLog(CelonisAuditLogOperator):
    """Expires every token on the emulator once, after the first ``after`` records arrived."""

    emulator: EmulatorProcess
    after = 2000

    def sort_key(self, record: dict[str, Any]) -> str:
        self.seen = getattr(self, "seen", 0) + 1
        if self.seen == self.after:
            self.emulator.expire_tokens()
        return super().sort_key(record)


def test_a_token_expiring_mid_pull_is_granted_again_once(emulator: EmulatorProcess, tmp_path: Path) -> None:
    emulator.configure_usage(latency=0.02, **DENSE)
    ExpiringAuditLog.emulator = emulator
    got = pull(ExpiringAuditLog, tmp_path / "a.jsonl", page_size=100)
    assert got["records"] == 16_000
    assert emulator.requests_to("POST", "/oauth2/token") == 2  # the first grant, one re-grant


# -- the consumer fails while the workers run ---------------------------------------------------
class Timeout(Exception):
    """Stands in for AirflowTaskTimeout, raised by a signal handler in the task's main thread."""


class TimedOutAuditLog(CelonisAuditLogOperator):
    after = 500

    def sort_key(self, record: dict[str, Any]) -> str:
        self.seen = getattr(self, "seen", 0) + 1
        if self.seen == self.after:
            raise Timeout("Timeout, PID: 1")
        return super().sort_key(record)


def test_a_timeout_in_the_main_thread_stops_every_worker_and_writes_nothing(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.configure_usage(latency=0.02, **DENSE)
    out = tmp_path / "a.jsonl"
    with pytest.raises(Timeout) as raised:
        pull(TimedOutAuditLog, out, page_size=50)
    # While the exception (and its traceback) is still held, as the task runner holds it to log it:
    for thread in pull_threads():
        thread.join(timeout=30)
    assert pull_threads() == [], "worker threads still running after the task failed"
    assert not out.exists()
    assert raised.value.args == ("Timeout, PID: 1",)


@pytest.mark.parametrize("max_concurrency", [1, 8])
def test_a_window_ending_inside_a_second_keeps_its_last_events_on_a_coarse_server(
    emulator: EmulatorProcess, tmp_path: Path, max_concurrency: int
) -> None:
    """An end at 20.5 s asked of a server reading whole seconds selects nothing from 20.000 on,
    unless the request is widened by the resolution (and trimmed back) as sub-windows are: the
    sequential pull (``max_concurrency=1``, or a window too short to split) is widened too."""
    emulator.configure_usage(time_resolution=1.0, **DENSE)
    end = T0 + pendulum.duration(seconds=20, milliseconds=500)
    got = pull(CelonisStudioAdoptionOperator, tmp_path / "a.jsonl", end=end, max_concurrency=max_concurrency)
    assert got["records"] == emulator.usage_count("adoption", T0.isoformat(), end.isoformat()) == 2060


def test_an_error_page_echoing_the_token_in_a_worker_thread_reaches_the_task_scrubbed(
    emulator: EmulatorProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A sub-window's error page repeats the bearer token; the error crosses from the worker
    thread to the task's thread and into its log without it."""
    emulator.configure_usage(latency=0.01, **DENSE)
    emulator.add_faults([{"path": "/log/api/external/audit", "kind": "echo", "status": 400, "skip": 6}])
    out = tmp_path / "a.jsonl"
    with caplog.at_level("DEBUG"), pytest.raises(Exception, match="Rejected request") as raised:
        pull(CelonisAuditLogOperator, out, page_size=50)
    tokens = emulator.issued_tokens()
    assert tokens  # the premise: a token was sent, and echoed
    assert "400" in str(raised.value) and "Rejected request" in str(raised.value)  # the echo, scrubbed
    shown = f"{raised.value!s} {raised.value!r} {raised.value.args!r} {caplog.text}"
    for token in tokens:
        assert token not in shown
    assert not out.exists()
    assert pull_threads() == []


@pytest.mark.parametrize("status", [429, 503])
def test_a_lasting_storm_is_not_multiplied_by_the_requests_in_flight(
    emulator: EmulatorProcess, tmp_path: Path, status: int
) -> None:
    """Every page answers 429 (or 503) for good. Each request in flight retried on its own, so
    a concurrent pull sent 4 x the retries of a sequential one (20 requests against 5). Once
    trouble is seen, one request probes with its retries while the others wait for its clean
    answer (or for the pull's end): at most the first round plus one request's retries."""
    hook_params = {"max_attempts": 5, "min_wait": 0.05, "max_wait": 0.2}
    emulator.add_faults([{"path": "/log/api/external/audit", "status": status, "times": -1}])
    with pytest.raises(Exception, match=str(status)):
        pull(CelonisAuditLogOperator, tmp_path / "s.jsonl", max_concurrency=1, hook_params=hook_params)
    sequential = emulator.requests_to("GET", "/log/api/external/audit")
    assert sequential == 5
    with pytest.raises(Exception, match=str(status)):
        pull(CelonisAuditLogOperator, tmp_path / "c.jsonl", hook_params=hook_params)
    concurrent = emulator.requests_to("GET", "/log/api/external/audit") - sequential
    assert concurrent <= sequential + START_LIMIT - 1
    assert pull_threads() == []
    assert list(tmp_path.iterdir()) == []
