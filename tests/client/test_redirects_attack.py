"""Review attacks on the redirect rule: odd Location headers that parsers read differently.

The rule checks a redirect's target with ``urllib.parse``; ``requests`` connects where urllib3
parses the URL, aiohttp where yarl does. A Location such as ``http://evil\\@team/x`` is
"team" to ``urlsplit`` but "evil" to urllib3, so the bearer token went to evil. Every test
runs over real sockets: a team server of the test's own (also its token endpoint) and an
"attacker" server on another port, which must receive nothing.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import requests
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisRedirectError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

TOKEN = "tok-abcdef-0123456789"
SECRET = "attack-secret-0123456789"


def _team(locations: dict[str, str]):
    """A team server: token endpoint, redirects for the paths in ``locations``, else 200 with
    what arrived (path and Authorization)."""

    def answer(request: Received):
        if request.path.startswith("/oauth2/token"):
            body = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 900})
            return 200, {"content-type": "application/json"}, body.encode()
        if request.path in locations:
            return 302, {"location": locations[request.path]}, b""
        seen = {"path": request.path, "auth": request.headers.get("Authorization")}
        return 200, {"content-type": "application/json"}, json.dumps(seen).encode()

    return answer


def _connect(monkeypatch, team_url: str) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps({"conn_type": "celonis", "host": team_url, "login": "client", "password": SECRET}),
    )


def _get(is_async: bool, path: str = "/api/team"):
    hook = CelonisOAuthHook(max_attempts=2, min_wait=0.01, max_wait=0.01)
    if is_async:
        return asyncio.run(hook.arequest_json("GET", path, api=TEAM))
    return hook.request_json("GET", path, api=TEAM)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "template",
    [
        "{attacker}\\@{team_host}/x",  # urlsplit: team; urllib3: attacker
        "{attacker}\\\\@{team_host}/x",
        "http://user:pw@{team_host}/x",  # same host, credentials of the server's choosing
        "http://{team_host}@{attacker_host}/x",
        "{team}:/x",  # a port that does not parse (requests raised a raw ValueError)
    ],
    ids=["backslash-userinfo", "two-backslashes", "userinfo-same-host", "userinfo-other-host", "bad-port"],
)
def test_odd_locations_are_refused_and_nothing_reaches_another_host(monkeypatch, template, is_async) -> None:
    with recorder() as attacker:
        locations: dict[str, str] = {}
        with recorder(_team(locations)) as team:
            locations["/api/team"] = template.format(
                attacker=attacker.url,
                attacker_host=attacker.url.split("//")[1],
                team=team.url,
                team_host=team.url.split("//")[1],
            )
            _connect(monkeypatch, team.url)
            with pytest.raises(CelonisRedirectError) as info:
                _get(is_async)
        assert attacker.received == [], "a request (with the bearer token) reached another host"
        assert [r.path for r in team.received if r.path.startswith("/api")] == ["/api/team"]
        assert TOKEN not in str(info.value) and "pw" not in str(info.value).replace("another", "")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_followed_redirect_stays_on_the_origin_that_was_checked(monkeypatch, is_async) -> None:
    """Backslashes after the authority are path to every parser: followed, on the team URL."""
    with recorder() as attacker:
        locations: dict[str, str] = {}
        with recorder(_team(locations)) as team:
            locations["/api/team"] = "/\\" + attacker.url.split("//")[1] + "/x"
            _connect(monkeypatch, team.url)
            seen = _get(is_async)
        assert attacker.received == []
        assert seen["auth"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("status", [301, 302, 303])
def test_a_post_answered_301_302_303_is_not_turned_into_a_get(monkeypatch, status, is_async) -> None:
    """requests and aiohttp would re-send a POST answered 301/302/303 as a GET; the hook sends once."""
    with recorder() as attacker:

        def answer(request: Received):
            if request.path.startswith("/oauth2/token"):
                return _team({})(request)
            return status, {"location": "/api/elsewhere"}, b""

        with recorder(answer) as team:
            _connect(monkeypatch, team.url)
            hook = CelonisOAuthHook(max_attempts=2, min_wait=0.01, max_wait=0.01)
            send = (
                (lambda: asyncio.run(hook.arequest("POST", "/api/jobs", api=TEAM, json={})))
                if is_async
                else (lambda: hook.request("POST", "/api/jobs", api=TEAM, json={}))
            )
            with pytest.raises(CelonisRedirectError, match="not re-sent"):
                send()
        assert [r.path for r in team.received if r.path.startswith("/api")] == ["/api/jobs"]
        assert attacker.received == []


def test_run_and_check_sends_the_token_only_to_the_team_url(monkeypatch) -> None:
    """A request prepared for another host (HttpHook.run_and_check) must not get the team's token."""
    with recorder() as attacker, recorder(_team({})) as team:
        _connect(monkeypatch, team.url)
        prepared = requests.Request("GET", f"{attacker.url}/api/team").prepare()
        with pytest.raises(CelonisConfigurationError, match="team URL"):
            CelonisOAuthHook().run_and_check(requests.Session(), prepared, {})
        assert attacker.received == []
        # the team URL itself still works
        prepared = requests.Request("GET", f"{team.url}/api/team").prepare()
        response = CelonisOAuthHook().run_and_check(requests.Session(), prepared, {})
        assert response.json()["auth"] == f"Bearer {TOKEN}"
