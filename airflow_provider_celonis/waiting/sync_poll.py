"""The worker-side twin of :class:`~airflow_provider_celonis.triggers.polling.CelonisPollingTrigger`.

Same loop, same rules (transient errors do not fail the wait before its deadline; the
deadline is wall-clock epoch seconds; the verdict comes from the shared judge), blocking
with ``time.sleep`` because it runs in a worker (non-deferrable mode).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from airflow_provider_celonis.waiting.status import (
    TIMEOUT,
    bounded_pause,
    deadline_passed,
    error_pause,
    event,
    transient_errors,
)

TRANSIENT_ERRORS = transient_errors()

log = logging.getLogger(__name__)


def poll_until_done(
    fetch: Callable[[], Any],
    judge: Callable[[Any], dict[str, Any] | None],
    *,
    poll_interval: float,
    deadline: float | None,
    ids: dict[str, Any],
    on_snapshot: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Call ``fetch`` every ``poll_interval`` seconds until ``judge`` returns an event."""
    failures = 0
    while True:
        try:
            snapshot = fetch()
        except TRANSIENT_ERRORS as err:
            failures += 1
            if deadline_passed(deadline):
                return event(TIMEOUT, f"the timeout passed while Celonis was unreachable ({err})", **ids)
            pause = error_pause(poll_interval, failures)
            log.warning("Celonis status poll failed (%s); polling again in %.1f s", err, pause)
            time.sleep(bounded_pause(pause, deadline))
            continue
        failures = 0
        if on_snapshot is not None:
            on_snapshot(snapshot)
        verdict = judge(snapshot)
        if verdict is not None:
            return verdict
        time.sleep(bounded_pause(poll_interval, deadline))
