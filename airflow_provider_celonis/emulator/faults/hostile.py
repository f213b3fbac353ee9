"""Fault kinds of a hostile or broken server, for the provider's security tests.

* ``redirect``: answer ``status`` (a 3xx; 307 if ``status`` is not one) with ``Location:
  location``, e.g. another origin. A client must not follow it with credentials.
* ``echo``: answer ``status`` with an error body that repeats the request: its form body (the
  client secret of a ``client_secret_post`` grant) and its Authorization header (a Basic pair,
  a bearer token or an API key), as some error pages and proxies do. On ``/oauth2/`` paths
  the body is RFC 6749 JSON, elsewhere problem JSON.
* ``trickle``: the real answer, headers at once and then the body one byte every ``delay``
  seconds: each read is quick, only a total deadline stops it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from airflow_provider_celonis.emulator.faults.asgi import capture, read_body, send_response
from airflow_provider_celonis.emulator.stores.state import FaultRule

HOSTILE_KINDS = frozenset({"redirect", "echo", "trickle"})


async def play_hostile(rule: FaultRule, app: Any, scope: Any, receive: Any, send: Any) -> None:
    if rule.kind == "redirect":
        await read_body(receive)
        status = rule.status if 300 <= rule.status < 400 else 307
        await send_response(send, status, b"", {"location": rule.location})
        return
    if rule.kind == "echo":
        sent = (await read_body(receive)).decode("utf-8", "replace")
        headers = {k.decode(): v.decode() for k, v in scope.get("headers", [])}
        said = f"Rejected request with body '{sent}' and authorization '{headers.get('authorization', '')}'"
        if scope["path"].startswith("/oauth2/"):
            payload: dict[str, Any] = {"error": "invalid_client", "error_description": said}
        else:
            payload = {"title": "Bad Request", "status": rule.status, "detail": said}
        await send_response(
            send, rule.status, json.dumps(payload).encode(), {"content-type": "application/json"}
        )
        return
    # trickle: let the route answer, then hand its body out byte by byte
    captured = await capture(app, scope, receive)
    body = captured.body
    raw = captured.headers_without_length()
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": captured.status, "headers": raw})
    # Stop when the client gives up (its deadline), so the server does not trickle to nobody.
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        for i in range(len(body)):
            await asyncio.sleep(rule.delay)
            if gone.done():
                return
            await send(
                {"type": "http.response.body", "body": body[i : i + 1], "more_body": i < len(body) - 1}
            )
    finally:
        gone.cancel()


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
