"""Sub-window cutting, the adaptive gate and the worker threads of a concurrent pull (no HTTP here:
the pulls over real sockets are in tests/operators/test_usage_concurrency.py)."""

from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_celonis.extracts.concurrency import (
    AdaptiveLimit,
    PullCancelled,
    pull_windows,
    split_window,
)

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def test_split_window_is_gapless_half_open_and_on_the_resolution() -> None:
    end = T0 + timedelta(hours=1, milliseconds=7)
    windows = split_window(T0, end, 7, resolution=0.001, min_span=1.0)
    assert len(windows) == 7
    assert windows[0][0] == T0 and windows[-1][1] == end
    for (_, a_end), (b_start, _) in itertools.pairwise(windows):
        assert a_end == b_start  # no gap, no overlap
        assert b_start.microsecond % 1000 == 0
    seconds = split_window(T0, T0 + timedelta(seconds=95.5), 4, resolution=1.0, min_span=10.0)
    assert all(b.microsecond == 0 for b, _ in seconds[1:])


def test_split_window_keeps_short_windows_whole() -> None:
    assert split_window(T0, T0 + timedelta(seconds=30), 16, resolution=0.001, min_span=60) == [
        (T0, T0 + timedelta(seconds=30))
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def answer(status: int, elapsed: float = 0.05, **headers: str) -> Any:
    return SimpleNamespace(status_code=status, elapsed=timedelta(seconds=elapsed), headers=headers)


def test_limit_grows_on_clean_answers_up_to_the_cap_only() -> None:
    gate = AdaptiveLimit(5, start=2, clock=Clock())
    assert gate.limit == 2
    for _ in range(50):
        gate.observe(answer(200))
    assert gate.limit == 5


def test_limit_does_not_grow_when_answers_slow_down() -> None:
    gate = AdaptiveLimit(8, start=2, clock=Clock())
    gate.observe(answer(200, 0.05))
    for _ in range(20):
        gate.observe(answer(200, 1.0))  # the server slows down under our load
    assert gate.limit == 3


def test_429_halves_once_a_round_pauses_for_the_reset_and_paces_to_the_limit() -> None:
    clock = Clock()
    gate = AdaptiveLimit(8, start=2, clock=clock)
    for _ in range(20):
        gate.observe(answer(200))
    assert gate.limit == 8
    gate.observe(answer(429, **{"x-ratelimit-reset": "2", "x-ratelimit-limit": "10"}))
    gate.observe(answer(429, **{"x-ratelimit-reset": "2", "x-ratelimit-limit": "10"}))  # same round
    assert gate.limit == 4 and gate.throttled == 2
    assert gate._wait_needed(clock.now) == pytest.approx(2.0)  # new requests wait for the reset
    clock.now += 2.0
    # The two retries of the hook go out at the reset: new requests are paced after them, at 90%
    # of the announced 10/s (one every 1/9 s).
    assert gate._wait_needed(clock.now) == pytest.approx(2 / 9)
    clock.now += 2 / 9
    assert gate._wait_needed(clock.now) == 0
    with gate.slot():
        assert gate._wait_needed(clock.now) == pytest.approx(1 / 9)
    clock.now += 1 / 9
    gate.observe(answer(503))
    gate.observe(answer(200))
    assert gate.server_errors == 1 and gate.limit == 2


def test_slots_never_exceed_the_limit_and_cancel_refuses_new_ones() -> None:
    gate = AdaptiveLimit(3, start=3)
    inside, peak, lock = [0], [0], threading.Lock()
    go = threading.Event()

    def work() -> None:
        with gate.slot():
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            go.wait(0.2)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == gate.peak == 3
    gate.cancel()
    with pytest.raises(PullCancelled), gate.slot():
        pass


def test_pull_windows_yields_everything_and_raises_the_first_error() -> None:
    windows = [(T0 + timedelta(seconds=i), T0 + timedelta(seconds=i + 1)) for i in range(10)]
    done: list[tuple[int, int]] = []

    def fetch(start: datetime, end: datetime) -> list[int]:
        return list(range(int(start.timestamp()), int(start.timestamp()) + 450))

    got = list(pull_windows(windows, fetch, workers=3, on_window_done=lambda d, t: done.append((d, t))))
    assert sorted(got) == sorted(x for s, _ in windows for x in fetch(s, s))
    assert done[-1] == (10, 10)

    failed: list[bool] = []

    def broken(start: datetime, end: datetime) -> Any:
        if start == windows[3][0]:
            raise RuntimeError("sub-window 3 failed")
        yield from range(5)

    with pytest.raises(RuntimeError, match="sub-window 3"):
        list(pull_windows(windows, broken, workers=2, on_failure=lambda: failed.append(True)))
    assert failed == [True]
    assert not [t for t in threading.enumerate() if t.name.startswith("celonis-pull-")]


@pytest.mark.parametrize("limit", ["0", "-3", "ten", "nan", "inf", "1e400", "", "1e12", " 5 "])
@pytest.mark.parametrize(
    "reset",
    [
        {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"},  # in the past
        {"Retry-After": "999999"},  # eleven days
        {"Retry-After": "-5"},
        {"x-ratelimit-reset": "soon"},
        {},
    ],
)
def test_a_lying_429_never_stalls_the_gate_beyond_five_minutes_nor_stops_pacing(
    limit: str, reset: dict[str, str]
) -> None:
    """Whatever a 429 claims, the gate halves, waits at most 300 s and keeps a finite pace
    of at least one request a second (the hook's own patience decides whether to retry)."""
    clock = Clock()
    gate = AdaptiveLimit(8, start=8, clock=clock)
    with gate.slot():
        gate.observe(answer(429, **{"x-ratelimit-limit": limit}, **reset))
    assert gate.limit == 4 and gate.throttled == 1
    wait = gate._wait_needed(clock.now)
    assert 0 <= wait <= 300
    assert gate._rate is not None and gate._rate >= 1.0
    clock.now += 301
    assert gate._wait_needed(clock.now) <= 1.0  # paced, never paused for good


def test_fast_producers_wait_for_a_slow_consumer() -> None:
    """The queue between the threads bounds memory: with the consumer stalled, the workers stop
    after about ``2 * workers`` batches (plus the one each is filling) instead of pulling on."""
    import time

    from airflow_provider_celonis.extracts.concurrency import BATCH

    produced = [0]
    lock = threading.Lock()
    windows = [(T0 + timedelta(seconds=i), T0 + timedelta(seconds=i + 1)) for i in range(8)]

    def fetch(start: datetime, end: datetime) -> Any:
        for n in range(50 * BATCH):
            with lock:
                produced[0] += 1
            yield n

    records = pull_windows(windows, fetch, workers=4)
    next(records)  # the consumer takes one record, then stalls
    last, deadline = -1, time.monotonic() + 20
    while produced[0] != last and time.monotonic() < deadline:  # until the workers stall
        last = produced[0]
        time.sleep(0.3)
    assert produced[0] <= (2 * 4 + 4 + 1) * BATCH + 4
    records.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("celonis-pull-")]


def test_after_trouble_one_request_retries_and_the_others_hold_until_a_clean_answer() -> None:
    gate = AdaptiveLimit(8, start=8)
    probe_in, held_out, order = threading.Event(), threading.Event(), []

    def probe() -> None:
        with gate.slot():
            gate.observe(answer(503))  # the probe: goes on to its retry at once
            order.append("probe retries")
            probe_in.set()
            held_out.wait(0.3)  # a held request does not get through meanwhile
            order.append("probe clean")
            gate.observe(answer(200))

    def held() -> None:
        probe_in.wait(5)
        with gate.slot():
            gate.observe(answer(503))  # held until the probe's clean answer
            order.append("held retries")
            held_out.set()

    threads = [threading.Thread(target=probe), threading.Thread(target=held)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert order == ["probe retries", "probe clean", "held retries"]

    gate = AdaptiveLimit(8, start=8)
    with gate.slot():
        gate.observe(answer(429))  # this thread probes
        failed: list[BaseException] = []

        def waiter() -> None:
            try:
                with gate.slot():
                    gate.observe(answer(429))
            except PullCancelled as err:
                failed.append(err)

        other = threading.Thread(target=waiter)
        other.start()
        gate.cancel()  # the pull failed: the held retry is given up, not sent
        other.join(10)
    assert len(failed) == 1
