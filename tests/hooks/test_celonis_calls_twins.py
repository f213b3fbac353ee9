"""``call`` and ``acall`` are twins: one answer, over real sockets, gives the same value or the
same error (type and message) on the sync path (requests) and the async path (aiohttp).

The answers are the ones a hostile or sloppy server gives: JSON labelled ``text/plain`` without a
charset (requests read ``text/*`` as Latin-1, aiohttp guessed), no content type, a UTF-8 BOM,
bytes invalid in UTF-8 (aiohttp raised a raw ``UnicodeDecodeError``), an unknown charset, an HTML
page, an empty body, error statuses echoing the token. The request that arrives (path, ids
encoded) must be the same too.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

TOKEN = "tok-TWINS-0123456789abcdef"
NAME = {"name": "Zürich ☃ \u2013 Ærø"}
UTF8 = json.dumps(NAME, ensure_ascii=False).encode()

ANSWERS: dict[str, tuple[int, dict[str, str], bytes]] = {
    "json": (200, {"content-type": "application/json"}, UTF8),
    "json-text-plain": (200, {"content-type": "text/plain"}, UTF8),
    "json-no-type": (200, {}, UTF8),
    "json-problem": (200, {"content-type": "application/problem+json"}, UTF8),
    "json-bom": (200, {"content-type": "application/json"}, b"\xef\xbb\xbf" + UTF8),
    "json-bad-utf8": (200, {"content-type": "application/json"}, b'{"name": "\xff\xfe"}'),
    "json-unknown-charset": (200, {"content-type": "application/json; charset=x-nonsense"}, UTF8),
    "html": (200, {"content-type": "text/html"}, b"<html>login</html>"),
    "empty": (200, {"content-type": "application/json"}, b""),
    "no-content": (204, {}, b""),
    "not-found-echo": (404, {"content-type": "application/json"}, json.dumps({"message": TOKEN}).encode()),
    "conflict": (409, {"content-type": "application/json"}, b'{"title": "busy", "detail": "running"}'),
    "rate-limited": (429, {"x-ratelimit-reset": "7"}, b"{}"),
    "bad-request-text-plain": (400, {"content-type": "text/plain"}, "Ungültige ID ☃".encode()),
    "unavailable-text-plain": (503, {"content-type": "text/plain"}, "Wartung läuft".encode()),
    "server-error": (500, {"content-type": "text/html"}, f"<p>Bearer {TOKEN}</p>".encode()),
}


def _server(answer: tuple[int, dict[str, str], bytes]) -> Any:
    def reply(request: Received) -> tuple[int, dict[str, str], bytes]:
        if request.path.startswith("/oauth2/token"):
            body = json.dumps({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 900})
            return 200, {"content-type": "application/json"}, body.encode()
        return answer

    return recorder(reply)


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "value", run()
    except Exception as err:
        return type(err).__name__, (str(err), getattr(err, "status", None), getattr(err, "reset_in", None))


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_call_and_acall_give_the_same_outcome(monkeypatch, answer, method) -> None:
    call = Call(
        TEAM, method, "/api/things/{thing_id}", {"thing_id": "a/b ü+%"}, reads_answer=method == "POST"
    )
    with _server(ANSWERS[answer]) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps({"conn_type": "celonis", "host": team.url, "login": "c", "password": "pw-twins-1234"}),
        )
        hook = CelonisOAuthHook(max_attempts=1, min_wait=0.01, max_wait=0.01, max_rate_limit_wait=0)
        sync = _outcome(lambda: hook.call(call))
        asyn = _outcome(lambda: asyncio.run(CelonisOAuthHook(max_attempts=1).acall(call)))
        paths = [r.path for r in team.received if not r.path.startswith("/oauth2")]
    assert sync == asyn, f"sync {sync} != async {asyn}"
    assert len(paths) == 2 and paths[0] == paths[1] == "/api/things/a%2Fb%20%C3%BC%2B%25", paths
    assert TOKEN not in repr(sync)
    if ANSWERS[answer][2].endswith(UTF8) and method != "DELETE":
        assert sync == ("value", NAME), sync  # JSON is UTF-8 (RFC 8259), whatever the label says
