"""The typed contract of a wait on a data job execution or a data model load.

A wait is a frozen dataclass built by the operator (or sensor), carried in the trigger's
kwargs (``to_json``) and checked again when the triggerer re-creates the trigger
(``from_json`` refuses unknown fields and wrong types), so its keys are spelled once. The
verdict on one poll is in :mod:`airflow_provider_celonis.waiting.decisions`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from airflow_provider_celonis.waiting.status import DataJobExecutionStatus, DataModelLoadStatus

OWN, BLOCKER, WATCH = "own", "blocker", "watch"
"""Roles of a wait: the operator's own run; runs in progress that must end before ours starts
(``if_running="wait"``); a sensor watching runs someone else started."""
ROLES = (OWN, BLOCKER, WATCH)


def _checked(cls: type, data: Any) -> dict[str, Any]:
    """``data`` as constructor kwargs of ``cls``: a dict with known keys only (a trigger's kwargs
    come back from the metadata database; a wrong or outdated payload must fail loudly)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected a dict, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(unknown)}; known: {sorted(names)}")
    values = dict(data)
    if "known_ids" in values:
        values["known_ids"] = tuple(str(i) for i in values["known_ids"] or ())
    return values


def _validate(wait: Any, run_field: str) -> None:
    for name in ("data_pool_id", wait.object_field):
        if not isinstance(getattr(wait, name), str) or not getattr(wait, name):
            raise ValueError(f"{type(wait).__name__}.{name} must be a non-empty string")
    if wait.role not in ROLES:
        raise ValueError(f"{type(wait).__name__}.role must be one of {ROLES}, not {wait.role!r}")
    for name in ("deadline", "appear_deadline"):
        value = getattr(wait, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{type(wait).__name__}.{name} must be epoch seconds or None")
    if not isinstance(wait.known_ids, tuple) or not all(isinstance(i, str) for i in wait.known_ids):
        raise ValueError(f"{type(wait).__name__}.known_ids must be a tuple of ids")
    run_id = getattr(wait, run_field)
    if run_id is not None and not isinstance(run_id, str):
        raise ValueError(f"{type(wait).__name__}.{run_field} must be a string or None")


def run_time(item: dict[str, Any]) -> int | None:
    """When a run happened, for the sensors' ``started_after``: its start, else its end.

    A run cancelled while QUEUED never started: its ``endDate`` places it in time.
    """
    value = item.get("startDate") if item.get("startDate") is not None else item.get("endDate")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class JobWait:
    """What one wait on a data job is about; see the module docstring."""

    data_pool_id: str
    data_job_id: str
    role: str = OWN
    known_ids: tuple[str, ...] = ()
    """Execution ids that existed before the start: none of them is ours."""
    execution_id: str | None = None
    """Our execution, once identified (pinned); with ``role=own`` only."""
    deadline: float | None = None
    """Epoch seconds; past it the wait ends with a ``timeout`` event."""
    appear_deadline: float | None = None
    """Epoch seconds; our execution must show up by then (stale history grace)."""
    started_after_ms: int | None = None
    """``role=watch``: the user's lower bound of a run's time (epoch ms, Celonis's clock)."""

    object_field = "data_job_id"

    def __post_init__(self) -> None:
        _validate(self, "execution_id")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["known_ids"] = list(self.known_ids)
        return data

    @classmethod
    def from_json(cls, data: Any) -> JobWait:
        return cls(**_checked(cls, data))


@dataclass(frozen=True)
class LoadWait:
    """What one wait on a data model load is about (same roles as :class:`JobWait`)."""

    data_pool_id: str
    data_model_id: str
    role: str = OWN
    known_ids: tuple[str, ...] = ()
    """Load ids that existed before the request (current load and load history)."""
    data_load_id: str | None = None
    """The awaited load, once identified (or a running load reused)."""
    deadline: float | None = None
    appear_deadline: float | None = None
    started_after_ms: int | None = None

    object_field = "data_model_id"

    def __post_init__(self) -> None:
        _validate(self, "data_load_id")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["known_ids"] = list(self.known_ids)
        return data

    @classmethod
    def from_json(cls, data: Any) -> LoadWait:
        return cls(**_checked(cls, data))


# -- what a run looks like in Celonis's answers --------------------------------------------
def execution_id_of(item: dict[str, Any]) -> str | None:
    """An execution item's execution id (``executionId``; ``id`` when Celonis leaves it out)."""
    value = item.get("executionId") or item.get("id")
    return None if value is None else str(value)


def job_items(items: Any) -> list[dict[str, Any]]:
    """Job-level execution items (a history may hold TASK or STEP items too)."""
    return [i for i in items or [] if isinstance(i, dict) and str(i.get("type") or "JOB").upper() == "JOB"]


def in_progress(item: dict[str, Any]) -> bool:
    status = DataJobExecutionStatus.parse(item.get("status"))
    return status is not None and status.in_progress


def scheduled(item: dict[str, Any]) -> bool:
    """[guess] A run a Celonis schedule started carries its ``schedulingId``; one started through
    the API has none. Such a run is never taken for the operator's own."""
    return bool(item.get("schedulingId"))


def current_load(load_info: dict[str, Any] | None) -> dict[str, Any] | None:
    """``loadInfo.currentComputeLoad`` of a ``load-info-sync`` answer (None before the first load)."""
    info = (load_info or {}).get("loadInfo") or {} if isinstance(load_info, dict) else {}
    load = info.get("currentComputeLoad") if isinstance(info, dict) else None
    return load if isinstance(load, dict) else None


def load_ids(load_info: dict[str, Any] | None) -> tuple[str, ...]:
    """Every load id a ``load-info-sync`` answer names: the current load and the load history."""
    history = ((load_info or {}).get("loadHistory") or {}) if isinstance(load_info, dict) else {}
    loads = [
        current_load(load_info),
        *((history.get("dataLoadHistory") or []) if isinstance(history, dict) else []),
    ]
    return tuple(
        dict.fromkeys(str(ld["dataLoadId"]) for ld in loads if isinstance(ld, dict) and ld.get("dataLoadId"))
    )


def load_in_progress(load: dict[str, Any] | None) -> bool:
    status = DataModelLoadStatus.parse((load or {}).get("loadStatus"))
    return load is not None and status is not None and status.in_progress


# -- the event a wait ends with -----------------------------------------------------------------
EVENT_STATUSES = ("success", "skipped", "error", "timeout")


@dataclass(frozen=True)
class RunEvent:
    """How a wait on a job execution or a model load ended: the one payload a trigger yields,
    and the verdict the worker loop and the sensors compute. The judges in
    :mod:`airflow_provider_celonis.waiting.decisions` build these payloads; :meth:`from_payload` checks
    one where it is consumed (an unknown key or a wrong type fails closed, never passes as a
    verdict)."""

    status: str
    message: str
    data_pool_id: str
    role: str = OWN
    data_job_id: str | None = None
    data_model_id: str | None = None
    execution_id: str | None = None
    execution_status: str | None = None
    start_ms: int | None = None
    data_load_id: str | None = None
    load_status: str | None = None
    celonis_message: str | None = None
    candidates: tuple[str, ...] = ()
    deadline: float | None = None
    poll_error: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.status not in EVENT_STATUSES:
            raise ValueError(f"RunEvent.status must be one of {EVENT_STATUSES}, not {self.status!r}")
        if self.role not in ROLES:
            raise ValueError(f"RunEvent.role must be one of {ROLES}, not {self.role!r}")
        if not isinstance(self.message, str) or not isinstance(self.data_pool_id, str):
            raise ValueError("RunEvent.message and data_pool_id must be strings")
        texts = ("data_job_id", "data_model_id", "execution_id", "execution_status", "data_load_id")
        for name in (*texts, "load_status", "celonis_message"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"RunEvent.{name} must be a string or None")
        for name in ("start_ms", "deadline"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"RunEvent.{name} must be a number or None")

    @classmethod
    def from_payload(cls, payload: Any) -> RunEvent:
        values = _checked(cls, payload)
        if "candidates" in values:
            values["candidates"] = tuple(str(c) for c in values["candidates"] or ())
        return cls(**values)
