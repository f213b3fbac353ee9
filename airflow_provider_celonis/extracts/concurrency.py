"""Pull one window as sub-windows in parallel threads, under an adaptive limit of requests in flight.

Across the internet every page costs 50-300 ms, so a sequential pull spends its time waiting.
:func:`split_window` cuts ``[start, end)`` into half-open sub-windows whose boundaries fall on
the API's time resolution; :func:`pull_windows` pulls them in worker threads (each sub-window
pages sequentially, with its own page checks) and hands their records to the caller's thread,
which spills them into the same sorted runs as a sequential pull: the merged output is the
same bytes. Events exactly at a boundary belong to the later sub-window only, because every
sub-window's request is widened by one resolution unit on each side and trimmed back to
``[sub_start, sub_end)`` client-side (correct whichever of ``from``/``to`` the server includes).

:class:`AdaptiveLimit` is the gate every page request passes (``CelonisUsageHook.pacer``): it
starts with :data:`START_LIMIT` requests in flight, adds one per clean answer until the first
trouble (a slow start, doubling per round), then one per round of clean answers,
halves on a 429 or a 5xx (at most once per round), holds every new request until the reset a
429 announced, and from then on paces requests to 90 % of the ``x-ratelimit-limit`` it read
(assumed per second, as Celonis's published limits are; docs/celonis-api.md 1.4), the hook's
own retries of rate-limited requests included in the schedule. It never exceeds
``max_concurrency``. Retries stay the hook's (each request keeps its own deadline and policy),
but once a 429 or 5xx is seen only one request in flight retries (the probe); the others
hold their retry until a clean answer ends the trouble, or give up when the pull fails, so a
lasting storm costs about the retries of one request, not of every request in flight.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_celonis.client.retry_policy import wait_hint_from_headers


class PullCancelled(Exception):
    """Raised by :meth:`AdaptiveLimit.slot` once the pull failed: no further request is sent."""


START_LIMIT = 4
"""Requests in flight at first; grown while answers are fast and clean."""
BATCH = 200
"""Records handed from a worker to the consumer at once (one page's worth)."""
_DONE = object()


def split_window(
    start: datetime, end: datetime, parts: int, *, resolution: float, min_span: float = 60.0
) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` as at most ``parts`` consecutive half-open sub-windows of about equal
    length, each at least ``min_span`` seconds, inner boundaries rounded down to ``resolution``
    seconds; the first starts at ``start``, the last ends at ``end``, each starts where the
    previous ended (no gap, no overlap)."""
    span = (end - start).total_seconds()
    parts = max(1, min(parts, int(span // min_span)))
    step_us = int(span * 1e6) // parts
    unit_us = max(1, round(resolution * 1e6))
    bounds = [start]
    for i in range(1, parts):
        inner = start + timedelta(microseconds=step_us * i)
        inner -= timedelta(microseconds=(inner.timestamp() * 1e6 // 1) % unit_us)
        if inner > bounds[-1]:
            bounds.append(inner)
    bounds.append(end)
    return list(itertools.pairwise(bounds))


class AdaptiveLimit:
    """A gate for page requests from several threads; see the module docstring for the rules."""

    def __init__(
        self, cap: int, start: int = START_LIMIT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cap = cap
        self.limit = max(1, min(start, cap))
        self.in_flight = self.peak = 0
        self.throttled = self.server_errors = self.answers = 0
        self._clock = clock
        self._cond = threading.Condition()
        self._clean = 0
        self._paused_until = 0.0
        self._last_cut = -1.0  # no cut yet
        self._best: float | None = None
        self._rate: float | None = None  # requests/s once a 429 named the limit
        self._sent: deque[float] = deque()  # send times of the last second
        self._next_at = 0.0  # paced: the earliest time of the next send
        self._cancelled = False
        self._trouble = False  # a 429/5xx seen, no clean answer since
        self._prober: int | None = None  # the thread whose request may retry meanwhile

    def cancel(self) -> None:
        """Refuse every further slot (a sub-window failed); requests in flight finish."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of ``limit`` places for the duration of a request (its retries included)."""
        with self._cond:
            while True:
                if self._cancelled:
                    raise PullCancelled("the pull failed in another sub-window")
                now = self._clock()
                wait = self._wait_needed(now)
                if wait <= 0:
                    break
                self._cond.wait(min(wait, 0.5))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self._sent.append(now)
            while self._sent[0] <= now - 1.0:
                self._sent.popleft()
            if self._rate is not None:
                self._next_at = max(now, self._next_at) + 1.0 / self._rate
        try:
            yield
        finally:
            with self._cond:
                self.in_flight -= 1
                if self._prober == threading.get_ident():  # done: another may probe
                    self._prober = None
                self._cond.notify_all()

    def _wait_needed(self, now: float) -> float:
        if now < self._paused_until:
            return self._paused_until - now
        if self.in_flight >= self.limit:
            return 0.5
        if self._rate is not None and now < self._next_at:
            return self._next_at - now
        return 0.0

    def observe(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """``requests`` response hook: sees every attempt, the 429s the retry policy replays too."""
        status = int(response.status_code)
        elapsed = response.elapsed.total_seconds() if response.elapsed is not None else 0.0
        with self._cond:
            now = self._clock()
            self.answers += 1
            if status == 429 or status >= 500:
                if status == 429:
                    self.throttled += 1
                    self._learn_rate(response.headers)
                    hint = wait_hint_from_headers(response.headers)
                    retry_at = now if hint is None else now + min(hint, 300.0)
                    self._paused_until = max(self._paused_until, retry_at)
                    # The hook's retry of this request goes out at the reset, inside its slot:
                    # give it its place in the schedule, so new requests come after it.
                    assert self._rate is not None
                    self._next_at = max(self._next_at, retry_at) + 1.0 / self._rate
                else:
                    self.server_errors += 1
                if (
                    self._last_cut < 0 or now - self._last_cut > max(self._best or 0.0, 0.2) * 2
                ):  # once a round
                    self.limit = max(1, self.limit // 2)
                    self._last_cut, self._clean = now, 0
                self._trouble = True
                self._hold_retry()
            elif status < 400:
                self._trouble = False  # the trouble is over: held retries go
                if self._prober == threading.get_ident():
                    self._prober = None
                self._best = elapsed if self._best is None else min(self._best, elapsed)
                if elapsed <= 2 * self._best + 0.05:  # not slowed down by the load we add
                    self._clean += 1
                    # Slow start: one more per clean answer (doubling per round) until the first
                    # 429 or 5xx; then one more per round of clean answers.
                    step = 1 if self._last_cut < 0 else self.limit
                    if self._clean >= step and self.limit < self.cap:
                        self.limit += 1
                        self._clean = 0
            self._cond.notify_all()
        return response

    def _hold_retry(self) -> None:
        """After a 429/5xx (the hook may retry it): go on as the probe, or wait until the
        probe's clean answer or its end; raise :class:`PullCancelled` once the pull failed."""
        me = threading.get_ident()
        while True:
            if self._cancelled:
                raise PullCancelled("the pull failed in another sub-window")
            if self._prober in (None, me):
                self._prober = me
                return
            if not self._trouble:
                return
            self._cond.wait(0.5)

    def _learn_rate(self, headers: Any) -> None:
        raw = headers.get("x-ratelimit-limit") if hasattr(headers, "get") else None
        try:
            limit = float(raw) if raw is not None else None
        except ValueError:
            limit = None
        if limit and limit > 0:
            # Sends and arrivals drift by the latency: stay a little under the limit.
            self._rate = max(1.0, limit * 0.9)
        elif self._rate is None:  # no number: about what got through in the last second
            self._rate = max(1.0, 0.9 * (len(self._sent) - 1))

    def summary(self) -> str:
        return (
            f"peak {self.peak} requests in flight (cap {self.cap}), {self.throttled} rate-limited (429), "
            f"{self.server_errors} server errors"
        )


def pull_windows(
    windows: list[tuple[datetime, datetime]],
    fetch: Callable[[datetime, datetime], Iterable[Any]],
    *,
    workers: int,
    on_window_done: Callable[[int, int], None] | None = None,
    on_failure: Callable[[], None] | None = None,
    on_idle: Callable[[], None] | None = None,
) -> Iterator[Any]:
    """Records of every sub-window, pulled by ``workers`` threads (``fetch(start, end)`` each),
    yielded in the caller's thread in no particular order.

    At most ``2 * workers`` batches of records wait in memory. The first error of any
    sub-window is raised here; ``on_failure`` is called at once (the gate then refuses further
    requests), the other workers stop before their next record and are joined (a request in
    progress finishes within the hook's deadline), so nothing runs on after. ``on_idle`` is
    called about every 0.1 s while no record arrives (progress keeps its cadence).
    """
    todo: queue.SimpleQueue[tuple[datetime, datetime]] = queue.SimpleQueue()
    for window in windows:
        todo.put(window)
    out: queue.Queue[Any] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()
    errors: list[BaseException] = []

    def fail(err: BaseException) -> None:
        if not stop.is_set():  # the first error is the cause; later ones are its echo
            errors.append(err)
            stop.set()
            if on_failure is not None:
                on_failure()

    def put(item: Any) -> bool:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                out.put(item, timeout=0.1)
                return True
        return False

    def work() -> None:
        while not stop.is_set():
            try:
                start, end = todo.get_nowait()
            except queue.Empty:
                return
            records: Any = None
            try:
                records = fetch(start, end)
                batch: list[Any] = []
                for record in records:
                    if stop.is_set():  # another sub-window failed: send no further page
                        return
                    batch.append(record)
                    if len(batch) >= BATCH:
                        if not put(batch):
                            return
                        batch = []
                if (batch and not put(batch)) or not put(_DONE):
                    return
            except BaseException as err:  # the consumer re-raises it
                fail(err)
                return
            finally:
                close = getattr(records, "close", None)
                if close is not None:
                    close()

    threads = [
        threading.Thread(target=work, name=f"celonis-pull-{n}", daemon=True)
        for n in range(max(1, min(workers, len(windows))))
    ]
    for thread in threads:
        thread.start()
    done = 0
    try:
        while done < len(windows):
            if errors:
                raise errors[0]
            try:
                item = out.get(timeout=0.1)
            except queue.Empty:
                if on_idle is not None:
                    on_idle()
                continue
            if item is _DONE:
                done += 1
                if on_window_done is not None:
                    on_window_done(done, len(windows))
            else:
                yield from item
    finally:
        if not stop.is_set():
            stop.set()
            if on_failure is not None and done < len(windows):  # closed early by the caller
                on_failure()
        for thread in threads:
            thread.join()


def concurrent_records(
    hook: Any,
    start: datetime,
    end: datetime,
    *,
    whole: Callable[[], Iterable[Any]],
    part: Callable[[datetime, datetime], Iterable[Any]],
    cap: int,
    resolution: float,
    log: Any,
    on_window_done: Callable[[int, int], None] | None = None,
    on_idle: Callable[[], None] | None = None,
) -> Iterator[Any]:
    """The records of ``[start, end)``: ``part(sub_start, sub_end)`` for each sub-window in up to
    ``cap`` threads sharing ``hook`` under one :class:`AdaptiveLimit`, or ``whole()`` when the
    window is too short to split. Twice as many sub-windows as threads, so that a dense one does
    not leave the others idle (each costs one call past its last page); at least 1 s, or ten
    resolution units (Login History: 10 s)."""
    windows = split_window(start, end, 2 * cap, resolution=resolution, min_span=max(1.0, 10 * resolution))
    if len(windows) == 1:
        yield from whole()
        return
    hook.get_config()  # connection, session and token ready before the threads share them
    hook.get_session()
    pacer = AdaptiveLimit(cap)
    hook.pacer = pacer
    log.info("Pulling %d sub-windows with up to %d requests in flight (max_concurrency)", len(windows), cap)
    try:
        yield from pull_windows(
            windows,
            part,
            workers=cap,
            on_window_done=on_window_done,
            on_failure=pacer.cancel,
            on_idle=on_idle,
        )
    finally:
        hook.pacer = None
        log.info("Concurrent pull: %s", pacer.summary())
