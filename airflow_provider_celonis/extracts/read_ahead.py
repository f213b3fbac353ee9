"""Fetch the next pages in a worker thread while the caller processes the current one.

Requests stay sequential and in order (one in flight, never concurrent): the worker only
runs ahead of the consumer by at most ``depth + 1`` pages (``depth`` queued, one being
handed over), so Celonis sees the same calls as from a plain loop, plus at most
``depth + 1`` speculative calls past the last page when the end
can only be known from a page's content.

What the worker does is kept minimal (send, read bytes) because it shares the GIL with the
consumer; decoding JSON happens in the consumer. Only sequential pulls use it
(``max_concurrency=1``, Team Members): windowed extracts pull sub-windows concurrently
(:mod:`.concurrency`). The worker's GIL switch interval is left alone: lowering it for the
whole process (as an earlier version did) changed every thread of the Airflow worker for a gain
that concurrency makes moot (measured in bench/README.md).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
_DONE = object()


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
