"""The UI's Test button: a token grant that reports granted scopes, without side effects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


def test_message_says_per_api_what_the_client_can_use(emulator, monkeypatch) -> None:
    emulator.add_client("auditor", "a-secret", scopes=["audit.log:read", "team.login-history:read"])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("auditor", "a-secret")))
    ok, message = CelonisOAuthHook().test_connection()
    assert ok
    per_api = message.split("Per API: ", 1)[1]
    assert "Audit Log API: ok" in per_api
    assert "SCIM" in per_api and "missing user-provisioning.scim" in per_api
    assert "missing integration.data-pools" in per_api


def _cli_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", "connections", "test", "celonis_default"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_prints_granted_and_missing_scopes(emulator, tmp_path) -> None:
    """``airflow connections test`` prints only "Connection success!" itself; the report reaches
    the user through the hook's log."""
    emulator.add_client("auditor", "a-secret", scopes=["audit.log:read", "team.login-history:read"])
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(("auditor", "a-secret")),
    }
    run = _cli_test(env)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "Connection success!" in out
    assert "Granted scopes: audit.log:read, team.login-history:read." in out
    assert "Not allowed for this client:" in out and "user-provisioning.scim" in out
    assert "Audit Log API: ok" in out
    assert "a-secret" not in out


def test_cli_without_the_setting_is_refused_as_the_readme_says(emulator, tmp_path) -> None:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
    }
    env.pop("AIRFLOW__CORE__TEST_CONNECTION", None)
    run = _cli_test(env)
    assert run.returncode != 0
    assert "disabled" in (run.stdout + run.stderr).lower()
    assert emulator.stats()["token_requests"] == 0
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "AIRFLOW__CORE__TEST_CONNECTION=Enabled" in readme
