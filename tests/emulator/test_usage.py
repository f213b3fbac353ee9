"""The emulated usage APIs answer like the reference says, raw over HTTP (what DAG authors see)."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisApiDisabledError
from airflow_provider_celonis.hooks.usage import CelonisUsageHook

WINDOW = {"from": "2025-01-01T00:00:00.000Z", "to": "2025-01-01T01:00:00.000Z"}


def token(emulator: EmulatorProcess, scope: str) -> dict[str, str]:
    answer = requests.post(
        f"{emulator.base_url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "scope": scope,
        },
        timeout=10,
    )
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def get(emulator: EmulatorProcess, path: str, scope: str, **params: object) -> requests.Response:
    return requests.get(
        f"{emulator.base_url}{path}", params=params, headers=token(emulator, scope), timeout=10
    )


def test_audit_v1_page_shape(emulator: EmulatorProcess) -> None:
    body = get(emulator, "/log/api/external/audit", "audit.log:read", pageSize=50, **WINDOW).json()
    assert set(body) == {"content", "pageNumber", "pageSize", "totalCount"}
    assert (body["pageNumber"], body["pageSize"], body["totalCount"], len(body["content"])) == (
        0,
        50,
        120,
        50,
    )
    past = get(emulator, "/log/api/external/audit", "audit.log", pageNumber=9, **WINDOW)
    assert past.status_code == 200
    assert past.json()["content"] == []


def test_each_api_checks_its_own_scope(emulator: EmulatorProcess) -> None:
    refused = get(emulator, "/log/api/external/audit", "team.login-history:read", **WINDOW)
    assert refused.status_code == 403
    assert refused.json()["errorCode"] == "ADMIN_ACCESS_ERROR"
    assert get(emulator, "/api/external/authentication-events", "audit.log:read").status_code == 403


def test_login_history_takes_local_seconds_only(emulator: EmulatorProcess) -> None:
    scope = "team.login-history:read"
    path = "/api/external/authentication-events"
    assert get(emulator, path, scope, **WINDOW).status_code == 400
    ok = get(emulator, path, scope, **{"from": "2025-01-01T00:00:00", "to": "2025-01-01T01:00:00"})
    assert ok.status_code == 200
    assert ok.json()["totalCount"] == 60
    assert (
        requests.post(f"{emulator.base_url}{path}", headers=token(emulator, scope), timeout=10).status_code
        == 405
    )


def test_bad_cursor_and_unknown_asset_type_are_400(emulator: EmulatorProcess) -> None:
    bad = get(emulator, "/log/api/external/v2/audit", "audit.log:read", pageToken="not-a-token", **WINDOW)
    assert bad.status_code == 400
    assert bad.json()["errorCode"] == "GENERAL_PARAMETER_MISSMATCH"
    path = "/platform-adoption/api/external/adoption-tracking-events/DASHBOARD"
    assert get(emulator, path, "platform-adoption.tracking-events:read", **WINDOW).status_code == 400


def test_tracking_service_off_is_403_with_empty_body(emulator: EmulatorProcess) -> None:
    emulator.configure(disabled_apis=["platform_adoption"])
    path = "/platform-adoption/api/external/adoption-tracking-events/STUDIO_ASSET"
    refused = get(emulator, path, "platform-adoption.tracking-events:read", **WINDOW)
    assert (refused.status_code, refused.content) == (403, b"")
    with pytest.raises(CelonisApiDisabledError):
        list(CelonisUsageHook().iter_studio_adoption(WINDOW["from"], WINDOW["to"]))


def test_control_route_validates_settings_and_counts_events(emulator: EmulatorProcess) -> None:
    with pytest.raises(RuntimeError, match="unknown usage settings"):
        emulator.configure_usage(page_size_max=5)
    with pytest.raises(RuntimeError, match="oversize"):
        emulator.configure_usage(oversize="truncate")
    emulator.configure_usage(audit_per_hour=1_000_000)
    assert emulator.usage_count("audit", "2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z") == 1_000_002
    emulator.reset()
    assert emulator.usage_count("audit", "2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z") == 120


def test_no_event_exists_in_the_future(emulator: EmulatorProcess) -> None:
    assert emulator.usage_count("audit", "2999-01-01T00:00:00Z", "2999-01-02T00:00:00Z") == 0


def test_count_is_half_open_whatever_the_to_inclusive_setting(emulator: EmulatorProcess) -> None:
    """The count route documents ``[start, end)``; an inclusive ``to`` is a page-request [guess] only."""
    window = ("2025-01-01T00:00:00Z", "2025-01-01T06:00:00Z")  # events fall on 06:00:00.000
    half_open = emulator.usage_count("audit", *window)
    assert half_open == 720
    emulator.configure_usage(to_inclusive=True)
    assert emulator.usage_count("audit", *window) == half_open
    hook = CelonisUsageHook()
    assert len(list(hook.iter_audit_log(*window))) == half_open


def test_visibility_delay_hides_events_younger_than_the_delay(emulator: EmulatorProcess) -> None:
    """Ingestion lag: with ``visibility_delay`` an event is queryable only that long after its time."""
    import datetime as dt

    emulator.configure_usage(audit_per_hour=36_000, burst=1)  # one event every 100 ms
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start, end = now - dt.timedelta(seconds=60), now - dt.timedelta(seconds=1)
    window = (start.isoformat(), end.isoformat())
    everything = emulator.usage_count("audit", *window)
    assert everything == 590
    hook = CelonisUsageHook()
    assert len(list(hook.iter_audit_log(*window))) == everything
    with pytest.raises(RuntimeError, match="visibility_delay"):
        emulator.configure_usage(visibility_delay=-1)
    emulator.configure_usage(visibility_delay=30)
    visible = emulator.usage_count("audit", *window, visible=True)
    # Events up to the emulator's "now - 30 s": 300 at `now`, 10 more per second the machine took
    # since (a loaded machine took more than one).
    late = (dt.datetime.now(dt.timezone.utc) - now).total_seconds()
    assert 270 <= visible <= 310 + 10 * late
    assert emulator.usage_count("audit", *window) == everything  # they exist, just not queryable
    assert len(list(hook.iter_audit_log(*window))) == pytest.approx(visible, abs=10)
    emulator.advance_clock(40)  # the emulator's clock moves on: every event of the window shows
    assert len(list(hook.iter_audit_log(*window))) == everything


def test_visibility_jitter_shows_events_out_of_order(emulator: EmulatorProcess) -> None:
    """With a jitter, a younger event can be queryable before an older one: a pull sees gaps."""
    import datetime as dt

    emulator.configure_usage(audit_per_hour=3600, burst=1, visibility_delay=10, visibility_jitter=100)
    now = dt.datetime.now(dt.timezone.utc)
    window = ((now - dt.timedelta(seconds=400)).isoformat(), now.isoformat())
    stamps = sorted(e["timestamp"] for e in CelonisUsageHook().iter_audit_log(*window))
    visible = emulator.usage_count("audit", *window, visible=True)
    assert len(stamps) == pytest.approx(visible, abs=3)
    every_second = emulator.usage_count("audit", *window)
    assert visible < every_second - 10  # the last 10 s are hidden, and part of the 100 s before
    assert visible > every_second - 110
    present = {s[:19] for s in stamps}  # one event a second: every second should be there
    span = dt.datetime.fromisoformat(max(present)) - dt.datetime.fromisoformat(min(present))
    assert len(present) < span.total_seconds() + 1  # a younger event shows before an older one


def test_rate_limit_answers_429_with_the_announced_reset(emulator: EmulatorProcess) -> None:
    emulator.configure_usage(rate_limit_per_second=2)
    emulator.usage_stats(reset=True)
    headers = token(emulator, "audit.log:read")
    statuses = [
        requests.get(
            f"{emulator.base_url}/log/api/external/audit", params=WINDOW, headers=headers, timeout=10
        )
        for _ in range(4)
    ]
    assert [r.status_code for r in statuses][:2] == [200, 200]
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, "4 requests within a second must exceed 2/s"
    assert refused[0].json()["errorCode"] == "LIMIT_RATE_EXCEEDED"
    assert refused[0].headers["x-ratelimit-limit"] == "2"
    assert int(refused[0].headers["x-ratelimit-reset"]) >= 1
    assert emulator.usage_stats()["rate_limited"] == len(refused)
    emulator.configure_usage(rate_limit_reset_format="retry_after")
    again = requests.get(
        f"{emulator.base_url}/log/api/external/audit", params=WINDOW, headers=headers, timeout=10
    )
    if again.status_code == 429:
        assert "retry-after" in again.headers


def test_rate_limit_per_client_counts_each_client_apart(emulator: EmulatorProcess) -> None:
    emulator.configure_usage(rate_limit_per_second=1, rate_limit_key="client")
    first = get(emulator, "/log/api/external/audit", "audit.log:read", **WINDOW)
    assert first.status_code == 200
    assert get(emulator, "/log/api/external/audit", "audit.log:read", **WINDOW).status_code == 429


def test_latency_overlaps_for_concurrent_requests(emulator: EmulatorProcess) -> None:
    """Requests in flight at once are counted (the concurrent extract's tests rely on it)."""
    from concurrent.futures import ThreadPoolExecutor

    emulator.configure_usage(latency=0.3)
    emulator.usage_stats(reset=True)
    headers = token(emulator, "audit.log:read")

    def one(_: int) -> int:
        url = f"{emulator.base_url}/log/api/external/audit"
        return requests.get(url, params=WINDOW, headers=headers, timeout=10).status_code

    with ThreadPoolExecutor(3) as pool:
        assert list(pool.map(one, range(3))) == [200, 200, 200]
    stats = emulator.usage_stats()
    assert stats["pages"] == 3
    assert stats["max_in_flight"] >= 2


def test_bad_rate_limit_settings_are_refused(emulator: EmulatorProcess) -> None:
    with pytest.raises(RuntimeError, match="rate_limit_key"):
        emulator.configure_usage(rate_limit_key="galaxy")
    with pytest.raises(RuntimeError, match="latency"):
        emulator.configure_usage(latency=-1)
