"""Review attack: a ``~/.netrc`` on the worker (or ``NETRC``) with an entry for the Celonis host,
or a ``default`` entry, replaced the hook's credentials.

requests applied the netrc login as Basic auth over the hook's bearer token and over the
client_secret_basic header (the netrc password went to Celonis, the token endpoint saw the
wrong client); aiohttp added it to the token request and raised a raw ``ValueError`` on API
calls. The hook sets its Authorization header itself and now ignores netrc; proxies from the
environment still apply. Real sockets, servers of the test's own.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

NETRC_PASSWORD = "netrc-pass-0123456789"
TOKEN = "tok-netrc-0123456789"


def _answer(request: Received):
    if request.path.startswith("/oauth2/token") or request.path.endswith("/oauth2/token"):
        body = json.dumps({"access_token": TOKEN, "expires_in": 900})
        return 200, {"content-type": "application/json"}, body.encode()
    return (
        200,
        {"content-type": "application/json"},
        json.dumps({"auth": request.headers.get("Authorization")}).encode(),
    )


def _call(is_async: bool):
    hook = CelonisOAuthHook(max_attempts=1)
    if is_async:
        return asyncio.run(hook.arequest_json("GET", "/api/team", api=TEAM))
    return hook.request_json("GET", "/api/team", api=TEAM)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("auth_method", ["client_secret_post", "client_secret_basic"])
def test_a_netrc_entry_does_not_replace_the_hooks_credentials(
    monkeypatch, tmp_path, auth_method, is_async
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"default login netrc-user password {NETRC_PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with recorder(_answer) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {
                    "conn_type": "celonis",
                    "host": team.url,
                    "login": "client",
                    "password": "pw-0123456789",
                    "extra": {"auth_method": auth_method},
                }
            ),
        )
        assert _call(is_async) == {"auth": f"Bearer {TOKEN}"}
        token_request = next(r for r in team.received if r.path.startswith("/oauth2/token"))
    authorization = token_request.headers.get("Authorization")
    if auth_method == "client_secret_basic":
        assert authorization is not None and authorization.startswith("Basic ")
        assert "netrc" not in __import__("base64").b64decode(authorization[6:]).decode()
    else:
        assert authorization is None
    assert NETRC_PASSWORD not in team.everything()


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_proxies_from_the_environment_still_apply(monkeypatch, is_async) -> None:
    for name in ("no_proxy", "NO_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with recorder(_answer) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {
                    "conn_type": "celonis",
                    "host": "http://team.example.test",
                    "login": "client",
                    "password": "pw-0123456789",
                    "extra": {"allow_insecure_http": True},
                }
            ),
        )
        assert _call(is_async) == {"auth": f"Bearer {TOKEN}"}
        assert [r.path for r in proxy.received] == [
            "http://team.example.test/oauth2/token",
            "http://team.example.test/api/team",
        ]


def test_get_conn_sessions_keep_the_bearer_token_too(monkeypatch, tmp_path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(f"default login netrc-user password {NETRC_PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with recorder(_answer) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {"conn_type": "celonis", "host": team.url, "login": "client", "password": "pw-0123456789"}
            ),
        )
        session = CelonisOAuthHook().get_conn()
        assert session.get(f"{team.url}/api/team", timeout=10).json() == {"auth": f"Bearer {TOKEN}"}
        assert NETRC_PASSWORD not in team.everything()
