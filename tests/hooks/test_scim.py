"""CelonisScimHook against the emulator: paging, filters, both prefixes, writes, discovery, scope."""

from __future__ import annotations

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisBadRequestError,
    CelonisConflictError,
    CelonisNotFoundError,
    CelonisPermissionError,
)
from airflow_provider_celonis.hooks.scim import CelonisScimHook, quote_filter, scim_call

SEED_USERS = 24
USERS = "/api/user-provisioning/scim/v2/Users"


def test_pages_through_all_users_with_a_small_count(emulator: EmulatorProcess) -> None:
    users = list(CelonisScimHook().iter_users(count=5))
    assert len(users) == SEED_USERS == len({u["id"] for u in users})
    assert emulator.requests_to("GET", USERS) == 5  # 5+5+5+5+4


def test_paging_survives_a_server_that_caps_count(emulator: EmulatorProcess) -> None:
    emulator.configure_scim(max_results=7)
    users = list(CelonisScimHook().iter_users(count=100))
    assert len({u["id"] for u in users}) == SEED_USERS
    assert emulator.requests_to("GET", USERS) == 4


def test_filter_and_find_user_are_case_insensitive_on_user_name(emulator: EmulatorProcess) -> None:
    hook = CelonisScimHook()
    user = hook.find_user("ADA.Lovelace@example.com")
    assert user is not None and user["userName"] == "ada.lovelace@example.com"
    assert {g["display"] for g in user["groups"]} == {"Process Analysts", "Admins"}
    assert hook.find_user("nobody@example.com") is None
    (edsger,) = hook.iter_users(filter_expr='externalId eq "hr-1003"')
    assert edsger["displayName"] == "Edsger Dijkstra"


def test_unsupported_filter_is_a_bad_request(emulator: EmulatorProcess) -> None:
    with pytest.raises(CelonisBadRequestError, match="Unsupported filter"):
        list(CelonisScimHook().iter_users(filter_expr='userName co "ada"'))


def test_quote_filter_escapes() -> None:
    assert quote_filter('a"b\\c') == '"a\\"b\\\\c"'


def test_other_prefix_through_hook_argument_and_connection_extra(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.configure_scim(serve_prefixes=["/user-provisioning"])
    with pytest.raises(CelonisNotFoundError, match="api_prefixes"):
        list(CelonisScimHook().iter_users())
    hook = CelonisScimHook(api_prefixes={"scim": "/user-provisioning"})
    assert len(list(hook.iter_users())) == SEED_USERS
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(api_prefixes={"scim": "/user-provisioning"})
    )
    assert len(list(CelonisScimHook().iter_groups())) == 4


def test_create_conflict_patch_and_deactivate(emulator: EmulatorProcess) -> None:
    hook = CelonisScimHook()
    created = hook.create_user({"userName": "new.joiner@example.com", "name": {"givenName": "New"}})
    assert created["active"] is True and created["id"]
    with pytest.raises(CelonisConflictError):
        hook.create_user({"userName": "NEW.joiner@example.com"})
    hook.set_active(created["id"], False)
    assert hook.get_user(created["id"])["active"] is False
    replaced = hook.replace_user(created["id"], {"userName": "new.joiner@example.com", "displayName": "N J"})
    assert replaced["displayName"] == "N J" and replaced["active"] is True


def test_groups_membership_and_204(emulator: EmulatorProcess) -> None:
    hook = CelonisScimHook()
    users = [u["id"] for u in hook.iter_users(count=3)][:3]
    group = hook.create_group("Reviewers", users[:2])
    hook.update_group_members(group["id"], add=[users[2]], remove=[users[0]])
    members = {m["value"] for m in hook.get_group(group["id"])["members"]}
    assert members == {users[1], users[2]}
    assert any(g["display"] == "Reviewers" for g in hook.get_user(users[2])["groups"])


def test_bulk_and_discovery(emulator: EmulatorProcess) -> None:
    hook = CelonisScimHook()
    result = hook.bulk(
        [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "bulk1@example.com"}},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": {"userName": "bulk1@example.com"}},
        ]
    )
    assert [op["status"] for op in result["Operations"]] == ["201", "409"]
    config = hook.service_provider_config()
    assert config["filter"]["maxResults"] == 100 and config["patch"]["supported"] is True
    assert {s["name"] for s in hook.schemas()} == {"User", "Group"}
    assert {t["endpoint"] for t in hook.resource_types()} == {"/Users", "/Groups"}


def test_missing_scope_and_missing_permission(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_client("no-scim", "secret", scopes=["audit.log:read"], permissions=["SCIM"])
    emulator.add_client("no-perm", "secret", scopes=["user-provisioning.scim"], permissions=[])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("no-perm", "secret")))
    with pytest.raises(CelonisPermissionError, match=r"user-provisioning\.scim"):
        list(CelonisScimHook().iter_users())
    from airflow_provider_celonis.exceptions import CelonisInvalidScopeError

    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("no-scim", "secret")))
    with pytest.raises(CelonisInvalidScopeError, match=r"user-provisioning\.scim"):
        list(CelonisScimHook().iter_users())


def test_find_user_with_a_backslash_and_a_quote(emulator: EmulatorProcess) -> None:
    """quote_filter escapes backslashes; the server must un-escape them, not only the quotes."""
    hook = CelonisScimHook()
    windows = hook.create_user({"userName": "DOMAIN\\user"})
    quoted = hook.create_user({"userName": 'say "hi"\\'})
    assert hook.find_user("DOMAIN\\user")["id"] == windows["id"]  # type: ignore[index]
    assert hook.find_user('say "hi"\\')["id"] == quoted["id"]  # type: ignore[index]
    assert hook.find_user("DOMAINuser") is None


def test_switched_off_prefix_is_an_unknown_path_before_authentication(emulator: EmulatorProcess) -> None:
    import httpx

    emulator.configure_scim(serve_prefixes=["/user-provisioning"])
    off = httpx.get(f"{emulator.base_url}{USERS}", timeout=10)  # no token at all
    assert off.status_code == 404 and "GENERAL_NOTFOUND_PATH" in off.text
    on = httpx.get(f"{emulator.base_url}/user-provisioning/scim/v2/Users", timeout=10)
    assert on.status_code == 401  # a served prefix still authenticates first


def test_scim_errors_keep_the_scim_error_schema(emulator: EmulatorProcess) -> None:
    """A ScimError from any route (now through the route class, not per-route try/except)."""
    hook = CelonisScimHook()
    with pytest.raises(CelonisNotFoundError) as missing:
        hook.get_group("no-such-group")
    assert missing.value.detail == "Resource no-such-group not found"  # the SCIM error body's detail
    with pytest.raises(CelonisBadRequestError, match=r"invalidSyntax|Bulk body must declare"):
        hook.call(scim_call("POST", "Bulk", json={"schemas": ["wrong"]}))
    emulator.configure_scim(patch_supported=False)
    with pytest.raises(Exception, match=r"501|PATCH is not supported"):
        hook.set_active(next(hook.iter_users(count=1))["id"], False)


def test_ids_are_one_path_segment(emulator: EmulatorProcess) -> None:
    """Unencoded, "x/../<id>" would reach <id> (dot segments); encoded it is a 404 for that id."""
    hook = CelonisScimHook()
    user = next(hook.iter_users(count=1))
    with pytest.raises(CelonisNotFoundError, match=r"x%2F..%2F"):
        hook.set_active(f"x/../{user['id']}", False)
    assert hook.get_user(user["id"])["active"] is user["active"]
    assert emulator.requests_to("PATCH", f"{USERS}/{user['id']}") == 0
