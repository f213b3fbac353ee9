"""Review attacks on what goes into the Authorization header: a token or key a header cannot carry.

A token endpoint (or a proxy in front of it) issuing an ``access_token`` with a line break made
requests raise ``InvalidHeader`` quoting the whole header, token included, into the error and
the retry log lines (and aiohttp a raw ``ValueError``); a non-Latin-1 token made requests raise
a raw ``UnicodeEncodeError``. A legacy API key pasted with a line break did the same. Real
sockets: a team server of the test's own is also its token endpoint.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisAuthenticationError, CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook


def _call(is_async: bool) -> None:
    hook = CelonisOAuthHook(max_attempts=2, min_wait=0.01, max_wait=0.01)
    if is_async:
        asyncio.run(hook.arequest_json("GET", "/api/team", api=TEAM))
    else:
        hook.request_json("GET", "/api/team", api=TEAM)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "token",
    ["tok-0123456789\r\nX-Injected: yes", "tok-0123456789\nmore", "tok-ünïcode-☃-0123", "tok 0123 456789"],
    ids=["crlf", "lf", "non-ascii", "space"],
)
def test_a_token_no_header_can_carry_is_refused_without_showing_it(
    monkeypatch, caplog, token, is_async
) -> None:
    def answer(request: Received):
        if request.path.startswith("/oauth2/token"):
            body = json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 900})
            return 200, {"content-type": "application/json"}, body.encode()
        return 200, {"content-type": "application/json"}, b"{}"

    caplog.set_level(logging.DEBUG)
    with recorder(answer) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {"conn_type": "celonis", "host": team.url, "login": "client", "password": "pw-0123456789"}
            ),
        )
        with pytest.raises(CelonisAuthenticationError, match="access_token") as info:
            _call(is_async)
        assert [r.path for r in team.received if r.path.startswith("/api")] == []
    for text in (str(info.value), caplog.text):
        assert "0123456789" not in text.replace("pw-0123456789", ""), text


@pytest.mark.parametrize(
    "key", ["key-0123456789\n", "key-0123456789\r\nX-Injected: yes", " key-ünï-0123456789"]
)
def test_a_legacy_key_no_header_can_carry_is_refused_before_any_call(monkeypatch, caplog, key) -> None:
    caplog.set_level(logging.DEBUG)
    with recorder() as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps({"conn_type": "celonis", "host": team.url, "extra": {"api_key": key}}),
        )
        with pytest.raises(CelonisConfigurationError) as info:
            CelonisOAuthHook().get_config()
        assert team.received == []
    assert info.value.field == "extra.api_key"
    assert "0123456789" not in str(info.value) and "0123456789" not in caplog.text


@pytest.mark.parametrize("expires_in", ["NaN", '"nan"', "Infinity", '"-inf"'])
def test_a_lifetime_that_is_no_number_does_not_cost_a_token_per_call(monkeypatch, expires_in) -> None:
    """expires_in NaN made every token look stale: one token request per API call."""

    def answer(request: Received):
        if request.path.startswith("/oauth2/token"):
            body = f'{{"access_token": "tok-0123456789", "expires_in": {expires_in}}}'
            return 200, {"content-type": "application/json"}, body.encode()
        return 200, {"content-type": "application/json"}, b"{}"

    with recorder(answer) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {"conn_type": "celonis", "host": team.url, "login": "client", "password": "pw-0123456789"}
            ),
        )
        for _ in range(3):
            CelonisOAuthHook().request_json("GET", "/api/team", api=TEAM)
        assert sum(r.path.startswith("/oauth2/token") for r in team.received) == 1
