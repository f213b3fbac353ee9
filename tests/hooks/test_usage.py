"""CelonisUsageHook generators against the emulator: windows, paging styles, [guess] variants, faults."""

from __future__ import annotations

import itertools

import pendulum
import pytest
from usage_support import AUDIT_PATH, END, START, iso, key

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisBadRequestError,
    CelonisConfigurationError,
    CelonisPermissionError,
    CelonisServerError,
)
from airflow_provider_celonis.hooks.usage import CelonisUsageHook, canonical_ts, parse_display_time


def expected(
    emulator: EmulatorProcess, stream: str, start: pendulum.DateTime = START, end: pendulum.DateTime = END
) -> int:
    return emulator.usage_count(stream, iso(start), iso(end))


@pytest.mark.parametrize("api_version", [1, 2])
def test_audit_log_yields_every_event_of_the_window_once(emulator: EmulatorProcess, api_version: int) -> None:
    records = list(CelonisUsageHook().iter_audit_log(START, END, api_version=api_version, page_size=50))
    assert len(records) == expected(emulator, "audit") == 720
    assert len({key(r) for r in records}) == 720
    assert all(iso(START) <= pendulum.parse(r["timestamp"]).isoformat() < iso(END) for r in records)
    assert set(records[0]) >= {"userId", "userRole", "event", "timestamp", "message"}


def test_audit_pages_really_are_unordered_and_share_milliseconds(emulator: EmulatorProcess) -> None:
    page = list(itertools.islice(CelonisUsageHook().iter_audit_log(START, END, page_size=30), 30))
    stamps = [r["timestamp"] for r in page]
    assert stamps != sorted(stamps) and stamps != sorted(stamps, reverse=True)
    assert len(set(stamps)) < len(stamps)


def test_adjacent_windows_partition_a_larger_one(emulator: EmulatorProcess) -> None:
    """Half-open windows: an event on the boundary belongs to exactly one interval."""
    hook = CelonisUsageHook()
    middle = pendulum.datetime(2025, 1, 1, 3, 0, 1, 500_000, tz="UTC")
    first = {key(r) for r in hook.iter_audit_log(START, middle)}
    second = {key(r) for r in hook.iter_audit_log(middle, END)}
    assert not first & second
    assert first | second == {key(r) for r in hook.iter_audit_log(START, END)}


@pytest.mark.parametrize("last_page", ["absent", "empty", "null"])
def test_v2_cursor_stops_on_every_last_page_variant(emulator: EmulatorProcess, last_page: str) -> None:
    emulator.configure_usage(v2_last_page=last_page)
    records = list(CelonisUsageHook().iter_audit_log(START, END, api_version=2, page_size=200))
    assert len(records) == 720
    assert emulator.requests_to("GET", "/log/api/external/v2/audit") == 4


def test_page_size_above_the_maximum_is_refused_or_clamped(emulator: EmulatorProcess) -> None:
    hook = CelonisUsageHook()
    with pytest.raises(CelonisBadRequestError, match="pageSize"):
        list(hook.iter_audit_log(START, END, page_size=500))
    emulator.configure_usage(oversize="clamp")
    assert len(list(hook.iter_audit_log(START, END, page_size=500))) == 720


def test_end_before_start_fails_before_any_call(emulator: EmulatorProcess) -> None:
    with pytest.raises(CelonisConfigurationError, match=r"'end'.*before start"):
        list(CelonisUsageHook().iter_audit_log(END, START))
    assert emulator.stats()["api_calls"] == 0
    assert emulator.stats()["token_requests"] == 0


@pytest.mark.parametrize("empty_status", [204, 200])
def test_login_history_with_sub_second_window_and_both_empty_page_answers(
    emulator: EmulatorProcess, empty_status: int
) -> None:
    emulator.configure_usage(login_empty_status=empty_status)
    start, end = START.add(microseconds=500_000), END.subtract(microseconds=250_000)
    records = list(CelonisUsageHook().iter_login_history(start, end, page_size=100))
    assert len(records) == expected(emulator, "login", start, end) > 300
    assert {r["authenticationEventType"] for r in records} >= {"LOGIN", "LOGOUT", "BAD_CREDENTIALS"}
    assert all(r["success"] is False for r in records if r["authenticationEventType"] == "BAD_CREDENTIALS")


@pytest.mark.parametrize("api_version", [1, 2])
def test_adoption_with_renamed_parameters_and_timestamp_field(
    emulator: EmulatorProcess, api_version: int
) -> None:
    """[guess] parameter names and timestamp field are configurable on both sides."""
    emulator.configure_usage(
        adoption_timestamp_field="eventTime",
        adoption_params={"from": "startDate", "to": "endDate", "pageSize": "size"},
    )
    records = list(
        CelonisUsageHook().iter_studio_adoption(
            START,
            END,
            api_version=api_version,
            page_size=120,
            timestamp_field="eventTime",
            param_names={"from": "startDate", "to": "endDate", "pageSize": "size"},
        )
    )
    assert len(records) == expected(emulator, "adoption") == 540
    assert all("eventTime" in r and "timestamp" not in r for r in records)


def test_team_members_keep_last_login_and_add_iso_when_it_parses(emulator: EmulatorProcess) -> None:
    hook = CelonisUsageHook()
    members = list(hook.iter_team_members(page_size=20))
    assert len(members) == 57
    parsed = [m for m in members if "lastLoginIso" in m]
    assert parsed and all(parse_display_time(m["lastLogin"]) == m["lastLoginIso"] for m in parsed)
    assert {m["lastLogin"] for m in members if "lastLoginIso" not in m} == {None, "Never"}
    assert len(list(hook.iter_team_members(include_internal=False))) < 57


def test_display_time_parsing() -> None:
    assert parse_display_time("12/10/2023, 6:49:07 AM UTC") == "2023-12-10T06:49:07Z"
    assert parse_display_time("1/2/2024, 12:00:00 AM UTC") == "2024-01-02T00:00:00Z"
    assert parse_display_time("1/2/2024, 12:30:00 PM UTC") == "2024-01-02T12:30:00Z"
    assert parse_display_time("13/45/2024, 1:00:00 PM UTC") is None
    assert parse_display_time("10.12.2023 06:49") is None
    assert canonical_ts("2025-01-01T01:00:00+01:00") == "2025-01-01T00:00:00.000Z"


def test_token_expiring_mid_pagination_loses_nothing(emulator: EmulatorProcess) -> None:
    records = CelonisUsageHook().iter_audit_log(START, END, page_size=50)
    seen = list(itertools.islice(records, 120))  # three pages fetched
    assert emulator.expire_tokens() == 1
    seen += list(records)
    assert len({key(r) for r in seen}) == len(seen) == 720
    assert emulator.stats()["token_requests"] == 2
    assert emulator.requests_to("GET", AUDIT_PATH) == 15 + 1 + 1  # pages, the empty one, the refused one


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "rate_limit", "reset": 0, "times": 2},
        {"kind": "status", "status": 503, "times": 2},
        {"kind": "status", "status": 502, "times": 1},
        {"kind": "drop", "times": 1},
    ],
    ids=["429", "503", "502", "dropped"],
)
def test_transient_faults_mid_pagination_lose_nothing(
    emulator: EmulatorProcess, fast_retries: dict[str, float], fault: dict[str, object]
) -> None:
    emulator.add_faults([{"path": AUDIT_PATH, "skip": 4, **fault}])
    records = list(CelonisUsageHook(**fast_retries).iter_audit_log(START, END, page_size=50))
    assert len({key(r) for r in records}) == len(records) == 720
    assert emulator.stats()["faults_pending"] == 0


def test_permanent_server_error_surfaces(emulator: EmulatorProcess, fast_retries: dict[str, float]) -> None:
    emulator.add_faults([{"path": AUDIT_PATH, "status": 503, "skip": 2, "times": -1}])
    with pytest.raises(CelonisServerError):
        list(CelonisUsageHook(**fast_retries).iter_audit_log(START, END, page_size=50))


def test_missing_permission_names_the_api(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.add_client("no-audit", "no-audit-secret", permissions=["USE_LOGIN_HISTORY_API"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_NO_AUDIT", emulator.connection_json(("no-audit", "no-audit-secret"))
    )
    hook = CelonisUsageHook("celonis_no_audit")
    assert len(list(hook.iter_login_history(START, START.add(hours=1)))) == 60
    with pytest.raises(CelonisPermissionError, match="Audit Log"):
        list(hook.iter_audit_log(START, END))


def test_events_arriving_during_pagination_shift_pages_but_lose_no_existing_event(
    emulator: EmulatorProcess,
) -> None:
    hook = CelonisUsageHook()
    before = {key(r) for r in hook.iter_audit_log(START, END, page_size=50)}
    emulator.configure_usage(arrivals_per_request=7)
    during = [key(r) for r in hook.iter_audit_log(START, END, page_size=50)]
    assert before <= set(during)
    assert len(during) > len(set(during)), "pages shifted, so some events came twice"


@pytest.mark.parametrize("api_version", [1, 2])
def test_read_ahead_gives_the_same_records_with_few_speculative_calls(
    emulator: EmulatorProcess, fast_retries: dict[str, float], api_version: int
) -> None:
    hook = CelonisUsageHook(**fast_retries)
    plain = [key(r) for r in hook.iter_audit_log(START, END, api_version=api_version, page_size=50)]
    path = AUDIT_PATH if api_version == 1 else "/log/api/external/v2/audit"
    sequential_calls = emulator.requests_to("GET", path)
    emulator.add_faults([{"path": path, "status": 503, "skip": 5, "times": 1}])
    ahead = [
        key(r) for r in hook.iter_audit_log(START, END, api_version=api_version, page_size=50, read_ahead=2)
    ]
    assert ahead == plain
    calls = emulator.requests_to("GET", path) - sequential_calls
    assert emulator.stats()["faults_pending"] == 0
    assert sequential_calls + 1 <= calls <= sequential_calls + 1 + 3  # the 503, then depth + 1 past the end
