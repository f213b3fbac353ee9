"""Statuses, deadlines and trigger events, written once.

Which run is ours is decided by ids, in :mod:`airflow_provider_celonis.waiting.decisions`.
Operators (sync, in a worker) and triggers (async, in the triggerer) both import this module,
so the two modes cannot drift apart: the same snapshot of Celonis state gives the same
decision in both, and the decision is a plain dict (a trigger event payload) that the
operator's ``execute_complete`` maps to success, skip or a typed exception.

Why a wall-clock deadline (epoch seconds) and not a monotonic clock: a deferred task moves
from a worker to the triggerer and back, possibly on other machines. Only an absolute
time survives serialization; a monotonic reading means nothing in another process.
"""

from __future__ import annotations

import time
from datetime import timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.exceptions import (
    CelonisRateLimitError,
    CelonisServerError,
    CelonisTransportError,
)

if TYPE_CHECKING:
    from typing_extensions import Self


class _CelonisStatus(str, Enum):
    """Shared by the three status enums: parsing and the in-progress / success / failure groups.

    Each enum names its groups in ``_groups`` (set after the class, so they are not members);
    anything outside all groups, or not a member at all, is neither done nor running and the
    callers fail closed on it.
    """

    @classmethod
    def parse(cls, value: Any) -> Self | None:
        """The member for a raw status, or None for anything unknown (callers fail closed)."""
        try:
            return cls(str(value).upper())
        except ValueError:
            return None

    def _in(self, group: str) -> bool:
        return self.value in _GROUPS[type(self)].get(group, ())

    @property
    def in_progress(self) -> bool:
        return self._in("in_progress")

    @property
    def succeeded(self) -> bool:
        return self._in("succeeded")

    @property
    def failed(self) -> bool:
        return self._in("failed")

    @property
    def skipped(self) -> bool:
        return self._in("skipped")


class DataJobExecutionStatus(_CelonisStatus):
    """``ExecutionStatus`` of the Data Job Execution API (docs/celonis-api.md 3.1)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAIL = "FAIL"
    CANCEL = "CANCEL"
    SKIPPED = "SKIPPED"


class DataModelLoadStatus(_CelonisStatus):
    """``DataModelLoadStatus`` of the Process Data Model API (docs/celonis-api.md 3.2)."""

    RUNNING = "RUNNING"
    LOST_CONNECTION = "LOST_CONNECTION"
    CANCELLING = "CANCELLING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CANCELED = "CANCELED"


class DataPushJobStatus(_CelonisStatus):
    """``JobStatus`` of a Data Push job (docs/celonis-api.md, Data Push).

    DONE succeeds; ERROR and CANCELED fail (CANCELED is terminal, unlike in pycelonis, which
    polls it forever); NEW before the execute call; anything else is unknown and fails closed.
    """

    NEW = "NEW"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    ERROR = "ERROR"
    CANCELED = "CANCELED"


_GROUPS: dict[type[_CelonisStatus], dict[str, frozenset[str]]] = {
    DataJobExecutionStatus: {
        "in_progress": frozenset({"QUEUED", "RUNNING"}),
        "succeeded": frozenset({"SUCCESS"}),
        "failed": frozenset({"FAIL", "CANCEL"}),
        "skipped": frozenset({"SKIPPED"}),
    },
    DataModelLoadStatus: {
        "in_progress": frozenset({"RUNNING", "LOST_CONNECTION", "CANCELLING"}),
        "succeeded": frozenset({"SUCCESS", "WARNING"}),
        "failed": frozenset({"ERROR", "CANCELED"}),
    },
    DataPushJobStatus: {
        "in_progress": frozenset({"QUEUED", "RUNNING"}),
        "succeeded": frozenset({"DONE"}),
        "failed": frozenset({"ERROR", "CANCELED"}),
    },
}


# -- deadlines ---------------------------------------------------------------------------------
def as_seconds(value: timedelta | float | None) -> float | None:
    """A ``timeout`` or interval given as a timedelta or a number, in seconds (None stays None)."""
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def deadline_after(seconds: float | None, now: float | None = None) -> float | None:
    """Absolute deadline (epoch seconds) ``seconds`` from now; None means wait without limit."""
    if seconds is None:
        return None
    return (time.time() if now is None else now) + float(seconds)


def deadline_passed(deadline: float | None, now: float | None = None) -> bool:
    return deadline is not None and (time.time() if now is None else now) >= deadline


def seconds_left(deadline: float | None, now: float | None = None) -> float | None:
    if deadline is None:
        return None
    return max(deadline - (time.time() if now is None else now), 0.0)


# -- events: the one vocabulary of outcomes --------------------------------------------------
SUCCESS, SKIPPED, ERROR, TIMEOUT = "success", "skipped", "error", "timeout"


def event(status: str, message: str, **ids: Any) -> dict[str, Any]:
    """A trigger event payload; the sync path builds the same dict so one handler maps both."""
    return {"status": status, "message": message, **ids}


# -- poll-loop bounds, shared by sync_poll (worker) and triggers/polling (triggerer) -----------
MAX_ERROR_PAUSE = 60.0
"""Cap of the pause after a poll failed with a transient error (hook retries exhausted)."""
KILL_TIMEOUT = 25.0
"""Seconds an ``on_kill`` clean-up may take: below the triggerer's ``on_kill_timeout`` (30 s)."""
KILL_HOOK_PARAMS: dict[str, Any] = {"max_attempts": 2, "max_wait": 2.0, "max_rate_limit_wait": 5.0}
"""Few, short retries for the one clean-up call, so it ends well within :data:`KILL_TIMEOUT`."""


def transient_errors() -> tuple[type[Exception], ...]:
    """Errors after which a wait keeps polling (until its deadline) instead of failing."""
    return (CelonisTransportError, CelonisServerError, CelonisRateLimitError)


def error_pause(poll_interval: float, failures: int) -> float:
    """Growing pause after ``failures`` transient poll errors in a row, capped."""
    return min(poll_interval * 2 ** min(failures, 10), MAX_ERROR_PAUSE)


def bounded_pause(pause: float, deadline: float | None) -> float:
    """Never sleep past the deadline, so the timeout (and the cancel) is not late."""
    left = seconds_left(deadline)
    return pause if left is None else max(min(pause, left), 0.0)


def kill_hook_params(hook_params: dict[str, Any]) -> dict[str, Any]:
    """``hook_params`` with retries no longer than :data:`KILL_HOOK_PARAMS` allows."""
    params = dict(hook_params)
    for name, bound in KILL_HOOK_PARAMS.items():
        params[name] = min(params.get(name, bound), bound)
    params["min_wait"] = min(params.get("min_wait", 1.0), params["max_wait"])
    return params
