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


# -- one policy for every path: run() goes through the request core --------------------------
def test_run_regrants_after_a_401_and_replays_once(emulator) -> None:
    hook = CelonisOAuthHook(method="GET")
    hook.run("/api/team")
    emulator.expire_tokens()
    assert hook.run("/api/team").json()["name"] == "emulated-team"
    assert emulator.stats()["token_requests"] == 2
    assert emulator.requests_to("GET", "/api/team") == 3  # the 401 and its replay


def test_run_waits_out_a_429_and_retries_a_503(emulator, fast_retries) -> None:
    emulator.add_faults(
        [
            {"path": "^/api/team$", "kind": "rate_limit", "times": 1, "reset": 0},
            {"path": "^/api/team$", "status": 503, "times": 1},
        ]
    )
    assert CelonisOAuthHook(method="GET", **fast_retries).run("/api/team").status_code == 200
    assert emulator.requests_to("GET", "/api/team") == 3


def test_run_post_is_not_replayed_after_an_ambiguous_503(emulator, fast_retries) -> None:
    from airflow_provider_celonis.exceptions import CelonisRequestMaybeSentError

    emulator.add_faults([{"path": "^/api/team$", "method": "POST", "status": 503, "times": 1}])
    with pytest.raises(CelonisRequestMaybeSentError):
        CelonisOAuthHook(method="POST", **fast_retries).run("/api/team", data="{}")
    assert emulator.requests_to("POST", "/api/team") == 1


def test_run_requests_the_token_of_the_api_the_path_belongs_to(emulator) -> None:
    from airflow_provider_celonis.auth.token_cache import TOKEN_CACHE

    response = CelonisOAuthHook(method="GET").run(
        "/log/api/external/audit", data={"pageSize": 1, "pageNumber": 0}
    )
    assert response.status_code == 200
    assert [key[2] for key in TOKEN_CACHE._tokens] == ["audit.log:read"]


def test_run_and_check_with_a_prepared_request_uses_the_same_core(emulator) -> None:
    import requests

    hook = CelonisOAuthHook(method="GET")
    hook.run("/api/team")
    emulator.expire_tokens()
    prepared = requests.Request("GET", f"{emulator.base_url}/api/team").prepare()
    assert hook.run_and_check(requests.Session(), prepared, {}).status_code == 200
    with pytest.raises(CelonisNotFoundError):
        hook.run_and_check(
            requests.Session(), requests.Request("GET", f"{emulator.base_url}/api/nope").prepare(), {}
        )


def test_run_check_response_false_returns_the_error_answer(emulator) -> None:
    response = CelonisOAuthHook(method="GET").run(
        "/api/nothing-here", extra_options={"check_response": False}
    )
    assert response.status_code == 404


def test_run_with_advanced_retry_goes_through_the_core(emulator) -> None:
    import tenacity

    emulator.expire_tokens()
    hook = CelonisOAuthHook(method="GET")
    response = hook.run_with_advanced_retry({"stop": tenacity.stop_after_attempt(1)}, "/api/team")
    assert response.status_code == 200
