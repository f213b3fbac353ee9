"""The retry policy shared by the sync and async transports (pure logic)."""

from __future__ import annotations

import random
from datetime import datetime, timezone

import pytest

from airflow_provider_celonis.client.retry_policy import (
    RetryableStatus,
    RetryPolicy,
    backoff,
    is_idempotent,
    parse_reset,
    status_is_retryable,
    transport_is_retryable,
    wait_hint_from_headers,
    wait_seconds,
    within_patience,
)

NOW = datetime(2025, 2, 25, 6, 10, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2", 2.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("2025-02-25T06:10:41Z", 11.0),
        ("2025-02-25T06:10:41.500Z", 11.5),
        ("2025-02-25T06:10:41+00:00", 11.0),
        ("2025-02-25T07:10:41+01:00", 11.0),
        ("2025-02-25T06:10:41", 11.0),
        ("Tue, 25 Feb 2025 06:10:41 GMT", 11.0),
        ("2025-02-25T06:00:00Z", 0.0),
    ],
)
def test_parse_reset_formats(value: str, seconds: float) -> None:
    assert parse_reset(value, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [None, "", "soon", "nan", "25/02/2025"])
def test_parse_reset_unparseable(value: str | None) -> None:
    assert parse_reset(value, NOW) is None


def test_retry_after_wins_and_headers_are_case_insensitive() -> None:
    assert wait_hint_from_headers({"Retry-After": "3", "X-RateLimit-Reset": "9"}, NOW) == 3.0
    assert wait_hint_from_headers({"X-RateLimit-Reset": "9"}, NOW) == 9.0
    assert wait_hint_from_headers({"x-ratelimit-reset": "garbage"}, NOW) is None


@pytest.mark.parametrize(
    ("status", "idempotent", "expected"),
    [
        (429, True, True),
        (502, True, True),
        (503, True, True),
        (504, True, True),
        (500, True, False),
        (400, True, False),
        (401, True, False),
        (404, True, False),
        (429, False, True),
        (503, False, False),
        (502, False, False),
        (504, False, False),
        (500, False, False),
    ],
)
def test_status_retry_decision(status: int, idempotent: bool, expected: bool) -> None:
    assert status_is_retryable(status, idempotent) is expected


def test_transport_retry_decision() -> None:
    assert transport_is_retryable(sent=False, idempotent=False)
    assert not transport_is_retryable(sent=True, idempotent=False)
    assert transport_is_retryable(sent=True, idempotent=True)


def test_idempotency_by_method_and_override() -> None:
    assert is_idempotent("get") and is_idempotent("DELETE") and is_idempotent("PUT")
    assert not is_idempotent("POST") and not is_idempotent("PATCH")
    assert is_idempotent("POST", idempotent=True)
    assert not is_idempotent("GET", idempotent=False)


def test_backoff_grows_with_jitter_and_cap() -> None:
    policy = RetryPolicy(max_attempts=10, min_wait=1.0, max_wait=8.0)
    rng = random.Random(1)
    waits = [backoff(policy, n, rng) for n in range(1, 8)]
    for attempt, wait in enumerate(waits, start=1):
        step = min(8.0, 2 ** (attempt - 1))
        assert step / 2 <= wait <= step
    assert max(waits) <= 8.0


def test_server_hint_is_honoured_with_a_backoff_floor() -> None:
    policy = RetryPolicy(min_wait=1.0, max_wait=8.0, max_rate_limit_wait=5.0)
    hinted = RetryableStatus(429, {}, "", wait_hint=2.0)
    assert 2.0 <= wait_seconds(policy, 1, hinted) <= 2.1
    # "Reset now", again and again: the waits still grow with the attempts.
    now = RetryableStatus(429, {}, "", wait_hint=0.0)
    assert 2.0 <= wait_seconds(policy, 3, now) <= 4.1
    unhinted = RetryableStatus(503, {}, "", wait_hint=None)
    assert wait_seconds(policy, 1, unhinted) <= policy.min_wait


def test_a_reset_beyond_the_cap_is_not_waited_for() -> None:
    policy = RetryPolicy(max_rate_limit_wait=5.0)
    assert within_patience(policy, RetryableStatus(429, {}, "", wait_hint=5.0))
    assert not within_patience(policy, RetryableStatus(429, {}, "", wait_hint=600.0))
    assert within_patience(policy, RetryableStatus(503, {}, "", wait_hint=None))


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="min_wait"):
        RetryPolicy(min_wait=5, max_wait=1)
