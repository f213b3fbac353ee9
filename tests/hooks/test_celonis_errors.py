"""Celonis refusals as the hook reports them, against the emulator's real answers."""

from __future__ import annotations

import pytest

from airflow_provider_celonis.client.apis import AUDIT_LOG, TEAM_MEMBERS
from airflow_provider_celonis.exceptions import (
    CelonisApiDisabledError,
    CelonisBadRequestError,
    CelonisConfigurationError,
    CelonisNotFoundError,
    CelonisPermissionError,
    CelonisUnauthorizedError,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

MEMBERS = "/api/external/members"
PARAMS = {"includeInternal": "true"}


def members(hook: CelonisOAuthHook) -> object:
    return hook.request_json("GET", MEMBERS, api=TEAM_MEMBERS, params=PARAMS)


def test_missing_permission_names_scope_and_permission(emulator, monkeypatch) -> None:
    emulator.add_client("no-perm", "s", permissions=["USE_AUDIT_LOGS_API"])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("no-perm", "s")))
    with pytest.raises(CelonisPermissionError) as info:
        members(CelonisOAuthHook())
    err = info.value
    assert (err.status, err.error_code) == (403, "ADMIN_ACCESS_ERROR")
    assert "Access is denied" in str(err)
    assert "Use User Group Info API" in str(err) and "team.user-group-info:read" in str(err)


def test_api_disabled_for_the_team(emulator) -> None:
    emulator.configure(disabled_apis=["team_members"])
    with pytest.raises(CelonisApiDisabledError, match="not enabled for this team"):
        members(CelonisOAuthHook())


def test_scope_refused_with_401_after_one_fresh_token(emulator, monkeypatch) -> None:
    # A token for another API's scope, on a team that answers a missing scope with 401.
    emulator.configure(scope_denied_status=401)
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(scopes={"team_members": "audit.log:read"})
    )
    with pytest.raises(CelonisUnauthorizedError, match="A fresh token was also refused") as info:
        members(CelonisOAuthHook())
    assert "Use User Group Info API" in str(info.value)
    stats = emulator.stats()
    assert stats["token_requests"] == 2  # the first token, then one re-grant; no loop
    assert stats["requests"][f"GET {MEMBERS}"] == 2


def test_bad_parameter(emulator) -> None:
    with pytest.raises(CelonisBadRequestError, match="includeInternal") as info:
        CelonisOAuthHook().request_json("GET", MEMBERS, api=TEAM_MEMBERS)
    assert info.value.error_code == "GENERAL_PARAMETER_MISSMATCH"


def test_unknown_path_mentions_the_prefix(emulator) -> None:
    with pytest.raises(CelonisNotFoundError, match="api_prefixes") as info:
        CelonisOAuthHook().request_json("GET", "/api/external/nothing", api=AUDIT_LOG)
    assert info.value.path == "/api/external/nothing"
    assert info.value.error_code == "GENERAL_NOTFOUND_PATH"


def test_api_prefix_override(emulator, monkeypatch) -> None:
    hook = CelonisOAuthHook(api_prefixes={"team_members": "/elsewhere"})
    assert hook.api_url("team_members", MEMBERS) == f"{emulator.base_url}/elsewhere{MEMBERS}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(api_prefixes={"scim": "/user-provisioning"})
    )
    assert CelonisOAuthHook().api_url("scim", "/scim/v2/Users").endswith("/user-provisioning/scim/v2/Users")


def test_bad_connection_fails_before_any_request(emulator, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(auth_method="jwt"))
    with pytest.raises(CelonisConfigurationError, match=r"extra\.auth_method"):
        members(CelonisOAuthHook())
    assert emulator.stats()["requests"] == {}


def test_a_refused_legacy_key_is_explained_as_such(emulator, monkeypatch) -> None:
    import json

    emulator.configure(legacy_keys={"old-key": "AppKey"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps({"conn_type": "celonis", "host": emulator.base_url, "extra": {"api_key": "revoked-key"}}),
    )
    with pytest.warns(DeprecationWarning, match="legacy"), pytest.raises(CelonisUnauthorizedError) as info:
        members(CelonisOAuthHook())
    text = str(info.value)
    assert "refused the API key" in text and "key_type" in text
    assert "fresh token" not in text
    assert "revoked-key" not in text


def test_not_found_names_the_prefix_in_use(emulator) -> None:
    hook = CelonisOAuthHook(api_prefixes={"team_members": "/elsewhere"})
    with pytest.raises(CelonisNotFoundError, match="'/elsewhere'"):
        members(hook)
