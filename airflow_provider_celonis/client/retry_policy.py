"""When to retry a Celonis request and how long to wait: one policy for sync and async code.

The transports (requests in workers, aiohttp in triggers) only classify what happened into
:class:`RetryableStatus` or :class:`RetryableTransport`; whether to try again and how long
to sleep is decided here, once, and driven by tenacity in both worlds.

Rules:

* 429, 502, 503 and 504 are retried, as are connection failures and timeouts.
* A request that is not idempotent (a POST that starts a job or pushes data) is replayed
  only when the server certainly did not act on it: a 429 answer, or a connection that was
  never established. A 500, 502, 503 or 504, a timeout or a connection dropped after
  sending may mean Celonis already acted (a proxy that timed out, a restart after the
  write), so the caller gets
  :class:`~airflow_provider_celonis.exceptions.CelonisRequestMaybeSentError` instead and
  reads the state back before doing anything else.
* A 429 waits for ``Retry-After`` or ``x-ratelimit-reset``, which Celonis sends either as
  seconds or as a UTC date-time; without a usable header, exponential backoff with jitter.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import tenacity

from airflow_provider_celonis.client.timestamps import parse_http_date, parse_iso

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses worth another attempt for an idempotent request."""
NOT_PROCESSED_STATUSES = frozenset({429})
"""Statuses that prove the server refused the request before acting on it. A 503 does not:
a proxy answers it when the upstream is slow, after the upstream may have acted."""
AMBIGUOUS_STATUSES = frozenset({500, 502, 503, 504})
"""Statuses after which a non-idempotent request may or may not have been acted on."""
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop; hook arguments of the same names set them."""

    max_attempts: int = 6
    """Attempts in all, the first included."""
    min_wait: float = 1.0
    """First backoff step in seconds."""
    max_wait: float = 30.0
    """Cap of one exponential backoff step."""
    max_rate_limit_wait: float = 300.0
    """Cap of a wait announced by a 429's reset header."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.min_wait < 0 or self.max_wait < self.min_wait:
            raise ValueError("need 0 <= min_wait <= max_wait")


class RetryableStatus(Exception):
    """An HTTP answer that the policy may retry; carries what the final error needs."""

    def __init__(self, status: int, headers: Mapping[str, str], body: str, wait_hint: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = dict(headers)
        self.body = body
        self.wait_hint = wait_hint


class RetryableTransport(Exception):
    """No HTTP answer; ``sent`` tells whether the request may have reached the server."""

    def __init__(self, description: str, *, sent: bool) -> None:
        super().__init__(description)
        self.description = description
        self.sent = sent


def is_idempotent(method: str, idempotent: bool | None = None) -> bool:
    """Explicit flag wins (e.g. a cancel POST is safe to repeat); else by HTTP method."""
    if idempotent is not None:
        return idempotent
    return method.upper() in IDEMPOTENT_METHODS


def status_is_retryable(status: int, idempotent: bool) -> bool:
    if idempotent:
        return status in RETRY_STATUSES
    return status in NOT_PROCESSED_STATUSES


def transport_is_retryable(sent: bool, idempotent: bool) -> bool:
    return idempotent or not sent


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def parse_reset(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` / ``x-ratelimit-reset`` value, or None.

    Accepts a number of seconds (``"2"``, ``"1.5"``), an ISO 8601 / RFC 3339 date-time
    (``"2025-02-25T06:10:41Z"``) and an HTTP-date (``"Wed, 21 Oct 2015 07:28:00 GMT"``).
    A date in the past means "now" (0). Anything else is unparseable: None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN check
    now = now or datetime.now(timezone.utc)
    # No zone means UTC (Celonis documents UTC): client/timestamps.py reads both forms.
    when = parse_iso(text) or parse_http_date(text)
    if when is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def wait_hint_from_headers(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """The server's own idea of when to come back: ``Retry-After`` first, then ``x-ratelimit-reset``."""
    for name in ("retry-after", "x-ratelimit-reset"):
        hint = parse_reset(_header(headers, name), now)
        if hint is not None:
            return hint
    return None


def backoff(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter for attempt 1, 2, ...: in [step/2, step], step capped."""
    step = min(policy.max_wait, policy.min_wait * (2 ** max(attempt - 1, 0)))
    return step * (0.5 + 0.5 * (rng or random).random())


def within_patience(policy: RetryPolicy, error: BaseException) -> bool:
    """False when the server announced a wait longer than ``max_rate_limit_wait``.

    Retrying earlier is futile (a daily quota resets at midnight), so the caller gets the
    rate-limit error with its reset time at once instead of holding a worker for minutes.
    """
    hint = error.wait_hint if isinstance(error, RetryableStatus) else None
    return hint is None or hint <= policy.max_rate_limit_wait


def wait_seconds(policy: RetryPolicy, attempt: int, error: BaseException | None) -> float:
    """How long to sleep after a failed attempt: at least the server's hint, never less than
    the backoff (a reset "now" repeated five times would otherwise burn every attempt)."""
    if isinstance(error, RetryableStatus) and error.wait_hint is not None:
        # A little jitter so that many triggers sharing one limit do not stampede together.
        return max(error.wait_hint, backoff(policy, attempt)) + random.uniform(0, 0.1)
    return backoff(policy, attempt)


def _tenacity_wait(policy: RetryPolicy) -> Any:
    def wait(retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        return wait_seconds(policy, retry_state.attempt_number, error)

    return wait


def retrying_kwargs(policy: RetryPolicy, before_sleep: Any = None) -> dict[str, Any]:
    """Keyword arguments shared by ``tenacity.Retrying`` and ``tenacity.AsyncRetrying``."""
    kwargs: dict[str, Any] = {
        "stop": tenacity.stop_after_attempt(policy.max_attempts),
        "wait": _tenacity_wait(policy),
        "retry": tenacity.retry_if_exception(
            lambda err: (
                isinstance(err, (RetryableStatus, RetryableTransport)) and within_patience(policy, err)
            )
        ),
        "reraise": True,
    }
    if before_sleep is not None:
        kwargs["before_sleep"] = before_sleep
    return kwargs
