"""Echoed secrets: a Celonis answer that repeats the client secret, a token or an API key is
scrubbed from every exception and log line built from it (in addition to Airflow's masker)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote_plus

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.client.transport import scrub
from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

SECRET = "s3cr/et+with spaces&symbols=="


def _echo(status: int, oauth: bool):
    """An error page that repeats the whole request: form body and every header."""

    def answer(request: Received):
        said = f"you sent {request.body.decode()} with {json.dumps(request.headers)}"
        body = (
            {"error": "invalid_client", "error_description": said}
            if oauth
            else {"title": "Bad", "detail": said}
        )
        return status, {"content-type": "application/json"}, json.dumps(body).encode()

    return answer


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


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("auth_method", ["client_secret_post", "client_secret_basic"])
def test_token_endpoint_echoing_the_secret(monkeypatch, capsys, auth_method, is_async) -> None:
    with recorder(_echo(401, oauth=True)) as server:
        _conn(monkeypatch, server.url, f"{server.url}/oauth2/token", auth_method=auth_method)
        hook = CelonisOAuthHook()
        with pytest.raises(CelonisError) as info:
            _get_team(hook, is_async)
    echoed = server.everything()
    assert SECRET in echoed or quote_plus(SECRET) in echoed or "Basic " in echoed  # the echo is real
    text = str(info.value) + repr(info.value) + str(getattr(info.value, "error_description", ""))
    out = capsys.readouterr()
    basic = server.received[0].headers.get("Authorization", "").removeprefix("Basic ")
    for form in [SECRET, quote_plus(SECRET), basic]:
        if form:
            assert form not in text + out.out + out.err
    assert "***" in text


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_api_echoing_the_bearer_token(emulator, monkeypatch, is_async) -> None:
    with recorder(_echo(400, oauth=False)) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            emulator.connection_json(token_url=f"{emulator.base_url}/oauth2/token").replace(
                emulator.base_url + '"', team.url + '"', 1
            ),
        )
        hook = CelonisOAuthHook()
        with pytest.raises(CelonisError) as info:
            _get_team(hook, is_async)
    token = team.received[0].headers["Authorization"].removeprefix("Bearer ")
    assert token in team.everything()
    text = str(info.value) + str(getattr(info.value, "detail", ""))
    assert token not in text and "Bearer ***" in text


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_api_echoing_a_legacy_key(monkeypatch) -> None:
    key = "legacy-key-0123456789"
    with recorder(_echo(403, oauth=False)) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps({"conn_type": "celonis", "host": team.url, "extra": {"api_key": key}}),
        )
        with pytest.raises(CelonisError) as info:
            CelonisOAuthHook().request_json("GET", "/api/team", api=TEAM)
    assert key in team.everything()
    assert key not in str(info.value) + str(getattr(info.value, "detail", ""))


def test_scrub_forms_and_short_values() -> None:
    text = f"raw {SECRET} form {quote_plus(SECRET)} json {json.dumps(SECRET)}"
    assert SECRET not in scrub(text, [SECRET])
    assert quote_plus(SECRET) not in scrub(text, [SECRET])
    assert scrub("a bc def", ["bc"]) == "a bc def"  # too short to scrub without shredding words


def _get_team(hook: CelonisOAuthHook, is_async: bool) -> object:
    if is_async:
        return asyncio.run(hook.arequest_json("GET", "/api/team", api=TEAM))
    return hook.request_json("GET", "/api/team", api=TEAM)
