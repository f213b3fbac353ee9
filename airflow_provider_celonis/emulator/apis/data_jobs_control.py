"""Control API (not Celonis) of the emulated data jobs, under ``/_emulator/data-pools``.

``POST /_emulator/data-pools/{pool}/data-jobs/{job}`` creates or reconfigures a job,
``POST .../executions`` seeds an execution (e.g. a finished previous run or one started by
a Celonis schedule), ``GET .../{job}`` reports executions started through the API, refused
starts and cancels, so tests can prove a run never started twice. The Celonis routes and
the state they share are in :mod:`airflow_provider_celonis.emulator.apis.data_jobs`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_celonis.emulator.apis.data_jobs import _data, _not_found
from airflow_provider_celonis.emulator.faults.core import CONTROL_PREFIX
from airflow_provider_celonis.emulator.stores.data_jobs import (
    SCHEDULING_ID,
    JobConfig,
    Run,
    check_tasks,
    job_of,
    ms,
    task_instances,
)

router = APIRouter()


@router.post(CONTROL_PREFIX + "/data-pools/{pool_id}/data-jobs/{job_id}")
def control_job(
    request: Request, pool_id: str, job_id: str, spec: dict[str, Any] = Body(default={})
) -> Response:
    """Create or reconfigure a job (creating its pool); unknown fields are refused. ``tasks``
    replaces the job's task instances (``[{"name", "taskType"[, "id", "disabled"]}]``); the
    answer lists their ``task_ids`` in order."""
    state, data = _data(request)
    pool_name = spec.pop("pool_name", None)
    unknown = set(spec) - set(JobConfig.__dataclass_fields__) - {"id"}
    if unknown:
        return JSONResponse({"error": f"unknown job fields {sorted(unknown)}"}, status_code=400)
    if "tasks" in spec and (problem := check_tasks(spec["tasks"])):
        return JSONResponse({"error": problem}, status_code=400)
    with state.lock:
        data["pools"].setdefault(pool_id, pool_name or f"Pool {pool_id[:8]}")
        if pool_name:
            data["pools"][pool_id] = pool_name
        current = data["jobs"].get((pool_id, job_id)) or JobConfig(job_id, name=f"Job {job_id[:8]}")
        job = JobConfig(**{**asdict(current), **spec, "id": job_id})
        data["jobs"][(pool_id, job_id)] = job
        data["runs"].setdefault((pool_id, job_id), [])
    return JSONResponse({**asdict(job), "task_ids": [t["id"] for t in task_instances(pool_id, job)]})


@router.post(CONTROL_PREFIX + "/data-pools/{pool_id}/data-jobs/{job_id}/executions")
def control_seed(
    request: Request, pool_id: str, job_id: str, spec: dict[str, Any] = Body(default={})
) -> Response:
    """Seed an execution not started through this task: ``{"status": "SUCCESS", "age": 60}`` is a
    finished run that started ``age`` seconds ago; ``{"status": "RUNNING"}`` (or QUEUED) is a live
    run with the job's durations. ``source`` is ``SCHEDULE`` (default: a Celonis schedule started
    it, the item carries a ``schedulingId``) or ``API`` (another client started it, no
    ``schedulingId``). ``{"status": "CANCEL", "never_started": true}`` is a run cancelled while
    still QUEUED: no ``startDate``, only an ``endDate``."""
    state, data = _data(request)
    job = job_of(data, pool_id, job_id)
    if job is None:
        return _not_found(pool_id, job_id)
    status = str(spec.get("status", "SUCCESS")).upper()
    source = str(spec.get("source", "SCHEDULE")).upper()
    if source not in ("SCHEDULE", "API"):
        return JSONResponse({"error": "source must be SCHEDULE or API"}, status_code=400)
    scheduling_id = SCHEDULING_ID if source == "SCHEDULE" else None
    with state.lock:
        now = state.now()
        if status in ("QUEUED", "RUNNING"):
            queued_until = now + (job.queued_seconds if status == "QUEUED" else 0.0)
            run = Run(
                str(uuid.uuid4()),
                str(uuid.uuid4()),
                str(spec.get("mode", "DELTA")),
                now,
                queued_until,
                float(spec.get("running_seconds", job.running_seconds)),
                str(spec.get("outcome", job.outcome)),
                list(job.error_lines),
                now,
                job.cancel_seconds,
                source=source,
                scheduling_id=scheduling_id,
            )
        else:
            start = now - float(spec.get("age", 60))
            run = Run(
                str(uuid.uuid4()),
                str(uuid.uuid4()),
                str(spec.get("mode", "DELTA")),
                start,
                start,
                1.0,
                status,
                list(job.error_lines),
                start,
                0.0,
                source=source,
                fixed=(status, None if spec.get("never_started") else start, start + 1),
                scheduling_id=scheduling_id,
            )
        data["runs"].setdefault((pool_id, job_id), []).append(run)
    return JSONResponse({"executionId": run.execution_id, "status": status})


@router.get(CONTROL_PREFIX + "/data-pools/{pool_id}/data-jobs/{job_id}")
def control_report(request: Request, pool_id: str, job_id: str) -> Response:
    """Configuration, counters (API executions started, refused starts, cancel calls) and every run."""
    state, data = _data(request)
    job = job_of(data, pool_id, job_id)
    if job is None:
        return _not_found(pool_id, job_id)
    now = state.now()
    runs = []
    for run in data["runs"].get((pool_id, job_id), []):
        status, start, end = run.view(now)
        runs.append(
            {
                "executionId": run.execution_id,
                "status": status,
                "startDate": ms(start),
                "endDate": ms(end),
                "mode": run.mode,
                "source": run.source,
                "configuration": run.configuration,
                "cancelRequested": run.cancel_requested_at is not None,
            }
        )
    counters = data["counters"].get(f"{pool_id}/{job_id}", {"executions": 0, "refused": 0, "cancels": 0})
    return JSONResponse({"config": asdict(job), **counters, "runs": runs})
