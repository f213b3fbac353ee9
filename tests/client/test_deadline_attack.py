"""Review attack on the total deadline: a chain of same-origin redirects, each answered just
within ``timeout``, held a call for (hops + 1) x ``timeout``: every hop had a deadline of its
own. The deadline covers the whole request, redirects included, sync and async. Real sockets.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisTransportError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

HOP_DELAY = 0.6


def _slow_chain(request: Received):
    if request.path.startswith("/oauth2/token"):
        body = json.dumps({"access_token": "tok-deadline-0123456789", "expires_in": 900})
        return 200, {"content-type": "application/json"}, body.encode()
    time.sleep(HOP_DELAY)
    hops = {"/api/a": "/api/b", "/api/b": "/api/c", "/api/c": "/api/d"}
    if request.path in hops:
        return 302, {"location": hops[request.path]}, b""
    return 200, {"content-type": "application/json"}, b'{"ok": true}'


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_redirect_chain_cannot_hold_a_call_past_its_timeout(monkeypatch, is_async) -> None:
    with recorder(_slow_chain) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps({"conn_type": "celonis", "host": team.url, "login": "c", "password": "pw-0123456789"}),
        )
        hook = CelonisOAuthHook(max_attempts=1, timeout=1)
        hook.get_config()
        call = (
            (lambda: asyncio.run(hook.arequest_json("GET", "/api/a", api=TEAM)))
            if is_async
            else (lambda: hook.request_json("GET", "/api/a", api=TEAM))
        )
        started = time.monotonic()
        with pytest.raises(CelonisTransportError):
            call()
        took = time.monotonic() - started
    # the token request is quick; four hops of 0.6 s would take 2.4 s
    assert took < 1.6, f"held for {took:.1f} s with timeout=1"
