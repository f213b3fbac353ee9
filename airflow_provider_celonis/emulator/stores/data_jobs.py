"""The emulated data jobs' state machine (docs/celonis-api.md 6), apart from its HTTP routes.

Each execution is evaluated lazily against the emulator clock (``state.now()``), so
``advance_clock`` moves it and no background thread is needed. See
:mod:`airflow_provider_celonis.emulator.apis.data_jobs` for the routes and switches.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_celonis.emulator.stores.state import EmulatorState

KEY = "data_jobs"

DEFAULT_POOL_ID = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"
DEFAULT_POOL_NAME = "Emulated SAP ECC pool"
DEFAULT_JOB_ID = "7a2d4f6e-9c1b-4d3a-b5e8-6f0a2c4d8e02"
DEFAULT_JOB_NAME = "Daily delta load"
PREVIOUS_EXECUTION_ID = "00000000-0000-4000-8000-0000000000e1"
SCHEDULING_ID = "5c4e0b1a-8d2f-4a6e-9b3c-7e1f0a2d4c05"
"""The emulated "Nightly" schedule: runs it starts carry this ``schedulingId``."""
TERMINAL = ("SUCCESS", "FAIL", "CANCEL", "SKIPPED")
TASK_TYPES = ("EXTRACTION", "TRANSFORMATION", "DATA_MODEL_LOAD")
"""``taskType`` of a task instance (pycelonis ``TaskType``)."""
DEFAULT_TASKS = (
    {"name": "Extract SAP tables", "taskType": "EXTRACTION"},
    {"name": "Create activity table", "taskType": "TRANSFORMATION"},
)
"""The task instances a job lists (``GET .../jobs/{jobId}/tasks/``) unless configured."""


@dataclass
class JobConfig:
    id: str
    name: str = DEFAULT_JOB_NAME
    queued_seconds: float = 0.5
    running_seconds: float = 2.0
    outcome: str = "SUCCESS"
    error_lines: list[str] = field(
        default_factory=lambda: [
            "Transformation 'Create activity table' failed: SQL compilation error: "
            'column "VBELN" not found',
        ]
    )
    stale_seconds: float = 0.5
    cancel_seconds: float = 0.3
    second_execute: str = "refuse"  # or "queue"
    refuse_status: int = 409
    history_order: str = "newest_first"  # [guess] or "oldest_first": Celonis does not document it
    tasks: list[dict[str, Any]] = field(default_factory=lambda: [dict(t) for t in DEFAULT_TASKS])
    """Task instances ``{"name", "taskType"[, "id", "disabled"]}``; an id is derived when absent."""


@dataclass
class Run:
    execution_id: str
    item_id: str
    mode: str
    created: float
    queued_until: float
    running_seconds: float
    outcome: str
    error_lines: list[str]
    stale_until: float
    cancel_seconds: float
    source: str = "API"
    configuration: dict[str, Any] | None = None
    cancel_requested_at: float | None = None
    fixed: tuple[str, float | None, float | None] | None = None
    """Seeded run: (status, start, end) that never changes."""
    scheduling_id: str | None = None
    """Set for a run a Celonis schedule started (its ``schedulingId``); None for API runs."""

    def view(self, now: float) -> tuple[str, float | None, float | None]:
        """(status, start, end) at emulator time ``now``."""
        if self.fixed is not None:
            return self.fixed
        natural_end = self.queued_until + self.running_seconds
        if self.cancel_requested_at is not None:
            cancelled_at = self.cancel_requested_at + self.cancel_seconds
            if cancelled_at < natural_end and now >= cancelled_at:
                started = self.queued_until if self.queued_until <= cancelled_at else None
                return "CANCEL", started, cancelled_at
        if now < self.queued_until:
            return "QUEUED", None, None
        if now < natural_end:
            return "RUNNING", self.queued_until, None
        return self.outcome, self.queued_until, natural_end


def ms(value: float | None) -> int | None:
    return None if value is None else int(value * 1000)


def init_state(state: EmulatorState) -> None:
    now = state.now()
    job = JobConfig(DEFAULT_JOB_ID)
    previous = Run(
        PREVIOUS_EXECUTION_ID,
        str(uuid.uuid4()),
        "DELTA",
        now - 3600,
        now - 3600,
        60,
        "SUCCESS",
        [],
        now - 3600,
        0.0,
        source="SCHEDULE",
        fixed=("SUCCESS", now - 3600, now - 3540),
        scheduling_id=SCHEDULING_ID,
    )
    state.ext[KEY] = {
        "pools": {DEFAULT_POOL_ID: DEFAULT_POOL_NAME},
        "jobs": {(DEFAULT_POOL_ID, DEFAULT_JOB_ID): job},
        "runs": {(DEFAULT_POOL_ID, DEFAULT_JOB_ID): [previous]},
        "counters": {},
    }


def task_instances(pool_id: str, job: JobConfig) -> list[dict[str, Any]]:
    """The job's ``TaskInstanceTransport`` list: ``id`` is what an execute configuration names
    (pycelonis passes ``task.id``); ids are stable per job, position and name, so two tasks of
    the same name get two ids."""
    result = []
    for order, task in enumerate(job.tasks):
        name = task.get("name")
        derived = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{pool_id}/{job.id}/task/{order}/{name}"))
        result.append(
            {
                "id": str(task.get("id") or derived),
                "poolId": pool_id,
                "taskId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"template/{derived}")),
                "taskType": task.get("taskType"),
                "name": name,
                "description": None,
                "jobId": job.id,
                "executionOrder": order,
                "published": True,
                "disabled": bool(task.get("disabled", False)),
            }
        )
    return result


def check_tasks(tasks: Any) -> str | None:
    """Why a control ``tasks`` value is refused, or None."""
    if not isinstance(tasks, list):
        return "tasks must be a list"
    for task in tasks:
        if not isinstance(task, dict) or not isinstance(task.get("name"), str):
            return f"each task needs a name: {task!r}"
        if task.get("taskType") not in TASK_TYPES:
            return f"taskType must be one of {list(TASK_TYPES)}: {task!r}"
    return None


def job_of(data: dict[str, Any], pool_id: str, job_id: str) -> JobConfig | None:
    return data["jobs"].get((pool_id, job_id))


def count(data: dict[str, Any], pool_id: str, job_id: str, name: str) -> None:
    counters = data["counters"].setdefault(
        f"{pool_id}/{job_id}", {"executions": 0, "refused": 0, "cancels": 0}
    )
    counters[name] += 1


def visible(runs: list[Run], now: float) -> list[Run]:
    return [r for r in runs if r.fixed is not None or now >= r.stale_until]
