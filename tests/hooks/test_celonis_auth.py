"""OAuth against the emulator over real HTTP: both client auth methods, caching, refresh."""

from __future__ import annotations

import asyncio
import time
import warnings

import pytest

from airflow_provider_celonis.client.apis import TEAM_MEMBERS
from airflow_provider_celonis.client.transport import close_loop_session
from airflow_provider_celonis.exceptions import CelonisInvalidClientError, CelonisInvalidScopeError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

MEMBERS = "/api/external/members"
PARAMS = {"includeInternal": "true", "pageSize": 5}


def members(hook: CelonisOAuthHook) -> dict:
    return hook.request_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS)


@pytest.mark.parametrize("conn_id", ["celonis_default", "celonis_basic"])
def test_both_client_authentication_methods(emulator, conn_id: str) -> None:
    page = members(CelonisOAuthHook(conn_id))
    assert len(page["content"]) == 5
    stats = emulator.stats()
    client = "demo-client" if conn_id == "celonis_default" else "basic-client"
    assert stats["token_requests_by_client"] == {client: 1}


def test_requests_exactly_the_api_scope(emulator, monkeypatch) -> None:
    # A client allowed only this one scope fails if the hook asks for anything more.
    emulator.add_client("narrow", "narrow-secret", scopes=["team.user-group-info:read"])
    monkeypatch.setenv("AIRFLOW_CONN_NARROW_CONN", emulator.connection_json(("narrow", "narrow-secret")))
    assert members(CelonisOAuthHook("narrow_conn"))["totalCount"] == 57


def test_thousand_sequential_calls_one_token(emulator) -> None:
    hook = CelonisOAuthHook()
    for _ in range(1000):
        hook.request_json("GET", "/api/team", api="team")
    stats = emulator.stats()
    assert stats["token_requests"] == 1
    assert stats["requests"]["GET /api/team"] == 1000


def test_new_hooks_share_the_process_cache(emulator) -> None:
    for _ in range(20):
        members(CelonisOAuthHook())
    assert emulator.stats()["token_requests"] == 1


async def test_two_hundred_concurrent_async_calls_one_token(emulator) -> None:
    hooks = [CelonisOAuthHook() for _ in range(200)]
    try:
        pages = await asyncio.gather(
            *[h.arequest_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS) for h in hooks]
        )
    finally:
        await close_loop_session()
    assert all(len(p["content"]) == 5 for p in pages)
    stats = emulator.stats()
    assert stats["token_requests"] == 1
    assert stats["requests"][f"GET {MEMBERS}"] == 200


def test_refresh_before_expiry_without_a_401(emulator) -> None:
    emulator.configure(token_lifetime=2)  # refresh a quarter early: after 1.5 s
    hook = CelonisOAuthHook()
    members(hook)
    time.sleep(1.7)
    members(hook)
    stats = emulator.stats()
    assert stats["token_requests"] == 2
    assert stats["requests"][f"GET {MEMBERS}"] == 2  # no rejected attempt in between


def test_401_drops_the_token_and_replays_once(emulator) -> None:
    hook = CelonisOAuthHook()
    members(hook)
    assert emulator.expire_tokens() == 1
    assert len(members(hook)["content"]) == 5
    stats = emulator.stats()
    assert stats["token_requests"] == 2
    assert stats["requests"][f"GET {MEMBERS}"] == 3  # ok, 401, replay


async def test_async_401_replays_once(emulator) -> None:
    hook = CelonisOAuthHook()
    try:
        await hook.arequest_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS)
        emulator.expire_tokens()
        page = await hook.arequest_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS)
    finally:
        await close_loop_session()
    assert len(page["content"]) == 5
    assert emulator.stats()["token_requests"] == 2


def test_wrong_secret(emulator, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("demo-client", "wrong")))
    with pytest.raises(CelonisInvalidClientError) as info:
        members(CelonisOAuthHook())
    assert info.value.status == 401
    assert "client_secret_basic" in str(info.value)
    assert "wrong" not in str(info.value)


def test_wrong_auth_method_names_the_right_one(emulator, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        emulator.connection_json(("basic-client", "basic-secret"), auth_method="client_secret_post"),
    )
    with pytest.raises(CelonisInvalidClientError, match="set the extra auth_method to client_secret_basic"):
        members(CelonisOAuthHook())


def test_missing_scope(emulator, monkeypatch) -> None:
    emulator.add_client("auditor", "auditor-secret", scopes=["audit.log:read"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("auditor", "auditor-secret"))
    )
    with pytest.raises(CelonisInvalidScopeError) as info:
        members(CelonisOAuthHook())
    assert info.value.scopes == ("team.user-group-info:read",)
    assert "add it to the client under Admin & Settings > Applications" in str(info.value)


def test_scope_override_from_connection(emulator, monkeypatch) -> None:
    emulator.add_client("old-style", "s", scopes=["team.user-group-info"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        emulator.connection_json(("old-style", "s"), scopes={"team_members": "team.user-group-info"}),
    )
    assert members(CelonisOAuthHook())["totalCount"] == 57


def test_legacy_api_key_works_with_a_deprecation_warning(emulator, monkeypatch) -> None:
    emulator.configure(legacy_keys={"legacy-app-key": "AppKey"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        f'{{"conn_type": "celonis", "host": "{emulator.base_url}", '
        '"extra": {"api_key": "legacy-app-key", "key_type": "AppKey"}}',
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert members(CelonisOAuthHook())["totalCount"] == 57
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any("README.md#migrating-from-api-and-application-keys-to-oauth" in m for m in messages)
    assert all("legacy-app-key" not in m for m in messages)
    assert emulator.stats()["token_requests"] == 0


async def test_async_session_is_shared_while_held_and_closed_after(emulator) -> None:
    from airflow_provider_celonis.client.transport import open_sessions

    hook = CelonisOAuthHook()
    await hook.arequest_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS)
    assert open_sessions() == 0  # a lone request closes what it opened
    async with hook.async_session():
        for _ in range(3):
            await hook.arequest_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS)
            assert open_sessions() == 1
    assert open_sessions() == 0
