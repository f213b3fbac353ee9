"""Progress of a long pull in the task log, at a steady cadence.

One reporter for every record loop of the extracts (a pull, a concurrent pull, a re-check):
records so far, the rate, sub-windows done of total and an estimate of the time left when
the total is known. Cheap on the hot path: :meth:`PullProgress.tick` looks at the clock
only every :data:`CHECK_EVERY` records.
"""

from __future__ import annotations

import time
from typing import Any

from airflow_provider_celonis.waiting.progress import PROGRESS_EVERY, Cadence

CHECK_EVERY = 5000


class PullProgress:
    """Logs ``Pulled N records so far (R records/s[, D of T sub-windows done, about S s left])``
    about every ``every`` seconds."""

    def __init__(self, log: Any, every: float = PROGRESS_EVERY, clock: Any = time.monotonic) -> None:
        self.log, self.cadence = log, Cadence(every, clock)
        self.received = 0
        self.done = 0
        self.total: int | None = None

    def windows(self, done: int, total: int) -> None:
        """Called as sub-windows complete (from the consumer's thread)."""
        self.done, self.total = done, total

    def tick(self, received: int) -> None:
        self.received = received
        if received % CHECK_EVERY == 0 and self.cadence.due():
            self.report()

    def idle(self) -> None:
        """Called while no record arrives (every worker waits out a 429's reset, or a slow
        answer): the line still comes at the cadence, so a waiting pull does not look hung."""
        if self.cadence.due():
            self.report()

    def report(self) -> None:
        elapsed = max(self.cadence.elapsed, 1e-9)
        parts = [f"Pulled {self.received} records so far ({self.received / elapsed:.0f} records/s"]
        if self.total:
            parts.append(f", {self.done} of {self.total} sub-windows done")
            if self.done:
                parts.append(f", about {elapsed * (self.total / self.done - 1):.0f} s left")
        self.log.info("%s)", "".join(parts))
