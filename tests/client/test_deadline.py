"""A total deadline per request (connect + send + whole body), sync as async.

A server of the test's own trickles its answer one byte every 0.2 s: each read is quick, so a
per-read timeout never fires; the hook must still give up after ``timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from hostile_servers import recorder, trickle_server

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisRequestMaybeSentError, CelonisTransportError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook


def _legacy_conn(monkeypatch, host: str) -> None:
    # A legacy key: no token endpoint involved, the trickling server is the only peer.
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps({"conn_type": "celonis", "host": host, "extra": {"api_key": "k-123456"}}),
    )


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("in_headers", [False, True], ids=["body", "headers"])
def test_trickling_server_cannot_hold_a_call_past_its_timeout(monkeypatch, is_async, in_headers) -> None:
    with trickle_server(in_headers=in_headers) as url:
        _legacy_conn(monkeypatch, url)
        hook = CelonisOAuthHook(timeout=1, max_attempts=1)
        started = time.monotonic()
        with pytest.raises(CelonisTransportError) as info:
            _get_team(hook, is_async)
        elapsed = time.monotonic() - started
    assert elapsed < 2.0, f"held for {elapsed:.1f} s with timeout=1 (the whole answer takes 12 s)"
    assert "Timeout" in str(info.value) or "timeout" in str(info.value).lower()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_trickled_post_is_reported_as_maybe_sent(monkeypatch) -> None:
    """A POST cut by the deadline may have acted: never replayed, typed accordingly."""
    with trickle_server() as url:
        _legacy_conn(monkeypatch, url)
        with pytest.raises(CelonisRequestMaybeSentError):
            CelonisOAuthHook(timeout=0.5, max_attempts=3).request("POST", "/api/jobs", api=TEAM, json={})


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_quick_answer_is_unaffected_and_the_timer_does_not_hit_the_next_call(monkeypatch) -> None:
    """The deadline of a finished call must not shut down the kept-alive socket of a later one."""
    with recorder() as server:
        _legacy_conn(monkeypatch, server.url)
        hook = CelonisOAuthHook(timeout=0.3)
        for _ in range(3):
            assert hook.request_json("GET", "/api/team", api=TEAM) == {}
            time.sleep(0.35)
        assert len(server.received) == 3


def _get_team(hook: CelonisOAuthHook, is_async: bool) -> object:
    if is_async:
        return asyncio.run(hook.arequest_json("GET", "/api/team", api=TEAM))
    return hook.request_json("GET", "/api/team", api=TEAM)
