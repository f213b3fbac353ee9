"""A run ledger that survives task retries: which Celonis run a task instance started.

Why: in non-deferrable mode, a worker that dies (SIGKILL, node lost) while the task waits for
the run it started leaves that run going in Celonis. Airflow retries the task; the new try
sees the run in progress and, with ``if_running="wait"``, would wait for it and then start a
second one. XCom cannot carry the id across: Airflow 3's Execution API clears a task
instance's XCom when a new try starts (it keeps it only for a deferral's resume).

What: one Airflow Variable per task instance, written through ``airflow.sdk.Variable``:

* key ``celonis_run_ledger__<sha256 of dag_id, task_id, run_id, map_index>`` (a hash, so any
  run id fits Airflow's key length); the value names them in clear;
* written ``pending`` (with the run ids listed before the start) right before the start call,
  then with the run's id as soon as it is pinned;
* deleted once the run's outcome is known (success, failure, skip). It is kept when the task
  fails without one (Celonis unreachable, several candidate runs, a timeout) so a retry
  adopts the run instead of starting another.

It holds ids only (pool, job or model, run ids, try number): never a secret.

Deferrable tasks use it too: a worker can die between the start call and the deferral.

On a later try (see the operators), a ledger naming a run id makes that run the task's: still
running, the try waits for it; succeeded, the try succeeds with it; failed or cancelled, the
try starts a fresh run. An id Celonis does not list fails closed. A ``pending`` ledger is
reconciled like a start whose answer was lost: a single new run is adopted, several fail
closed, none means the earlier try's start never reached Celonis.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from airflow.sdk import Variable

from airflow_provider_celonis.exceptions import CelonisJobFailedError
from airflow_provider_celonis.waiting.status import (
    SUCCESS,
    DataJobExecutionStatus,
    DataModelLoadStatus,
    event,
)
from airflow_provider_celonis.waiting.waits import (
    JobWait,
    LoadWait,
    current_load,
    execution_id_of,
    job_items,
    load_ids,
)

PREFIX = "celonis_run_ledger__"
VERSION = 1
KINDS = ("data_job", "data_model")


class LedgerStore(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, description: str) -> None: ...
    def delete(self, key: str) -> None: ...


class VariableStore:
    """Airflow Variables (the metadata database, or the secrets backend for reads)."""

    def get(self, key: str) -> str | None:
        value = Variable.get(key, default=None)
        return None if value is None else str(value)

    def set(self, key: str, value: str, description: str) -> None:
        Variable.set(key, value, description=description)

    def delete(self, key: str) -> None:
        delete = getattr(Variable, "delete", None)
        if delete is None:  # older Task SDKs cannot delete: an empty value means "no entry"
            Variable.set(key, "")
            return
        delete(key)


@dataclass(frozen=True)
class Entry:
    """What the ledger holds for one task instance."""

    kind: str
    data_pool_id: str
    target_id: str
    """The data job id or data model id."""
    known_ids: tuple[str, ...]
    """Run ids listed before the start: none of them is this task's."""
    run_id: str | None
    """The run this task started, once pinned (None: ``pending``, the start may have been sent)."""
    try_number: int | None = None


class RunLedger:
    """The ledger entry of one task instance for one job or model."""

    def __init__(
        self,
        identity: Mapping[str, Any],
        kind: str,
        data_pool_id: str,
        target_id: str,
        log: Any,
        store: LedgerStore | None = None,
    ) -> None:
        self.identity = dict(identity)
        self.kind, self.data_pool_id, self.target_id, self.log = kind, data_pool_id, target_id, log
        self.store: LedgerStore = store or VariableStore()
        digest = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()
        self.key = PREFIX + digest[:40]
        self._written: tuple[str, ...] | None = None
        self.try_number: Any = None

    @classmethod
    def for_context(
        cls, context: Mapping[str, Any], kind: str, data_pool_id: str, target_id: str, log: Any
    ) -> RunLedger | None:
        """The ledger of the running task instance, or None when the context names none."""
        ti = context.get("ti")
        names = ("dag_id", "task_id", "run_id")
        values = {n: getattr(ti, n, None) for n in names}
        if not all(isinstance(v, str) and v for v in values.values()):
            log.warning("No task instance ids in the context: the run ledger is off for this try.")
            return None
        map_index = getattr(ti, "map_index", -1)
        identity = {**values, "map_index": map_index if isinstance(map_index, int) else -1}
        ledger = cls(identity, kind, data_pool_id, target_id, log)
        ledger.try_number = getattr(ti, "try_number", None)
        return ledger

    def read(self) -> Entry | None:
        try:
            raw = self.store.get(self.key)
        except Exception as err:  # an unreadable ledger cannot say whether a run is already ours
            raise self._broken(f"it could not be read ({type(err).__name__}: {err})") from err
        if raw is None or raw == "":  # "": cleared by a Task SDK without Variable.delete
            return None
        entry = self._parse(raw)
        if (entry.kind, entry.data_pool_id, entry.target_id) != (
            self.kind,
            self.data_pool_id,
            self.target_id,
        ):
            raise self._broken(
                f"it names {entry.kind} {entry.target_id} in pool {entry.data_pool_id}, not "
                f"{self.kind} {self.target_id} in pool {self.data_pool_id}"
            )
        return entry

    def _parse(self, raw: str) -> Entry:
        try:
            data = json.loads(raw)
        except ValueError:
            raise self._broken("it is not JSON") from None
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise self._broken(f"it is not a version {VERSION} ledger entry")
        known, run = data.get("known_ids"), data.get("celonis_run_id")
        texts = [data.get(k) for k in ("kind", "data_pool_id", "target_id")]
        if (
            not all(isinstance(t, str) and t for t in texts)
            or not isinstance(known, list)
            or not all(isinstance(i, str) for i in known)
            or not (run is None or (isinstance(run, str) and run))
        ):
            raise self._broken("its fields have unexpected types")
        return Entry(str(texts[0]), str(texts[1]), str(texts[2]), tuple(known), run, data.get("try_number"))

    def _broken(self, why: str) -> CelonisJobFailedError:
        return CelonisJobFailedError(
            f"The run ledger Variable {self.key!r} of this task instance cannot be used: {why}. "
            "Not starting a run that may duplicate an earlier try's (failing closed).",
            fix=f"check the runs in Celonis, then delete the Variable {self.key!r} (or set run_ledger=False)",
        )

    def _write(self, known: tuple[str, ...], run_id: str | None) -> None:
        value = {
            "version": VERSION,
            **self.identity,
            "kind": self.kind,
            "data_pool_id": self.data_pool_id,
            "target_id": self.target_id,
            "known_ids": list(known),
            "celonis_run_id": run_id,
            "try_number": self.try_number if isinstance(self.try_number, int) else None,
        }
        self.store.set(
            self.key,
            json.dumps(value, sort_keys=True),
            "airflow-provider-celonis run ledger: the Celonis run this task instance started "
            "(read by its retries; deleted when the run's outcome is known)",
        )

    def pending(self, known: tuple[str, ...]) -> None:
        """Before the start call: a failure to write raises (the start is then not sent)."""
        try:
            self._write(known, None)
        except Exception as err:
            raise CelonisJobFailedError(
                f"Could not write the run ledger Variable {self.key!r} ({type(err).__name__}: {err}); "
                "the start is not sent, since a retry could not tell this try's run from another.",
                fix="let tasks write Airflow Variables, or set run_ledger=False (a retry after a lost "
                "worker may then start the run again)",
            ) from err
        self._written = known

    def pinned(self, run_id: str, known: tuple[str, ...] = ()) -> None:
        """The run is identified. A failure to write is logged, not raised: the pending entry
        already lets a retry find the run by its ids."""
        try:
            self._write(self._written or known, run_id)
        except Exception as err:  # the store is a convenience here, the run is going
            self.log.warning("Could not record run %s in the run ledger %s: %s", run_id, self.key, err)
        else:
            self.log.info("Run ledger %s: this task instance's run is %s.", self.key, run_id)

    def clear(self) -> None:
        try:
            self.store.delete(self.key)
        except Exception as err:
            self.log.warning("Could not delete the run ledger Variable %s: %s", self.key, err)


def keep_ledger(event: Mapping[str, Any]) -> bool:
    """True when a wait ended without the run's outcome: a retry must still find the run."""
    return bool(event.get("poll_error") or event.get("candidates")) or event.get("status") == "timeout"


def adopt_job(hook: Any, ledger: RunLedger, execution_id: str, deadline: float | None) -> JobWait | None:
    """The wait for the execution an earlier try started (a ``JobWait``), or None when it failed
    or was cancelled (a fresh run is then started). An id Celonis does not list fails closed."""
    pool, job = ledger.data_pool_id, ledger.target_id
    items = job_items(hook.list_executions(pool, job, all_pages=True))
    found = [i for i in items if execution_id_of(i) == execution_id]
    if not found:
        raise CelonisJobFailedError(
            f"Data job {job} in pool {pool}: the run ledger {ledger.key!r} says an earlier try of this "
            f"task started execution {execution_id}, but Celonis does not list it; not starting "
            "another run (failing closed).",
            fix=f"check the job's executions in Celonis, then delete the Variable {ledger.key!r}",
        )
    status = DataJobExecutionStatus.parse(found[0].get("status"))
    if status is not None and not (status.in_progress or status.succeeded or status.skipped):
        ledger.log.info(
            "The earlier try's execution %s ended %s: starting a fresh run.", execution_id, status.value
        )
        return None
    ledger.log.warning(  # an unknown status is adopted too: the wait then fails closed on it
        "An earlier try of this task started execution %s (%s, run ledger %s): adopting it, not "
        "starting the job again.",
        execution_id,
        found[0].get("status"),
        ledger.key,
    )
    ids = tuple(str(execution_id_of(i)) for i in items)
    return JobWait(pool, job, known_ids=ids, execution_id=execution_id, deadline=deadline)


def adopt_load(
    hook: Any, ledger: RunLedger, load_id: str, deadline: float | None
) -> LoadWait | dict[str, Any] | None:
    """The load an earlier try requested, by the id in the run ledger: a wait for it, its
    success (an event), or None when it failed (a fresh load is then requested). A load
    Celonis does not list, or lists with an unknown status, fails closed."""
    pool, model = ledger.data_pool_id, ledger.target_id
    info = hook.get_load_info(pool, model)
    history = (info.get("loadHistory") or {}).get("dataLoadHistory") or []
    loads = [ld for ld in [current_load(info), *history] if isinstance(ld, dict)]
    found = [ld for ld in loads if str(ld.get("dataLoadId")) == load_id]
    what = f"Data model {model} in pool {pool}"
    status = DataModelLoadStatus.parse(found[0].get("loadStatus")) if found else None
    if not found or status is None:
        raise CelonisJobFailedError(
            f"{what}: the run ledger {ledger.key!r} says an earlier try of this task requested load "
            f"{load_id}, but Celonis lists it {'with an unknown status' if found else 'nowhere'}; "
            "not requesting another load (failing closed).",
            fix=f"check the data model's load history in Celonis, then delete the Variable {ledger.key!r}",
        )
    if not (status.in_progress or status.succeeded):
        ledger.log.info("The earlier try's load %s ended %s: requesting a fresh load.", load_id, status.value)
        return None
    ledger.log.warning(
        "%s: an earlier try of this task requested load %s (%s, run ledger %s): adopting it, not "
        "loading again.",
        what,
        load_id,
        status.value,
        ledger.key,
    )
    if found[0] is current_load(info) or status.in_progress:
        return LoadWait(pool, model, known_ids=load_ids(info), data_load_id=load_id, deadline=deadline)
    return event(  # a later load replaced ours in the current slot; the history has its end
        SUCCESS,
        "the data model load succeeded",
        data_pool_id=pool,
        data_model_id=model,
        data_load_id=load_id,
        load_status=status.value,
        celonis_message=found[0].get("message"),
    )
