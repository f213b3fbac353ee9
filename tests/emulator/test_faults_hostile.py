"""The emulator plays the hostile servers too (fault kinds redirect, echo, trickle), so the
security cases run against the same server as everything else."""

from __future__ import annotations

import asyncio
import time

import pytest
from hostile_servers import recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisError, CelonisRedirectError, CelonisTransportError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook


def _team(hook: CelonisOAuthHook, is_async: bool) -> object:
    if is_async:
        return asyncio.run(hook.arequest_json("GET", "/api/team", api=TEAM))
    return hook.request_json("GET", "/api/team", api=TEAM)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_emulator_token_endpoint_redirecting_elsewhere(emulator, is_async) -> None:
    with recorder() as attacker:
        emulator.add_faults(
            [{"path": "^/oauth2/token$", "kind": "redirect", "status": 308, "location": f"{attacker.url}/t"}]
        )
        with pytest.raises(CelonisRedirectError, match=attacker.url):
            _team(CelonisOAuthHook(), is_async)
    assert attacker.received == []
    assert emulator.stats()["token_requests"] == 0


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_emulator_api_redirecting_elsewhere_and_within(emulator, is_async) -> None:
    with recorder() as attacker:
        emulator.add_faults([{"path": "^/api/team$", "kind": "redirect", "location": f"{attacker.url}/x"}])
        with pytest.raises(CelonisRedirectError, match="another origin"):
            _team(CelonisOAuthHook(), is_async)
    assert attacker.received == []
    emulator.add_faults([{"path": "^/api/team$", "kind": "redirect", "status": 302, "location": "/api/team"}])
    assert _team(CelonisOAuthHook(), is_async)["name"] == "emulated-team"  # type: ignore[index]


@pytest.mark.parametrize("client", ["demo", "basic"])
def test_emulator_echoing_the_client_secret(emulator, monkeypatch, client) -> None:
    if client == "basic":
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            emulator.connection_json(("basic-client", "basic-secret"), auth_method="client_secret_basic"),
        )
    secret = "basic-secret" if client == "basic" else "demo-secret"
    emulator.add_faults([{"path": "^/oauth2/token$", "kind": "echo", "status": 401}])
    with pytest.raises(CelonisError) as info:
        _team(CelonisOAuthHook(), False)
    assert "Rejected request" in str(info.value)  # the echo reached the error...
    assert secret not in str(info.value)  # ...without the secret
    assert "***" in str(info.value)


def test_emulator_echoing_the_bearer_token(emulator) -> None:
    from airflow_provider_celonis.auth.token_cache import TOKEN_CACHE

    emulator.add_faults([{"path": "^/api/team$", "kind": "echo", "status": 400}])
    with pytest.raises(CelonisError) as info:
        _team(CelonisOAuthHook(), False)
    tokens = [t.value for t in TOKEN_CACHE._tokens.values()]
    assert tokens and all(t not in str(info.value) for t in tokens)
    assert "Bearer ***" in str(info.value)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_emulator_trickling_an_answer(emulator, is_async) -> None:
    hook = CelonisOAuthHook(timeout=1, max_attempts=1)
    hook.get_config()
    _team(hook, is_async)  # the token is fetched before the fault, so only the API call trickles
    emulator.add_faults([{"path": "^/api/team$", "kind": "trickle", "delay": 0.2}])
    started = time.monotonic()
    with pytest.raises(CelonisTransportError):
        _team(hook, is_async)
    assert time.monotonic() - started < 2.0
