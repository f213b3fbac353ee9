"""HttpHook's own API still works on CelonisOAuthHook, with a bearer token and typed errors."""

from __future__ import annotations

import pytest

from airflow_provider_celonis.exceptions import CelonisNotFoundError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook


def test_run_uses_the_team_url_and_a_token(emulator) -> None:
    hook = CelonisOAuthHook(method="GET")
    response = hook.run("/api/team")
    assert response.status_code == 200
    assert response.json()["name"] == "emulated-team"
    assert emulator.stats()["token_requests"] == 1


def test_run_raises_typed_errors(emulator) -> None:
    with pytest.raises(CelonisNotFoundError):
        CelonisOAuthHook(method="GET").run("/api/nothing-here")


def test_user_agent_names_the_provider(emulator) -> None:
    from airflow_provider_celonis import __version__

    session = CelonisOAuthHook().get_session()
    assert session.headers["User-Agent"].startswith(f"airflow-provider-celonis/{__version__} apache-airflow/")
