"""The UI's Test button: a token grant that reports granted scopes, without side effects."""

from __future__ import annotations

from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook


def test_reports_every_granted_scope(emulator) -> None:
    ok, message = CelonisOAuthHook().test_connection()
    assert ok, message
    assert "demo-client" in message and "client_secret_post" in message
    for scope in ("audit.log:read", "integration.data-pools", "user-provisioning.scim"):
        assert scope in message
    stats = emulator.stats()
    assert stats["api_calls"] == 0  # token requests only: nothing on the team changes
    assert stats["token_requests"] > 0


def test_reports_scopes_the_client_lacks(emulator, monkeypatch) -> None:
    emulator.add_client("auditor", "a-secret", scopes=["audit.log:read", "team.login-history:read"])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("auditor", "a-secret")))
    ok, message = CelonisOAuthHook().test_connection()
    assert ok
    granted, _, missing = message.partition("Not allowed for this client:")
    assert "audit.log:read" in granted and "team.login-history:read" in granted
    assert "user-provisioning.scim" in missing and "integration.data-pools" in missing


def test_explicit_scopes_are_requested_together(emulator, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        emulator.connection_json(scopes="audit.log:read team.login-history:read"),
    )
    ok, message = CelonisOAuthHook().test_connection()
    assert ok and "Granted scopes: audit.log:read, team.login-history:read." in message
    assert emulator.stats()["token_requests"] == 1


def test_wrong_secret_gives_the_actionable_message(emulator, monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("demo-client", "nope-secret"))
    )
    ok, message = CelonisOAuthHook().test_connection()
    assert not ok
    assert "invalid_client" in message and "client_secret_basic" in message
    assert "nope-secret" not in message


def test_bad_connection_is_reported_not_raised(monkeypatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        '{"conn_type": "celonis", "host": "acme.celonis.cloud", "login": "a", "password": "b"}',
    )
    ok, message = CelonisOAuthHook().test_connection()
    assert not ok and "'host'" in message and "https://" in message
