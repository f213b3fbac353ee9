"""Faults after which a client cannot know whether the server acted: hangs, and late actions.

Two additions to the fault middleware (:mod:`~airflow_provider_celonis.emulator.faults.core`),
switched on per rule like every fault:

* kind ``timeout``: the server holds the request for ``delay`` seconds without answering
  (the client's read timeout must be shorter), then drops the connection. Without
  ``process`` Celonis never acts; with it Celonis acted before the answer stalled.
* ``late`` (seconds, with ``process``): the fault reaches the client at once (a status, a
  dropped connection, or a stall for ``timeout``), and Celonis acts on the request ``late``
  seconds later, as when a proxy gives up on a request still queued upstream. The client's
  read-back right after the fault then shows nothing yet; the action lands afterwards.

The request body is read in full before anything else, so a late action sees the same body
the client sent even though the client is gone by then.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from airflow_provider_celonis.emulator.faults.asgi import read_body, replay, swallow

AMBIGUOUS_KINDS = frozenset({"timeout"})
_PENDING: set[asyncio.Task[None]] = set()
"""Late actions still to run; kept referenced so the event loop does not drop them."""


def is_ambiguous(rule: Any) -> bool:
    """True for the rules this module plays (a ``timeout`` kind, or a late action)."""
    return rule.kind in AMBIGUOUS_KINDS or (bool(rule.process) and float(getattr(rule, "late", 0) or 0) > 0)


async def _act_later(app: Any, scope: Any, body: bytes, late: float) -> None:
    await asyncio.sleep(late)
    await app(dict(scope), replay(body), swallow)


async def play(middleware: Any, rule: Any, scope: Any, receive: Any, send: Any) -> None:
    """Answer ``rule`` (see the module docstring); ``middleware`` is the FaultMiddleware."""
    body = await read_body(receive)
    late = float(getattr(rule, "late", 0) or 0)
    if rule.process and late > 0:
        task = asyncio.get_running_loop().create_task(_act_later(middleware.app, scope, body, late))
        _PENDING.add(task)
        task.add_done_callback(_PENDING.discard)
    elif rule.process:
        await middleware.app(scope, replay(body), swallow)  # Celonis acts; its answer is lost
    if rule.kind == "timeout":
        await asyncio.sleep(rule.delay if rule.delay > 0 else 30.0)  # the client gives up first
        rule = replace(rule, kind="drop")
    await middleware._answer(rule, send)
