"""Credentials never leave their origin: redirects of the token endpoint and of API calls.

Every test runs over real sockets: a redirecting server of the test's own and an "attacker"
server on another port (another origin), which must receive nothing.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisRedirectError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

SECRET = "s3cret-never-leaves-origin"


def _conn(monkeypatch, host: str, token_url: str, **extra) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps(
            {
                "conn_type": "celonis",
                "host": host,
                "login": "demo-client",
                "password": SECRET,
                "extra": {"token_url": token_url, **extra},
            }
        ),
    )


def _redirect_to(target: str, status: int = 307):
    def answer(request: Received):
        return status, {"location": target + request.path}, b""

    return answer


def _call(hook: CelonisOAuthHook, is_async: bool, method: str = "GET", path: str = "/api/team"):
    if is_async:
        return asyncio.run(hook.arequest_json(method, path, api=TEAM))
    return hook.request_json(method, path, api=TEAM)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("auth_method", ["client_secret_post", "client_secret_basic"])
def test_token_endpoint_redirect_is_refused(monkeypatch, status, auth_method, is_async) -> None:
    with recorder() as attacker, recorder(_redirect_to(attacker.url, status)) as redirector:
        _conn(monkeypatch, redirector.url, f"{redirector.url}/oauth2/token", auth_method=auth_method)
        with pytest.raises(CelonisRedirectError) as info:
            _call(CelonisOAuthHook(max_attempts=2, min_wait=0.01, max_wait=0.01), is_async)
    assert attacker.received == [], "the client credentials reached another origin"
    assert len(redirector.received) == 1, "a refused redirect is not retried"
    text = str(info.value)
    assert info.value.status == status
    assert info.value.target == f"{attacker.url}/oauth2/token"
    assert attacker.url in text and "token_url" in text
    assert SECRET not in text


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_token_endpoint_same_origin_redirect_is_refused_too(monkeypatch, is_async) -> None:
    """Even to its own origin: the target may be another tenant's path behind the same host."""
    with recorder(lambda r: (308, {"location": "/elsewhere/token"}, b"")) as server:
        _conn(monkeypatch, server.url, f"{server.url}/oauth2/token")
        with pytest.raises(CelonisRedirectError, match="/elsewhere/token"):
            _call(CelonisOAuthHook(), is_async)
    assert [r.path for r in server.received] == ["/oauth2/token"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("status", [302, 307, 308])
def test_api_redirect_to_another_origin_is_refused(emulator, monkeypatch, status, is_async) -> None:
    """The team URL answers a redirect to another origin: the bearer token must not follow."""
    with recorder() as attacker, recorder(_redirect_to(attacker.url, status)) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {
                    "conn_type": "celonis",
                    "host": team.url,
                    "login": "demo-client",
                    "password": "demo-secret",
                    "extra": {"token_url": f"{emulator.base_url}/oauth2/token"},
                }
            ),
        )
        with pytest.raises(CelonisRedirectError) as info:
            _call(CelonisOAuthHook(), is_async)
    assert attacker.received == []
    assert "another origin" in str(info.value)
    assert info.value.target == f"{attacker.url}/api/team"
    assert team.received[0].headers.get("Authorization", "").startswith("Bearer ")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_api_read_follows_a_same_origin_redirect(emulator, monkeypatch, is_async) -> None:
    def answer(request: Received):
        if request.path == "/api/old":
            return 302, {"location": "/api/new?x=1"}, b""
        return 200, {"content-type": "application/json"}, b'{"ok": true}'

    with recorder(answer) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            emulator.connection_json(token_url=f"{emulator.base_url}/oauth2/token").replace(
                emulator.base_url + '"', team.url + '"', 1
            ),
        )
        assert _call(CelonisOAuthHook(), is_async, path="/api/old") == {"ok": True}
    assert [r.path for r in team.received] == ["/api/old", "/api/new?x=1"]
    assert all(r.headers.get("Authorization", "").startswith("Bearer ") for r in team.received)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_redirected_post_is_not_resent_and_loops_stop(emulator, monkeypatch, is_async) -> None:
    with recorder(lambda r: (307, {"location": r.path}, b"")) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            emulator.connection_json(token_url=f"{emulator.base_url}/oauth2/token").replace(
                emulator.base_url + '"', team.url + '"', 1
            ),
        )
        hook = CelonisOAuthHook()
        with pytest.raises(CelonisRedirectError, match="not re-sent"):
            _call(hook, is_async, method="POST", path="/api/jobs")
        assert len(team.received) == 1
        with pytest.raises(CelonisRedirectError, match="more than 5 redirects"):
            _call(hook, is_async, path="/api/loop")
        assert len(team.received) == 1 + 6
