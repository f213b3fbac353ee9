"""Review attack: an API prefix that is not a path moved the team's token to another host.

The API URL is the team URL followed by the prefix: ``{"team": "@evil.example"}`` made it
``https://<team>@evil.example/...`` (requests sent the bearer token to evil.example; aiohttp
raised a raw ``ValueError``), ``".evil.example"`` made it ``https://<team>.evil.example/...``,
and a prefix without its leading slash glued itself to the host name. A prefix must be a path;
and whatever builds the URL, the hook sends its token only to the team URL's origin. Real
sockets: a team server of the test's own, and an attacker server that must receive nothing.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook


def _answer(request: Received):
    if request.path.startswith("/oauth2/token"):
        body = json.dumps({"access_token": "tok-prefix-0123456789", "expires_in": 900})
        return 200, {"content-type": "application/json"}, body.encode()
    return 200, {"content-type": "application/json"}, b"{}"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("where", ["hook", "extra"])
@pytest.mark.parametrize("template", ["@{attacker}", ".{attacker}", "api/team", "\\\\@{attacker}"])
def test_a_prefix_that_is_not_a_path_is_refused(monkeypatch, template, where, is_async) -> None:
    with recorder() as attacker, recorder(_answer) as team:
        prefix = template.format(attacker=attacker.url.split("//")[1])
        extra = {"api_prefixes": {TEAM.key: prefix}} if where == "extra" else {}
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {
                    "conn_type": "celonis",
                    "host": team.url,
                    "login": "c",
                    "password": "pw-0123456789",
                    "extra": extra,
                }
            ),
        )

        def call() -> None:
            hook = CelonisOAuthHook(
                max_attempts=1, api_prefixes={TEAM.key: prefix} if where == "hook" else None
            )
            if is_async:
                asyncio.run(hook.arequest_json("GET", "/x", api=TEAM))
            else:
                hook.request_json("GET", "/x", api=TEAM)

        with pytest.raises(CelonisConfigurationError, match="api_prefixes"):
            call()
        assert attacker.received == []
        assert [r.path for r in team.received] == []  # refused before any call, token request included


def test_the_request_core_sends_its_token_only_to_the_team_url(monkeypatch) -> None:
    """Whatever built the URL (a subclass, a future helper), the core refuses another origin."""
    with recorder() as attacker, recorder(_answer) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps({"conn_type": "celonis", "host": team.url, "login": "c", "password": "pw-0123456789"}),
        )
        hook = CelonisOAuthHook(max_attempts=1)
        with pytest.raises(CelonisConfigurationError, match="team URL"):
            hook.send_authenticated("GET", f"{attacker.url}/x", "/x", TEAM, True)
        assert attacker.received == []
