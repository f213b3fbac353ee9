"""Fetch the next pages in a worker thread while the caller processes the current one.

Requests stay sequential and in order (one in flight, never concurrent): the worker only
runs ahead of the consumer by at most ``depth + 1`` pages (``depth`` queued, one being
handed over), so Celonis sees the same calls as from a plain loop, plus at most
``depth + 1`` speculative calls past the last page when the end
can only be known from a page's content.

What the worker does is kept minimal (send, read bytes) because it shares the GIL with the
consumer; decoding JSON happens in the consumer. While it runs the GIL switch interval is
lowered (environment ``CELONIS_READ_AHEAD_SWITCH_INTERVAL``, default 0.5 ms): with Python's
default 5 ms, a busy consumer delays every response's arrival by up to 5 ms.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()
SWITCH_INTERVAL = float(os.environ.get("CELONIS_READ_AHEAD_SWITCH_INTERVAL", "0.0005"))
_switch_lock = threading.Lock()
_active = 0
_saved_switch = 0.0


def _lower_switch_interval() -> None:
    global _active, _saved_switch
    with _switch_lock:
        if _active == 0:
            _saved_switch = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved_switch, SWITCH_INTERVAL))
        _active += 1


def _restore_switch_interval() -> None:
    global _active
    with _switch_lock:
        _active -= 1
        if _active == 0:
            sys.setswitchinterval(_saved_switch)


def read_ahead(produce: Callable[[], Iterable[T]], depth: int = 2) -> Iterator[T]:
    """Yield what ``produce()`` yields, computed in a worker thread up to ``depth`` items ahead.

    The worker's exception is re-raised in the consumer at the point it happened in the
    sequence. Leaving the loop early (``close()``, ``break``, an error) stops the worker
    before its next item; items it fetched ahead are dropped.
    """
    if depth < 1:
        raise ValueError("depth must be at least 1")
    buffer: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                buffer.put(item, timeout=0.1)
                return True
        return False

    def work() -> None:
        items = None
        try:
            items = produce()
            for item in items:
                if stop.is_set() or not put(item):
                    return
            put(_DONE)
        except BaseException as err:  # handed to the consumer, which re-raises it
            put(err)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="celonis-read-ahead", daemon=True)
    _lower_switch_interval()
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # No timeout: a worker still inside a request (bounded by the hook's timeout and retry
        # policy) must finish before the caller may send anything else on the same hook.
        worker.join()
        _restore_switch_interval()
