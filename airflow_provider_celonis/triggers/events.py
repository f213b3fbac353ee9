"""Celonis runs as DAG schedules: event triggers for ``AssetWatcher`` (Airflow 3 event-driven scheduling).

Each trigger watches one data job (its executions) or one data model (its loads) and yields one
event per run that ends, from then on, in a status the user chose (``on``), whoever started it
(a Celonis schedule, the UI, another DAG). Use it in a DAG's schedule::

    from airflow.sdk import DAG, Asset, AssetWatcher
    from airflow_provider_celonis.triggers.events import CelonisDataJobExecutionEventTrigger

    trigger = CelonisDataJobExecutionEventTrigger(data_pool_id="...", data_job_id="...", on=["SUCCESS"])
    asset = Asset("celonis_job_done", watchers=[AssetWatcher(name="celonis_job_done", trigger=trigger)])
    with DAG("after_celonis_job", schedule=[asset]): ...

**Exactly once, across restarts.** The triggerer rebuilds a trigger from its kwargs after a
restart, so the runs already handled are kept in a durable cursor (an Airflow Variable, see
:mod:`airflow_provider_celonis.waiting.event_cursor`), written *before* the events are
yielded. So:

* runs that ended before the watcher first ran never fire (the first poll only records them);
* a run never fires twice, also after a restart (its id is in the cursor);
* runs that ended while the triggerer was down fire once when it is back;
* the price of "write, then fire": if the triggerer dies in the instant between the write and the
  event reaching the metadata database, that run is not fired (at most once, never twice).

Without a durable cursor (``cursor="memory"``, or Airflow 3.0, whose triggerer cannot write
Variables), each start records everything finished as old: never twice, but runs that ended
while the triggerer was down are not fired.

**Errors never end the watch** (a watcher that stops would silently stop the schedule): a
transient error (5xx, 429, network) or any other (403, 404, an answer of an unexpected shape, an
unreadable cursor) is logged and polled again after a growing pause (at most 60 s), and nothing
fires until a clean answer and a readable cursor prove which runs are new.

Only GETs: the trigger never starts or cancels anything. No secret is in its kwargs or events;
the connection is looked up in the triggerer. The kwargs are stable (no timestamps), as
``AssetWatcher`` identifies a trigger by the hash of its kwargs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from airflow_provider_celonis.client.arguments import check_number
from airflow_provider_celonis.compat import TRIGGERS_CAN_WRITE_VARIABLES
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.waiting.event_cursor import (
    JOB_TERMINAL,
    LOAD_TERMINAL,
    Cursor,
    FinishedRun,
    baseline,
    decide,
    load_runs,
    merged,
)
from airflow_provider_celonis.waiting.event_history import (
    CursorStore,
    MemoryCursorStore,
    VariableCursorStore,
    read_job_history,
)
from airflow_provider_celonis.waiting.status import error_pause, transient_errors

CURSOR_PREFIX = "celonis_event_cursor__"
CURSOR_MODES = ("variable", "memory")


class _CelonisEventTrigger(BaseEventTrigger):
    """Shared loop of the event triggers; subclasses say what to read and how to name a run."""

    kind = ""
    target_field = ""
    terminal: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        data_pool_id: str,
        target_id: str,
        on: Sequence[str],
        poll_interval: float = 60.0,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        cursor: str = "variable",
        cursor_key: str | None = None,
    ) -> None:
        super().__init__()
        where = type(self).__name__
        for name, value in (("data_pool_id", data_pool_id), (self.target_field, target_id)):
            if not isinstance(value, str) or not value.strip():
                raise CelonisConfigurationError(name, "is empty", "give the id from Celonis", where=where)
        self.data_pool_id, self.target_id = data_pool_id, target_id
        self.on = _statuses(on, self.terminal, where)
        self.poll_interval = float(check_number("poll_interval", poll_interval, minimum=0.01, where=where))
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = _hook_params(hook_params, where)
        if cursor not in CURSOR_MODES:
            raise CelonisConfigurationError(
                "cursor", f"is {cursor!r}", f"use one of {CURSOR_MODES}", where=where
            )
        self.cursor_mode = cursor
        if cursor_key is not None and (not isinstance(cursor_key, str) or not cursor_key.strip()):
            raise CelonisConfigurationError("cursor_key", "is empty", "give a name or None", where=where)
        self.cursor_key_arg = cursor_key
        self._store: CursorStore | None = None
        self._written: str | None = None

    # -- serialisation: the class's own path, stable kwargs (AssetWatcher hashes them) --------
    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", self._kwargs()

    def _kwargs(self) -> dict[str, Any]:
        return {
            "data_pool_id": self.data_pool_id,
            self.target_field: self.target_id,
            "on": list(self.on),
            "poll_interval": self.poll_interval,
            "celonis_conn_id": self.celonis_conn_id,
            "hook_params": self.hook_params,
            "cursor": self.cursor_mode,
            "cursor_key": self.cursor_key_arg,
        }

    @property
    def cursor_key(self) -> str:
        """The Variable holding this watcher's cursor: named by the user, or a hash of every kwarg
        (two watchers that differ in anything never share a cursor, so neither hides the other's
        runs; identical ones are one trigger in Airflow)."""
        if self.cursor_key_arg:
            return CURSOR_PREFIX + self.cursor_key_arg
        identity = json.dumps([self.kind, self._kwargs()], sort_keys=True)
        return CURSOR_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:40]

    @property
    def watches(self) -> str:
        """What the cursor belongs to, stored in it and checked on every read."""
        return f"{self.kind} {self.data_pool_id} {self.target_id}"

    @property
    def store(self) -> CursorStore:
        if self._store is None:
            durable = self.cursor_mode == "variable" and TRIGGERS_CAN_WRITE_VARIABLES
            if self.cursor_mode == "variable" and not durable:
                self.log.warning(
                    "This Airflow's triggerer cannot write Variables (3.1+ can): the cursor of %s "
                    "is kept in memory, so runs that end while the triggerer is down are not fired.",
                    self.cursor_key,
                )
            self._store = VariableCursorStore() if durable else MemoryCursorStore()
        return self._store

    # -- to implement ------------------------------------------------------------------------
    def make_hook(self) -> Any:
        raise NotImplementedError

    async def poll(self, hook: Any, cursor: Cursor | None) -> list[FinishedRun]:
        """The runs Celonis lists now; ``cursor`` (None before the baseline) says how far back to read."""
        raise NotImplementedError

    def payload(self, run: FinishedRun) -> dict[str, Any]:
        raise NotImplementedError

    # -- the loop ----------------------------------------------------------------------------
    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = await self._hook()
        self.log.info(
            "Watching %s %s in pool %s for runs ending %s (cursor %s).",
            self.target_field,
            self.target_id,
            self.data_pool_id,
            "/".join(self.on),
            self.cursor_key,
        )
        async with hook.async_session():  # one connection pool and token for the whole watch
            failures = 0
            while True:
                try:
                    fired = await self.step(hook)
                except asyncio.CancelledError:
                    raise  # the triggerer stopped or moved the watcher; the cursor is already stored
                except Exception as err:
                    failures += 1
                    pause = error_pause(self.poll_interval, failures)
                    level = self.log.warning if isinstance(err, transient_errors()) else self.log.error
                    level(
                        "Celonis watcher %s: %s: %s; nothing fires until a clean poll, next in %.1f s",
                        self.cursor_key,
                        type(err).__name__,
                        err,
                        pause,
                    )
                    await asyncio.sleep(pause)
                    continue
                failures = 0
                for run in fired:
                    yield TriggerEvent(self.payload(run))
                await asyncio.sleep(self.poll_interval)

    async def _hook(self) -> Any:
        """The hook; a hook that cannot be built (bad ``hook_params``) is logged and tried again,
        since a watcher that ends would silently stop the DAG's schedule."""
        failures = 0
        while True:
            try:
                return self.make_hook()
            except Exception as err:
                failures += 1
                pause = error_pause(self.poll_interval, failures)
                self.log.error(
                    "Celonis watcher %s: no hook (%s: %s)", self.cursor_key, type(err).__name__, err
                )
                await asyncio.sleep(pause)

    async def step(self, hook: Any) -> list[FinishedRun]:
        """One poll: read the cursor and Celonis, store the new cursor, return the runs to fire.

        The cursor is read on every poll (not cached) so a second trigger instance that briefly
        overlaps this one after a redistribution sees what this one fired."""
        key = self.cursor_key
        raw = await self.store.get(key)
        if raw is None and self._written is not None:
            # Written by this instance, yet read back as missing (a store that loses writes, or a
            # triggerer that cannot read Variables): use what was written, as a memory cursor,
            # rather than taking a new baseline on every poll and never firing.
            self.log.error(
                "Watcher %s: its cursor Variable reads as missing; using the last one written.", key
            )
            raw = self._written
        read = None if raw is None else self._parsed(key, raw)
        if read is not None and read.watches and read.watches != self.watches:
            raise CelonisConfigurationError(
                key,
                f"is the cursor of another watcher ({read.watches}), not of {self.watches}",
                "give each watcher its own cursor_key (a shared cursor would hide one job's runs)",
            )
        cursor = read
        if read is not None and self._written is not None and raw != self._written:
            # A read older than this instance's own last write (a cached Variable read, a lagging
            # database replica, another instance's older write): ``seen`` only grows and the floor
            # only rises, so the union keeps what was already fired from firing again.
            cursor = merged(read, self._parsed(key, self._written))
        runs = await self.poll(hook, cursor)
        if cursor is None:
            first = replace(baseline(runs), watches=self.watches)
            await self._save(key, first.to_text())
            self.log.info(
                "Watcher %s started: %d finished run(s) recorded as old (not fired).", key, len(first.seen)
            )
            return []
        verdict = decide(replace(cursor, watches=self.watches), runs, self.on)  # older cursors: adopt
        for run_id in verdict.undated:
            self.log.warning(
                "Run %s ended without a date: recorded, not fired (cannot prove it new).", run_id
            )
        if verdict.cursor != read:
            await self._save(key, verdict.cursor.to_text())  # before firing: never twice
        for run in verdict.fire:
            self.log.info("Run %s ended %s: firing.", run.run_id, run.status)
        return verdict.fire

    @staticmethod
    def _parsed(key: str, raw: str) -> Cursor:
        try:
            return Cursor.from_text(raw)
        except ValueError as err:
            raise CelonisConfigurationError(
                key, f"is not a readable event cursor ({err})", "delete the Variable to start watching afresh"
            ) from None

    async def _save(self, key: str, text: str) -> None:
        await self.store.set(key, text)
        self._written = text


SECRET_WORDS = ("secret", "password", "token", "key", "credential", "auth")


def _hook_params(value: Any, where: str) -> dict[str, Any]:
    """Non-secret, JSON-able hook arguments only: trigger kwargs are stored in the metadata
    database in clear and shown in the UI, so a secret belongs in the Airflow connection."""
    params = dict(value or {})
    for name in params:
        if any(word in str(name).lower() for word in SECRET_WORDS):
            raise CelonisConfigurationError(
                "hook_params",
                f"holds {str(name)!r}, which looks like a secret (trigger kwargs are stored in clear)",
                "put credentials in the Airflow connection; hook_params are for retries and timeouts",
                where=where,
            )
    try:
        json.dumps(params)
    except (TypeError, ValueError):
        raise CelonisConfigurationError(
            "hook_params",
            "is not JSON (trigger kwargs are stored as JSON)",
            "give numbers and strings",
            where=where,
        ) from None
    return params


def _statuses(on: Any, terminal: tuple[str, ...], where: str) -> tuple[str, ...]:
    values = [on] if isinstance(on, str) else on
    if not isinstance(values, (list, tuple)) or not values:
        raise CelonisConfigurationError("on", "is empty", f"give statuses among {terminal}", where=where)
    upper = tuple(sorted({str(v).upper() for v in values}))
    unknown = [v for v in upper if v not in terminal]
    if unknown:
        raise CelonisConfigurationError(
            "on", f"names {unknown}, which are not final statuses", f"use some of {terminal}", where=where
        )
    return upper


class CelonisDataJobExecutionEventTrigger(_CelonisEventTrigger):
    """Fires once per data job execution that ends in one of ``on`` (SUCCESS, FAIL, CANCEL, SKIPPED).

    Reads the execution history, GET only: page 0 and the last page (the newest runs are on one
    of them; two requests per quiet poll), then, from the newest end inwards, every further page
    until one reaches a run the cursor already covers (at most the hook's ``max_history_pages``),
    so a burst of more runs than a page (``history_limit``) all fire. Events: ``{"kind":
    "data_job_execution", "data_pool_id", "data_job_id", "execution_id", "status", "start_ms",
    "end_ms", "scheduling_id", "mode"}``.
    """

    kind = "data_job_execution"
    target_field = "data_job_id"
    terminal = JOB_TERMINAL

    def __init__(self, *, data_pool_id: str, data_job_id: str, on: Sequence[str] = ("SUCCESS",), **kw: Any):
        super().__init__(data_pool_id=data_pool_id, target_id=data_job_id, on=on, **kw)

    def make_hook(self) -> Any:
        from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

        return CelonisDataJobHook(self.celonis_conn_id, **self.hook_params)

    async def poll(self, hook: Any, cursor: Cursor | None) -> list[FinishedRun]:
        return await read_job_history(hook, self.data_pool_id, self.target_id, cursor, self.cursor_key)

    def payload(self, run: FinishedRun) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "data_pool_id": self.data_pool_id,
            "data_job_id": self.target_id,
            "execution_id": run.run_id,
            "status": run.status,
            "start_ms": run.start_ms,
            "end_ms": run.end_ms,
            **run.extra,
        }


class CelonisDataModelLoadEventTrigger(_CelonisEventTrigger):
    """Fires once per data model load that ends in one of ``on`` (SUCCESS, WARNING, ERROR, CANCELED).

    Reads ``load-info-sync`` (the current load and the load history), GET only. Events:
    ``{"kind": "data_model_load", "data_pool_id", "data_model_id", "data_load_id", "status",
    "start_ms", "end_ms", "load_type"}``.
    """

    kind = "data_model_load"
    target_field = "data_model_id"
    terminal = LOAD_TERMINAL

    def __init__(
        self, *, data_pool_id: str, data_model_id: str, on: Sequence[str] = ("SUCCESS", "WARNING"), **kw: Any
    ):
        super().__init__(data_pool_id=data_pool_id, target_id=data_model_id, on=on, **kw)

    def make_hook(self) -> Any:
        from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook

        return CelonisDataModelHook(self.celonis_conn_id, **self.hook_params)

    async def poll(self, hook: Any, cursor: Cursor | None) -> list[FinishedRun]:
        return load_runs(await hook.aget_load_info(self.data_pool_id, self.target_id))

    def payload(self, run: FinishedRun) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "data_pool_id": self.data_pool_id,
            "data_model_id": self.target_id,
            "data_load_id": run.run_id,
            "status": run.status,
            "start_ms": run.start_ms,
            "end_ms": run.end_ms,
            **run.extra,
        }
