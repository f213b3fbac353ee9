"""The poll loop every Celonis trigger runs: GET, judge, sleep; survive blips; exactly one event.

Subclasses say what to fetch (``poll``, GETs only: a trigger may run twice after a triggerer
restart, so it must never start or cancel anything) and how to judge it (``judge``, one of
the pure functions in :mod:`airflow_provider_celonis.waiting.decisions`).

Error handling, in order:

* The hook already retries 429/5xx/network errors with backoff inside one request.
* When those retries are exhausted (a longer outage, a dropped connection), the trigger
  keeps polling with its own growing pause, until the wait's deadline; then it reports a
  ``timeout`` event, so the operator can still cancel the remote run.
* Any other error (403, 404, a bug) ends the wait with one ``error`` event naming it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_celonis.waiting.status import (
    ERROR,
    KILL_TIMEOUT,
    TIMEOUT,
    bounded_pause,
    deadline_passed,
    error_pause,
    event,
    kill_hook_params,
    transient_errors,
)

TRANSIENT_ERRORS = transient_errors()


def poll_error(err: BaseException) -> dict[str, Any]:
    """What the operator needs to raise the same error type after the deferral (JSON-safe)."""
    details = {name: getattr(err, name, None) for name in ("status", "method", "path", "error_code")}
    return {"type": type(err).__name__, "message": str(err), **details}


class CelonisPollingTrigger(BaseTrigger):
    """Base of the Celonis wait triggers; see the module docstring for the contract."""

    def __init__(
        self,
        *,
        poll_interval: float = 30.0,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.poll_interval = float(poll_interval)
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.extra_kwargs(),
                "poll_interval": self.poll_interval,
                "celonis_conn_id": self.celonis_conn_id,
                "hook_params": self.hook_params,
            },
        )

    def extra_kwargs(self) -> dict[str, Any]:
        """The subclass's own constructor arguments (``wait``, ...), JSON-serializable."""
        return {}

    async def run_kill_action(self, action: Callable[[Any], Awaitable[Any]], what: str) -> bool:
        """One clean-up call in ``on_kill``: few retries, at most :data:`KILL_TIMEOUT` s; never raises."""
        try:
            hook = self.make_hook(**kill_hook_params(self.hook_params))
            await asyncio.wait_for(action(hook), timeout=KILL_TIMEOUT)
        except Exception as err:  # asyncio.TimeoutError included
            self.log.warning("Could not %s: %s: %s", what, type(err).__name__, err)
            return False
        self.log.warning("Did %s because the task was killed.", what)
        return True

    # -- to implement ----------------------------------------------------------------------
    @property
    def deadline(self) -> float | None:
        raise NotImplementedError

    def ids(self) -> dict[str, Any]:
        """Ids repeated in every event so ``execute_complete`` needs no other state."""
        raise NotImplementedError

    def make_hook(self, **overrides: Any) -> Any:
        """The hook, built from ``hook_params`` updated with ``overrides``."""
        raise NotImplementedError

    async def poll(self, hook: Any) -> Any:
        raise NotImplementedError

    def judge(self, snapshot: Any) -> dict[str, Any] | None:
        raise NotImplementedError

    # -- the loop --------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield TriggerEvent(await self.wait())

    async def wait(self) -> dict[str, Any]:
        """Poll until a verdict; always returns exactly one event payload."""
        try:
            hook = self.make_hook()
            async with hook.async_session():  # one connection pool for the whole wait
                return await self._poll_until_verdict(hook)
        except asyncio.CancelledError:
            raise  # the triggerer moved or stopped this trigger; it will run again elsewhere
        except Exception as err:
            self.log.exception("Celonis trigger failed")
            return event(
                ERROR,
                f"the trigger could not read the status: {type(err).__name__}: {err}",
                poll_error=poll_error(err),
                **self.ids(),
            )

    async def _poll_until_verdict(self, hook: Any) -> dict[str, Any]:
        # The first poll waits one interval: the operator has just read the status (or started
        # the run) before deferring, and an event fired while the worker that deferred is still
        # exiting makes Airflow 3.3's scheduler fail the task ("task state changed externally";
        # seen in make e2e with a 2 s interval on a loaded machine).
        await asyncio.sleep(self._bounded(self.poll_interval))
        failures = 0
        while True:
            try:
                snapshot = await self.poll(hook)
            except TRANSIENT_ERRORS as err:
                failures += 1
                if deadline_passed(self.deadline):
                    return event(
                        TIMEOUT, f"the timeout passed while Celonis was unreachable ({err})", **self.ids()
                    )
                pause = error_pause(self.poll_interval, failures)
                self.log.warning("Celonis status poll failed (%s); polling again in %.1f s", err, pause)
                await asyncio.sleep(self._bounded(pause))
                continue
            failures = 0
            verdict = self.judge(snapshot)
            if verdict is not None:
                return verdict
            await asyncio.sleep(self._bounded(self.poll_interval))

    def _bounded(self, pause: float) -> float:
        return bounded_pause(pause, self.deadline)
