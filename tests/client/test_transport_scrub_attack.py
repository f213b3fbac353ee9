"""Review attacks on redaction: secrets echoed in forms the scrubber did not know.

The hook scrubbed the raw body, then decoded its JSON: a secret echoed JSON-escaped in a way
other than Python's (``\\/`` as PHP writes it, ``\\u0074`` as some serializers write every
character) came out of the decoding verbatim into the exception. Percent-encoding with
lowercase hex and a secret wrapped over two lines are further forms a server (or the proxy in
front of it) may echo. Real sockets: servers of the test's own answer the echoes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from urllib.parse import quote, unquote

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

SECRET = "Sec/ret+Value=99-abcdef"
TOKEN = "tok/abcdef-0123456789-XYZ"
API_KEY = "AbC/dEf+GhI/jklmnop=="


def _json_slashes(value: str) -> str:
    return json.dumps(value)[1:-1].replace("/", "\\/")


def _json_unicode(value: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in value)


def _lower_percent(value: str) -> str:
    return "".join(c if c.isalnum() else f"%{ord(c):02x}" for c in value)


def _wrapped(value: str) -> str:
    half = len(value) // 2
    return value[:half] + "\n  " + value[half:]


ECHOES = {
    "json-slashes": lambda v: json.dumps({"message": "PLACEHOLDER"}).replace("PLACEHOLDER", _json_slashes(v)),
    "json-unicode": lambda v: json.dumps({"message": "PLACEHOLDER"}).replace("PLACEHOLDER", _json_unicode(v)),
    "percent-lowercase": lambda v: f"invalid request: client_secret={_lower_percent(v)}",
    "split-over-lines": lambda v: f"<html><pre>bad credentials\n{_wrapped(v)}\n</pre></html>",
}


def _shows(text: str, secret: str) -> bool:
    """The secret in ``text`` in any of the forms above: decoded, and with line breaks removed."""
    readings = {text, unquote(text), re.sub(r"\s+", "", text), re.sub(r"\s+", "", unquote(text))}
    return any(secret in reading or quote(secret, safe="") in reading for reading in readings)


def _call(hook: CelonisOAuthHook, is_async: bool) -> None:
    if is_async:
        asyncio.run(hook.arequest_json("GET", "/api/team", api=TEAM))
    else:
        hook.request_json("GET", "/api/team", api=TEAM)


def _token_answer() -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 900})
    return 200, {"content-type": "application/json"}, body.encode()


def _check(info: pytest.ExceptionInfo[CelonisError], caplog: pytest.LogCaptureFixture, secret: str) -> None:
    for text in (str(info.value), repr(info.value), caplog.text):
        assert not _shows(text, secret), text


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("echo", sorted(ECHOES))
def test_token_endpoint_echoing_the_secret_in_other_forms(monkeypatch, caplog, echo, is_async) -> None:
    def answer(request: Received):
        return 401, {"content-type": "application/json"}, ECHOES[echo](SECRET).encode()

    caplog.set_level(logging.DEBUG)
    with recorder(answer) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps({"conn_type": "celonis", "host": server.url, "login": "client", "password": SECRET}),
        )
        with pytest.raises(CelonisError) as info:
            _call(CelonisOAuthHook(max_attempts=1), is_async)
    _check(info, caplog, SECRET)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("echo", sorted(ECHOES))
def test_api_echoing_the_token_in_other_forms(monkeypatch, caplog, echo, is_async) -> None:
    def answer(request: Received):
        if request.path.startswith("/oauth2/token"):
            return _token_answer()
        return 400, {"content-type": "application/json"}, ECHOES[echo](TOKEN).encode()

    caplog.set_level(logging.DEBUG)
    with recorder(answer) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps({"conn_type": "celonis", "host": server.url, "login": "client", "password": SECRET}),
        )
        with pytest.raises(CelonisError) as info:
            _call(CelonisOAuthHook(max_attempts=1), is_async)
    _check(info, caplog, TOKEN)


@pytest.mark.parametrize("echo", sorted(ECHOES))
def test_api_echoing_a_legacy_key_in_other_forms(monkeypatch, caplog, echo) -> None:
    def answer(request: Received):
        return 403, {"content-type": "application/json"}, ECHOES[echo](API_KEY).encode()

    caplog.set_level(logging.DEBUG)
    with recorder(answer) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps({"conn_type": "celonis", "host": server.url, "extra": {"api_key": API_KEY}}),
        )
        with pytest.warns(DeprecationWarning, match="legacy"), pytest.raises(CelonisError) as info:
            _call(CelonisOAuthHook(max_attempts=1), False)
    _check(info, caplog, API_KEY)


PROXY_PASSWORD = "proxy-pass/word+0123"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_proxy_echoing_its_credentials_does_not_show_them(monkeypatch, caplog, is_async) -> None:
    """A forward proxy's error page repeats the request headers, Proxy-Authorization included."""
    import base64

    def answer(request: Received):
        return 502, {"content-type": "text/plain"}, f"proxy error; request was {request.headers}".encode()

    caplog.set_level(logging.DEBUG)
    with recorder(answer) as proxy:
        proxy_url = f"http://proxy-user:{quote(PROXY_PASSWORD, safe='')}@{proxy.url.split('//')[1]}"
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {
                    "conn_type": "celonis",
                    "host": "http://team.example.test",
                    "login": "client",
                    "password": SECRET,
                    "extra": {"allow_insecure_http": True, "proxies": {"http": proxy_url}},
                }
            ),
        )
        with pytest.raises(CelonisError) as info:
            _call(CelonisOAuthHook(max_attempts=1), is_async)
        assert "Proxy-Authorization" in proxy.everything()  # the proxy did get the credentials
    basic = base64.b64encode(f"proxy-user:{PROXY_PASSWORD}".encode()).decode()
    for text in (str(info.value), repr(info.value), caplog.text):
        assert not _shows(text, PROXY_PASSWORD), text
        assert basic not in text, text
