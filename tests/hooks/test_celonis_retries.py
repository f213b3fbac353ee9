"""Retries against injected faults: rate limits, 5xx, dropped connections, timeouts, POST safety."""

from __future__ import annotations

import json
import re
import socket

import pytest

from airflow_provider_celonis.client.apis import DATA_JOBS, TEAM_MEMBERS
from airflow_provider_celonis.client.transport import close_loop_session
from airflow_provider_celonis.exceptions import (
    CelonisNotFoundError,
    CelonisRateLimitError,
    CelonisRequestMaybeSentError,
    CelonisServerError,
    CelonisTransportError,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

MEMBERS = "/api/external/members"
PARAMS = {"includeInternal": "true", "pageSize": 5}
EXECUTE = "/api/v2/data-pools/pool-x/data-jobs/job-x/execute"
EXECUTE_PATH = f"/integration{EXECUTE}"
FAST = {"min_wait": 0.01, "max_wait": 0.05, "max_attempts": 4}


def members(hook: CelonisOAuthHook) -> dict:
    return hook.request_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS)


def retry_waits(capsys: pytest.CaptureFixture[str]) -> list[float]:
    """The waits the hook announced in its retry warnings (Airflow's structlog writes to stdout)."""
    captured = capsys.readouterr()
    return [float(m) for m in re.findall(r"retrying in ([0-9.]+) s", captured.out + captured.err)]


@pytest.mark.parametrize("reset_format", ["seconds", "datetime", "retry_after"])
def test_429_waits_for_the_announced_reset(emulator, capsys, reset_format: str) -> None:
    emulator.add_faults(
        [{"path": MEMBERS, "kind": "rate_limit", "times": 2, "reset": 1, "reset_format": reset_format}]
    )
    assert len(members(CelonisOAuthHook(**FAST))["content"]) == 5
    waits = retry_waits(capsys)
    assert len(waits) == 2
    # The announced reset (1 s; a date-time loses a little to transit), not the 0.05 s backoff cap.
    assert all(0.7 <= w <= 1.2 for w in waits), waits
    assert emulator.requests_to("GET", MEMBERS) == 3


def test_429_without_reset_header_backs_off(emulator, capsys) -> None:
    emulator.add_faults([{"path": MEMBERS, "kind": "rate_limit", "times": 1, "reset_format": "none"}])
    members(CelonisOAuthHook(**FAST))
    waits = retry_waits(capsys)
    assert len(waits) == 1 and waits[0] <= 0.05


def test_429_that_outlasts_retries(emulator) -> None:
    emulator.add_faults([{"path": MEMBERS, "kind": "rate_limit", "times": -1, "reset": 0}])
    with pytest.raises(CelonisRateLimitError) as info:
        members(CelonisOAuthHook(**FAST))
    assert info.value.status == 429
    assert info.value.error_code == "LIMIT_RATE_EXCEEDED"
    assert info.value.reset_in == 0
    assert "Airflow pool" in str(info.value)
    assert emulator.requests_to("GET", MEMBERS) == 4


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_are_retried(emulator, status: int) -> None:
    emulator.add_faults([{"path": MEMBERS, "status": status, "times": 3}])
    assert len(members(CelonisOAuthHook(**FAST))["content"]) == 5
    assert emulator.requests_to("GET", MEMBERS) == 4


def test_500_is_not_retried(emulator) -> None:
    emulator.add_faults([{"path": MEMBERS, "status": 500, "times": 1}])
    with pytest.raises(CelonisServerError, match="Celonis Support ID") as info:
        members(CelonisOAuthHook(**FAST))
    assert info.value.error_code == "ADMIN_FATAL_ERROR"
    assert emulator.requests_to("GET", MEMBERS) == 1


def test_5xx_burst_longer_than_the_retries(emulator) -> None:
    emulator.add_faults([{"path": MEMBERS, "status": 503, "times": -1}])
    with pytest.raises(CelonisServerError, match="after retries"):
        members(CelonisOAuthHook(**FAST))
    assert emulator.requests_to("GET", MEMBERS) == 4


def test_dropped_connection_on_get_is_retried(emulator) -> None:
    emulator.add_faults([{"path": MEMBERS, "kind": "drop", "times": 2}])
    assert len(members(CelonisOAuthHook(**FAST))["content"]) == 5
    assert emulator.requests_to("GET", MEMBERS) == 3


def test_slow_get_times_out_and_is_retried(emulator) -> None:
    emulator.add_faults([{"path": MEMBERS, "kind": "delay", "delay": 1.5, "times": 1}])
    assert len(members(CelonisOAuthHook(timeout=0.3, **FAST))["content"]) == 5
    assert emulator.requests_to("GET", MEMBERS) == 2


def test_token_endpoint_faults_are_retried(emulator) -> None:
    emulator.add_faults([{"path": "/oauth2/token", "status": 503, "times": 2}])
    members(CelonisOAuthHook(**FAST))
    assert emulator.requests_to("POST", "/oauth2/token") == 3


# -- a POST that may start a job -------------------------------------------------------------
def post_execute(hook: CelonisOAuthHook) -> object:
    return hook.request_json("POST", EXECUTE, api=DATA_JOBS, params={"mode": "DELTA"})


def test_post_dropped_after_reaching_the_server_is_not_replayed(emulator) -> None:
    emulator.add_faults([{"path": EXECUTE_PATH, "kind": "drop", "process": True, "times": 1}])
    with pytest.raises(CelonisRequestMaybeSentError, match="not sent again"):
        post_execute(CelonisOAuthHook(**FAST))
    assert emulator.requests_to("POST", EXECUTE_PATH) == 1


def test_post_timeout_is_not_replayed(emulator) -> None:
    emulator.add_faults([{"path": EXECUTE_PATH, "kind": "delay", "delay": 1.5, "times": 1}])
    with pytest.raises(CelonisRequestMaybeSentError):
        post_execute(CelonisOAuthHook(timeout=0.3, **FAST))
    assert emulator.requests_to("POST", EXECUTE_PATH) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("process", [True, False])
def test_post_server_error_is_not_replayed(emulator, status: int, process: bool) -> None:
    """A 5xx does not prove whether Celonis acted (a proxy's 503 after the write), before or after."""
    emulator.add_faults([{"path": EXECUTE_PATH, "status": status, "process": process, "times": 1}])
    with pytest.raises(CelonisRequestMaybeSentError, match=f"HTTP {status}"):
        post_execute(CelonisOAuthHook(**FAST))
    assert emulator.requests_to("POST", EXECUTE_PATH) == 1


def test_post_refused_with_429_is_replayed(emulator) -> None:
    emulator.add_faults([{"path": EXECUTE_PATH, "times": 2, "kind": "rate_limit", "reset": 0}])
    # After the faults the emulator answers for real: an unknown pool here, so a 404.
    with pytest.raises(CelonisNotFoundError):
        post_execute(CelonisOAuthHook(**FAST))
    assert emulator.requests_to("POST", EXECUTE_PATH) == 3


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_team_fails_after_retries(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps(
            {
                "conn_type": "celonis",
                "host": f"http://127.0.0.1:{_closed_port()}",
                "login": "a",
                "password": "b",
            }
        ),
    )
    with pytest.raises(CelonisTransportError, match="after 4 attempts") as info:
        post_execute(CelonisOAuthHook(**FAST))
    assert not isinstance(info.value, CelonisRequestMaybeSentError)


# -- the async path shares the policy ----------------------------------------------------------
async def test_async_path_survives_429_5xx_and_drops(emulator) -> None:
    emulator.add_faults(
        [
            {"path": MEMBERS, "kind": "rate_limit", "times": 1, "reset": 0.2, "reset_format": "datetime"},
            {"path": MEMBERS, "status": 502, "times": 1},
            {"path": MEMBERS, "kind": "drop", "times": 1},
        ]
    )
    try:
        page = await CelonisOAuthHook(**FAST).arequest_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS)
    finally:
        await close_loop_session()
    assert len(page["content"]) == 5
    assert emulator.requests_to("GET", MEMBERS) == 4


async def test_async_post_is_not_replayed_after_a_drop(emulator) -> None:
    emulator.add_faults([{"path": EXECUTE_PATH, "kind": "drop", "process": True, "times": 1}])
    try:
        with pytest.raises(CelonisRequestMaybeSentError):
            await CelonisOAuthHook(**FAST).arequest_json("POST", EXECUTE, api=DATA_JOBS)
    finally:
        await close_loop_session()
    assert emulator.requests_to("POST", EXECUTE_PATH) == 1


def test_a_reset_beyond_max_rate_limit_wait_fails_at_once(emulator) -> None:
    # A daily quota that resets in ten minutes: waiting in the task helps nobody.
    emulator.add_faults([{"path": MEMBERS, "kind": "rate_limit", "times": -1, "reset": 600}])
    with pytest.raises(CelonisRateLimitError, match="resets in about 600 s") as info:
        members(CelonisOAuthHook(max_rate_limit_wait=5, **FAST))
    assert info.value.reset_in is not None and info.value.reset_in > 590
    assert emulator.requests_to("GET", MEMBERS) == 1
