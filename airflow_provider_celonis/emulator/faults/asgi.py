"""The ASGI pieces every fault player needs: read a body, answer, run the route and keep its answer.

Fault players sit between uvicorn and the routes; they need to read what the client sent, to send
an answer of their own, or to let the route answer and then change how that answer reaches the
client (cut it, trickle it, swap its shape).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


async def read_body(receive: Any) -> bytes:
    """The whole request body (empty when the client disconnects first)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def send_response(send: Any, status: int, body: bytes, headers: dict[str, str]) -> None:
    """One complete answer with its ``content-length``."""
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def swallow(message: Any) -> None:
    """A ``send`` that drops the answer (the route acted; the client hears nothing of it)."""
    return None


def replay(body: bytes) -> Any:
    """A ``receive`` that hands ``body`` to a route once, then waits like an idle client."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # nothing more will come; the app only listens for a disconnect
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


@dataclass
class Captured:
    """A route's answer, kept instead of sent."""

    status: int = 200
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""

    def headers_without_length(self) -> list[tuple[bytes, bytes]]:
        return [(k, v) for k, v in self.headers if k.lower() != b"content-length"]


async def capture(app: Any, scope: Any, receive: Any) -> Captured:
    """Run the route and keep its answer, so a fault can change how it reaches the client."""
    captured = Captured()

    async def keep(message: Any) -> None:
        if message["type"] == "http.response.start":
            captured.status, captured.headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            captured.body += message.get("body", b"")

    await app(scope, receive, keep)
    return captured
