"""ASGI middleware that counts every request and injects the faults a test switched on.

It sits in front of the routes, so a fault works on any path, including the token
endpoint. Counting happens here too, so a request that a fault answered still counts as
having reached the server, which is exactly what "never started twice" tests need.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import unquote

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.faults.ambiguous import is_ambiguous
from airflow_provider_celonis.emulator.faults.ambiguous import play as play_ambiguous
from airflow_provider_celonis.emulator.faults.asgi import capture, read_body, send_response, swallow
from airflow_provider_celonis.emulator.faults.hostile import HOSTILE_KINDS, play_hostile
from airflow_provider_celonis.emulator.stores.state import EmulatorState, FaultRule

CONTROL_PREFIX = "/_emulator"

_GATEWAY_BODIES = {
    502: b"<html><body><h1>502 Bad Gateway</h1></body></html>",
    503: b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
    504: b"<html><body><h1>504 Gateway Time-out</h1></body></html>",
}


class ConnectionDropped(Exception):
    """Raised after a partial response: uvicorn then closes the socket mid-body."""


def rate_limit_headers(rule: FaultRule, now: float) -> dict[str, str]:
    if rule.reset_format == "datetime":
        when = datetime.fromtimestamp(now, timezone.utc) + timedelta(seconds=rule.reset)
        reset = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    else:
        reset = str(int(rule.reset)) if rule.reset == int(rule.reset) else str(rule.reset)
    headers = {"x-ratelimit-limit": "20", "x-ratelimit-remaining": "0"}
    if rule.reset_format == "retry_after":
        headers["retry-after"] = reset
    elif rule.reset_format != "none":
        headers["x-ratelimit-reset"] = reset
    return headers


def keep_encoded_slashes(scope: Any) -> None:
    """Route on the path segments the client sent. uvicorn decodes ``%2F`` before routing, so an
    id ``x/chunks`` sent as ``x%2Fchunks`` reached another route (``/jobs/x/chunks``); Celonis keeps
    an encoded slash inside its segment or refuses it, never routes on it ([guess]). The route's
    path parameter then holds ``%2F`` as sent, which matches no stored id: that endpoint's 404."""
    raw = scope.get("raw_path") or b""
    if b"%2f" in raw.lower():
        segments = raw.decode("latin-1").split("/")
        scope["path"] = "/".join(unquote(segment).replace("/", "%2F") for segment in segments)


class FaultMiddleware:
    def __init__(self, app: Any, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        keep_encoded_slashes(scope)
        method, path = scope["method"], scope["path"]
        with self.state.lock:
            self.state.requests[f"{method} {path}"] += 1
        rule = self.state.take_fault(method, path)
        send = self._logged(send, method, path, rule, scope)
        if rule is None:
            await self.app(scope, receive, send)
            return
        if rule.kind == "delay":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, send)
            return
        if rule.kind in PAGE_SHAPE_KINDS:
            await page_shape_fault(rule.kind, self.app, scope, receive, send)
            return
        if rule.kind in HOSTILE_KINDS:  # redirect, echo, trickle: see emulator/faults/hostile.py
            await play_hostile(rule, self.app, scope, receive, send)
            return
        if is_ambiguous(rule):  # a stall, or an action that lands after the fault
            await play_ambiguous(self, rule, scope, receive, send)
            return
        if rule.process:
            await self.app(scope, receive, swallow)  # the server acts; its answer is lost
        else:
            await read_body(receive)
        await self._answer(rule, send)

    def _logged(self, send: Any, method: str, path: str, rule: FaultRule | None, scope: Any) -> Any:
        """Record method, path, status, the route that answered (its template, so a test can tell
        which endpoint an id reached) and any injected fault: never headers or bodies (secrets)."""

        async def logged(message: Any) -> None:
            if message["type"] == "http.response.start":
                entry = {
                    "time": self.state.now(),
                    "method": method,
                    "path": path,
                    "status": message["status"],
                }
                if rule is not None:
                    entry["fault"] = rule.kind
                route = getattr(scope.get("route"), "path", None)
                if route is not None:
                    entry["route"] = route
                with self.state.lock:
                    self.state.log.append(entry)
            await send(message)

        return logged

    async def _answer(self, rule: FaultRule, send: Any) -> None:
        if rule.kind == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"content": [', "more_body": True})
            raise ConnectionDropped("fault injection: connection dropped mid-response")
        if rule.kind == "rate_limit":
            response = problems.problem(
                429,
                "Rate limit for API_RATE_LIMIT is exceeded. Please try again later.",
                "LIMIT_RATE_EXCEEDED",
                headers=rate_limit_headers(rule, self.state.now()),
            )
        elif rule.status in _GATEWAY_BODIES:
            await send_response(
                send, rule.status, _GATEWAY_BODIES[rule.status], {"content-type": "text/html"}
            )
            return
        elif rule.status >= 500:
            response = problems.server_fault()
        else:
            response = problems.problem(rule.status, "Injected fault", "GENERAL_PARAMETER_MISSMATCH")
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        await send_response(send, response.status_code, bytes(response.body), headers)


def rule_from_json(data: dict[str, Any]) -> FaultRule:
    known = set(FaultRule.__dataclass_fields__)
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown fault fields {sorted(unknown)}; known: {sorted(known)}")
    return FaultRule(**data)


# -- page shapes: a 200 whose body a client must not trust -----------------------------------
PAGE_SHAPE_KINDS = frozenset({"ignore_paging", "html", "truncate", "no_list", "rename_list"})
"""Fault kinds that answer 200 with a page a client must refuse (any JSON listing route):
``ignore_paging`` drops ``pageNumber``, ``pageToken`` and ``page`` from the query (the server answers
the first page again: with ``skip=1`` the second page repeats the first, and a cursor does not
advance), ``html`` a login-like HTML page, ``truncate`` the real body cut in half, ``no_list``
the body without its top-level list fields, ``rename_list`` those fields renamed to ``data`` (a
bare list answer becomes ``{}`` or ``{"data": [...]}``)."""

_PAGING_PARAMS = (b"pageNumber", b"pageToken", b"page")  # page: the data job execution history


async def page_shape_fault(kind: str, app: Any, scope: Any, receive: Any, send: Any) -> None:
    if kind == "ignore_paging":
        query = scope.get("query_string", b"").split(b"&")
        kept = [p for p in query if p and p.split(b"=", 1)[0] not in _PAGING_PARAMS]
        await app({**scope, "query_string": b"&".join(kept)}, receive, send)
        return
    if kind == "html":
        await read_body(receive)
        body = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Session expired</body></html>"
        await send_response(send, 200, body, {"content-type": "text/html; charset=utf-8"})
        return
    captured = await capture(app, scope, receive)
    body = captured.body
    if kind == "truncate":
        body = body[: max(1, len(body) // 2)]
    else:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            lists = [k for k, v in data.items() if isinstance(v, list)]
            for name in lists:
                value = data.pop(name)
                if kind == "rename_list":
                    data["data" if name != "data" else "items"] = value
            body = json.dumps(data).encode()
        elif isinstance(data, list):  # a bare list answer (e.g. the pools): an object instead
            body = json.dumps({"data": data} if kind == "rename_list" else {}).encode()
    headers = {k.decode(): v.decode() for k, v in captured.headers_without_length()}
    await send_response(send, captured.status, body, headers)
