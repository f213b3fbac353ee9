"""Progress lines at a steady cadence for long waits and loops in the task log.

:class:`Progress` reports a run's status when it changes and at least every
:data:`PROGRESS_EVERY` seconds while nothing changes (the data job, model and push waits).
:class:`Cadence` is the bare clock under it, for any loop that counts things (SCIM changes
applied, records pulled): ``due()`` says when the next line is owed.
"""

from __future__ import annotations

import time
from typing import Any

PROGRESS_EVERY = 60.0
"""Seconds between "still waiting" lines while nothing changes: a steady cadence in the task log."""


class Cadence:
    """True from :meth:`due` at most once every ``every`` seconds (the first call is not due)."""

    def __init__(self, every: float = PROGRESS_EVERY, clock: Any = time.monotonic) -> None:
        self.every, self.clock = every, clock
        self.began = self.last = clock()

    def due(self, *, force: bool = False) -> bool:
        """Whether a progress line is owed now; resets the clock when it is."""
        now = self.clock()
        if force or now - self.last >= self.every:
            self.last = now
            return True
        return False

    @property
    def elapsed(self) -> float:
        """Seconds since the loop began."""
        return self.clock() - self.began


class Progress:
    """Logs the awaited run's status when it changes, and at least every ``every`` seconds."""

    def __init__(self, log: Any, every: float = PROGRESS_EVERY) -> None:
        self.log, self.cadence = log, Cadence(every)
        self.shown: str | None = None

    def note(self, what: str, run_id: Any, status: Any) -> None:
        shown = f"{run_id}/{status}"
        if self.cadence.due(force=shown != self.shown):
            self.shown = shown
            self.log.info(
                "%s %s is %s (waited %.0f s).",
                what,
                run_id or "(not listed yet)",
                status,
                self.cadence.elapsed,
            )
