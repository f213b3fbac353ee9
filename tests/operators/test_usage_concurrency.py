"""Concurrent sub-window pulls against the emulator over real sockets: same bytes as a sequential
pull, boundaries, arrivals, 429s, 5xx, repeated pages, one token, bounded in-flight requests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pendulum
import pytest
from usage_support import AUDIT_PATH, context, key, read_jsonl

from airflow_provider_celonis.auth.token_cache import clear_token_cache
from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisServerError,
    CelonisUnexpectedResponseError,
)
from airflow_provider_celonis.extracts.concurrency import split_window
from airflow_provider_celonis.operators.usage import (
    CelonisAuditLogOperator,
    CelonisLoginHistoryOperator,
    CelonisStudioAdoptionOperator,
    CelonisTeamMembersOperator,
)

# 16 s at 360,000 events/h in bursts of 20 sharing one millisecond: a burst every 200 ms, so every
# whole second (each sub-window boundary of a 16 s window cut in 16) holds 20 events exactly at it.
DENSE = {"audit_per_hour": 360_000, "login_per_hour": 360_000, "adoption_per_hour": 360_000, "burst": 20}
B_START = pendulum.datetime(2025, 1, 1, 0, 0, tz="UTC")
B_END = pendulum.datetime(2025, 1, 1, 0, 0, 16, tz="UTC")


def pull(operator: type, path: Path, start: Any = B_START, end: Any = B_END, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = operator(task_id="p", output_path=str(path), **kwargs).execute(
        context(start, end)
    )
    return result


def pull_default(operator: type, path: Path, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = operator(task_id="p", output_path=str(path), **kwargs).execute(context())
    return result


@pytest.mark.parametrize("to_inclusive", [False, True])
@pytest.mark.parametrize(
    ("operator", "kwargs", "stream"),
    [
        (CelonisAuditLogOperator, {"api_version": 1}, "audit"),
        (CelonisAuditLogOperator, {"api_version": 2}, "audit"),
        # At 1 ms, not the Adoption default of 1 s, so the 16 s window splits into 16.
        (CelonisStudioAdoptionOperator, {"api_version": 1, "time_resolution": 0.001}, "adoption"),
        (CelonisStudioAdoptionOperator, {"api_version": 2, "time_resolution": 0.001}, "adoption"),
    ],
)
def test_bursts_exactly_at_sub_window_boundaries_land_once(
    emulator: EmulatorProcess,
    tmp_path: Path,
    operator: type,
    kwargs: dict[str, Any],
    stream: str,
    to_inclusive: bool,
) -> None:
    emulator.configure_usage(to_inclusive=to_inclusive, **DENSE)
    bounds = split_window(B_START, B_END, 16, resolution=0.001, min_span=1.0)
    assert len(bounds) == 16
    for begin, _ in bounds[1:]:  # the premise: 20 events share each boundary's millisecond
        at = begin.isoformat()
        after = (begin + pendulum.duration(milliseconds=1)).isoformat()
        assert emulator.usage_count(stream, at, after) == 20
    concurrent, sequential = tmp_path / "c.jsonl", tmp_path / "s.jsonl"
    got = pull(operator, concurrent, page_size=50, **kwargs)
    pull(operator, sequential, page_size=50, max_concurrency=1, **kwargs)
    assert got["records"] == emulator.usage_count(stream, B_START.isoformat(), B_END.isoformat()) == 1600
    assert concurrent.read_bytes() == sequential.read_bytes()
    assert emulator.usage_stats()["max_in_flight"] >= 1


def test_login_history_whole_seconds_at_boundaries(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """Login History takes whole seconds: sub-windows of at least 10 s, widened by 1 s each side."""
    emulator.configure_usage(**DENSE)
    end = B_START + pendulum.duration(seconds=160)
    concurrent, sequential = tmp_path / "c.jsonl", tmp_path / "s.jsonl"
    got = pull(CelonisLoginHistoryOperator, concurrent, end=end)
    pull(CelonisLoginHistoryOperator, sequential, end=end, max_concurrency=1)
    assert got["records"] == emulator.usage_count("login", B_START.isoformat(), end.isoformat())
    assert concurrent.read_bytes() == sequential.read_bytes()


def test_default_window_is_concurrent_and_identical_to_a_sequential_pull(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.configure_usage(latency=0.05)
    emulator.usage_stats(reset=True)
    concurrent, sequential = tmp_path / "c.jsonl", tmp_path / "s.jsonl"
    pull_default(CelonisAuditLogOperator, concurrent, page_size=20, max_concurrency=3)
    stats = emulator.usage_stats()
    assert 2 <= stats["max_in_flight"] <= 3  # it overlapped, and never beyond the cap
    emulator.usage_stats(reset=True)
    pull_default(CelonisAuditLogOperator, sequential, page_size=20, max_concurrency=1)
    assert emulator.usage_stats()["max_in_flight"] == 1
    assert concurrent.read_bytes() == sequential.read_bytes()
    assert len(read_jsonl(concurrent)) == 720


def test_one_token_for_the_whole_concurrent_pull(emulator: EmulatorProcess, tmp_path: Path) -> None:
    emulator.configure_usage(latency=0.02)
    pull_default(CelonisAuditLogOperator, tmp_path / "a.jsonl", page_size=20)
    assert emulator.usage_stats()["max_in_flight"] >= 2
    assert len(emulator.issued_tokens()) == 1
    assert emulator.requests_to("POST", "/oauth2/token") == 1


def test_events_arriving_during_a_concurrent_pull(emulator: EmulatorProcess, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    pull_default(CelonisAuditLogOperator, out, page_size=20)
    before = {key(r) for r in read_jsonl(out)}
    emulator.configure_usage(arrivals_per_request=5, visibility_jitter=30)
    result = pull_default(CelonisAuditLogOperator, out, page_size=20)
    records = read_jsonl(out)
    keys = [key(r) for r in records]
    assert before < set(keys)  # nothing lost, arrivals seen
    assert len(keys) == len(set(keys)) == result["records"]
    assert [r["timestamp"] for r in records] == sorted(r["timestamp"] for r in records)


@pytest.mark.parametrize("reset_format", ["seconds", "retry_after", "datetime"])
def test_rate_limited_pull_backs_off_and_completes(
    emulator: EmulatorProcess, tmp_path: Path, reset_format: str
) -> None:
    sequential = tmp_path / "s.jsonl"
    pull_default(CelonisAuditLogOperator, sequential, page_size=20, max_concurrency=1)
    emulator.configure_usage(rate_limit_per_second=8, rate_limit_reset_format=reset_format, latency=0.01)
    emulator.usage_stats(reset=True)
    concurrent = tmp_path / "c.jsonl"
    pull_default(CelonisAuditLogOperator, concurrent, page_size=20, hook_params={"max_attempts": 10})
    stats = emulator.usage_stats()
    assert stats["rate_limited"] >= 1  # the limit was hit (the premise), and the task still succeeded
    assert concurrent.read_bytes() == sequential.read_bytes()


def test_a_503_on_one_sub_window_is_retried(emulator: EmulatorProcess, tmp_path: Path) -> None:
    sequential, concurrent = tmp_path / "s.jsonl", tmp_path / "c.jsonl"
    pull_default(CelonisAuditLogOperator, sequential, max_concurrency=1)
    emulator.add_faults([{"path": AUDIT_PATH, "status": 503, "skip": 5, "times": 1}])
    pull_default(CelonisAuditLogOperator, concurrent, hook_params={"min_wait": 0.01, "max_wait": 0.02})
    assert any(e.get("status") == 503 for e in emulator.recent_requests())
    assert concurrent.read_bytes() == sequential.read_bytes()


def test_a_lasting_500_on_one_sub_window_fails_and_writes_nothing(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    out = tmp_path / "a.jsonl"
    emulator.add_faults([{"path": AUDIT_PATH, "status": 500, "skip": 4, "times": -1}])
    with pytest.raises(CelonisServerError):
        pull_default(CelonisAuditLogOperator, out, page_size=20, hook_params={"max_attempts": 1})
    assert list(tmp_path.iterdir()) == []
    sent = emulator.requests_to("GET", AUDIT_PATH)
    # The other sub-windows stopped: at most the requests in flight when it failed (cap 8).
    assert sent <= 4 + 8 + 8


@pytest.mark.parametrize(
    ("api_version", "problem"),
    [(1, "not the page 1 asked for"), (2, "repeats the previous page|already used")],
)
def test_a_repeated_page_within_a_sub_window_is_caught(
    emulator: EmulatorProcess, tmp_path: Path, api_version: int, problem: str
) -> None:
    """Every sub-window's second request gets its first page again: each listing's checks hold."""
    path = AUDIT_PATH if api_version == 1 else "/log/api/external/v2/audit"
    emulator.add_faults([{"path": path, "kind": "ignore_paging", "times": -1}])
    with pytest.raises(CelonisUnexpectedResponseError, match=problem):
        pull_default(CelonisAuditLogOperator, tmp_path / "a.jsonl", page_size=20, api_version=api_version)
    assert list(tmp_path.iterdir()) == []


def test_team_members_stay_sequential(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """A snapshot has no window to split: the default pull sends the calls of a sequential one."""
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    pull_default(CelonisTeamMembersOperator, a, page_size=10, read_ahead=0)
    default = emulator.requests_to("GET", "/api/external/members")
    emulator.reset()
    clear_token_cache()  # the reset forgot the token: no 401 and replay in the count
    pull_default(CelonisTeamMembersOperator, b, page_size=10, read_ahead=0, max_concurrency=1)
    assert emulator.requests_to("GET", "/api/external/members") == default
    assert a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("bad", [0, -1, 17, "4", 2.5, True, None])
def test_bad_max_concurrency_is_refused_at_parse_time(bad: Any) -> None:
    with pytest.raises(CelonisConfigurationError, match="max_concurrency"):
        CelonisAuditLogOperator(task_id="p", output_path="/tmp/x.jsonl", max_concurrency=bad)


def test_bad_max_concurrency_set_later_is_refused_before_any_call(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    op = CelonisAuditLogOperator(task_id="p", output_path=str(tmp_path / "a.jsonl"))
    op.max_concurrency = 99
    with pytest.raises(CelonisConfigurationError, match="max_concurrency"):
        op.execute(context())
    assert emulator.stats()["requests"] == {}
