"""Data Job Execution API (docs/celonis-api.md 3.1 and 6): pools, jobs and their executions.

Each execution is a small state machine evaluated lazily against the emulator clock
(``state.now()``), so ``advance_clock`` moves it and no background thread is needed:
QUEUED for ``queued_seconds`` (``startDate`` null), RUNNING for ``running_seconds``, then the
job's ``outcome`` (SUCCESS, FAIL with ERROR log lines, CANCEL, SKIPPED, or any other string to
test fail-closed handling). ``cancel`` ends a QUEUED or RUNNING execution with CANCEL after
``cancel_seconds``.

[guess] switches, per job: ``stale_seconds`` (after an execute, ``logs/status``,
``jobs/{id}`` and the history keep showing the previous run), ``second_execute`` (``refuse``
with ``refuse_status``, or ``queue`` behind the running execution), ``history_order``
(``newest_first`` or ``oldest_first`` pages of the execution history).

The control API (not Celonis) that configures jobs, seeds executions and reports what
happened is in :mod:`airflow_provider_celonis.emulator.apis.data_jobs_control`.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.oauth import Principal, requires, state_of
from airflow_provider_celonis.emulator.stores.data_jobs import (
    DEFAULT_JOB_ID,
    DEFAULT_POOL_ID,
    KEY,
    PREVIOUS_EXECUTION_ID,
    TERMINAL,
    JobConfig,
    Run,
    count,
    init_state,
    job_of,
    ms,
    visible,
)
from airflow_provider_celonis.emulator.stores.state import EmulatorState

TASKS = (("Extract SAP tables", "task-extract"), ("Create activity table", "task-transform"))
"""Every emulated job has these two tasks; on FAIL the transformation fails with the ERROR lines."""
FAILING_TASK = "task-transform"

__all__ = ["DEFAULT_JOB_ID", "DEFAULT_POOL_ID", "PREVIOUS_EXECUTION_ID", "init_state", "router"]

router = APIRouter()


def _data(request: Request) -> tuple[EmulatorState, dict[str, Any]]:
    state = state_of(request)
    return state, state.ext[KEY]


def _not_found(pool_id: str, job_id: str | None = None) -> JSONResponse:
    what = f"Data job {job_id} in data pool {pool_id}" if job_id else f"Data pool {pool_id}"
    return problems.problem(404, f"{what} not found", "INTEGRATION_NOT_FOUND")


def _item(
    run: Run, pool_id: str, data: dict[str, Any], job: JobConfig, now: float, order: int
) -> dict[str, Any]:
    status, start, end = run.view(now)
    return {
        "id": run.item_id,
        "poolId": pool_id,
        "poolName": data["pools"].get(pool_id),
        "executionId": run.execution_id,
        "schedulingId": run.scheduling_id,
        "jobId": job.id,
        "taskId": None,
        "stepId": None,
        "name": job.name,
        "status": status,
        "dataPoolVersion": 1,
        "startDate": ms(start),
        "endDate": ms(end),
        "type": "JOB",
        "mode": run.mode,
        "schedulingName": "Nightly" if run.source == "SCHEDULE" else None,
        "executionOrder": order,
        "monitored": False,
    }


def _start(
    state: EmulatorState,
    data: dict[str, Any],
    pool_id: str,
    job_id: str,
    mode: str,
    configuration: dict[str, Any] | None,
) -> Response:
    job = job_of(data, pool_id, job_id)
    if job is None:
        return _not_found(pool_id, job_id)
    if mode not in ("FULL", "DELTA"):
        return problems.bad_parameter(f"mode must be FULL or DELTA, not {mode!r}")
    with state.lock:
        now = state.now()
        runs = data["runs"].setdefault((pool_id, job_id), [])
        live = [r for r in runs if r.view(now)[0] in ("QUEUED", "RUNNING")]
        not_before = now
        if live:
            if job.second_execute != "queue":
                count(data, pool_id, job_id, "refused")
                return problems.problem(
                    job.refuse_status,
                    f"Data job {job.name} is already running",
                    "INTEGRATION_JOB_ALREADY_RUNNING",
                )
            last = live[-1]
            not_before = last.queued_until + last.running_seconds
        runs.append(
            Run(
                str(uuid.uuid4()),
                str(uuid.uuid4()),
                mode,
                now,
                max(now + job.queued_seconds, not_before),
                job.running_seconds,
                job.outcome,
                list(job.error_lines),
                now + job.stale_seconds,
                job.cancel_seconds,
                configuration=configuration,
            )
        )
        count(data, pool_id, job_id, "executions")
    return Response(status_code=200)  # the real body is undocumented: clients must not depend on it


# -- Celonis routes ------------------------------------------------------------------------------
@router.post("/integration/api/v2/data-pools/{pool_id}/data-jobs/{job_id}/execute")
@router.post("/integration/api/v1/data-pools/{pool_id}/data-jobs/{job_id}/execute")
def execute(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_jobs"))
) -> Response:
    state, data = _data(request)
    mode = request.query_params.get("mode")
    if mode is None:
        return problems.bad_parameter("Required request parameter 'mode' is not present")
    return _start(state, data, pool_id, job_id, mode, None)


@router.post("/integration/api/pools/{pool_id}/jobs/{job_id}/execute")
def execute_with_configuration(
    request: Request,
    pool_id: str,
    job_id: str,
    body: dict[str, Any] = Body(...),
    principal: Principal = Depends(requires("data_jobs")),
) -> Response:
    state, data = _data(request)
    if body.get("poolId") not in (None, pool_id) or body.get("jobId") not in (None, job_id):
        return problems.bad_parameter("poolId and jobId in the body must match the path")
    for flag, key in (
        ("executeOnlySubsetOfTransformations", "transformations"),
        ("executeOnlySubsetOfExtractions", "extractions"),
        ("loadOnlySubsetOfDataModels", "dataModels"),
    ):
        if body.get(flag) and not isinstance(body.get(key), list):
            return problems.bad_parameter(f"{flag} is true but {key} is not a list")
    return _start(state, data, pool_id, job_id, str(body.get("mode", "DELTA")), body)


@router.post("/integration/api/pools/{pool_id}/jobs/{job_id}/cancel")
def cancel(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_jobs"))
) -> Response:
    state, data = _data(request)
    if job_of(data, pool_id, job_id) is None:
        return _not_found(pool_id, job_id)
    with state.lock:
        now = state.now()
        count(data, pool_id, job_id, "cancels")
        for run in data["runs"].get((pool_id, job_id), []):
            if run.cancel_requested_at is None and run.view(now)[0] in ("QUEUED", "RUNNING"):
                run.cancel_requested_at = now
    return Response(status_code=200)  # cancelling a finished run is a no-op [guess]


@router.get("/integration/api/pools/{pool_id}/logs/status")
def pool_status(
    request: Request, pool_id: str, principal: Principal = Depends(requires("data_jobs"))
) -> Response:
    state, data = _data(request)
    if pool_id not in data["pools"]:
        return _not_found(pool_id)
    now, result = state.now(), []
    for pool, job_id in data["jobs"]:
        if pool != pool_id:
            continue
        shown = visible(data["runs"].get((pool, job_id), []), now)
        status, start, _ = shown[-1].view(now) if shown else (None, None, None)
        result.append({"id": job_id, "status": status, "lastExecutionStartDate": ms(start)})
    return JSONResponse(result)


@router.get("/integration/api/pools/{pool_id}/jobs/{job_id}")
def job_transport(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_jobs"))
) -> Response:
    state, data = _data(request)
    job = job_of(data, pool_id, job_id)
    if job is None:
        return _not_found(pool_id, job_id)
    shown = visible(data["runs"].get((pool_id, job_id), []), state.now())
    last = shown[-1] if shown else None
    return JSONResponse(
        {
            "id": job_id,
            "name": job.name,
            "dataPoolId": pool_id,
            "dataSourceId": None,
            "timeStamp": ms(state.now()),
            "status": last.view(state.now())[0] if last else None,
            "currentExecutionId": last.execution_id if last else None,
            "dagBasedExecutionEnabled": False,
            "latestExecutionItemId": last.item_id if last else None,
        }
    )


def _page_args(request: Request, default: int) -> tuple[int, int] | Response:
    try:
        limit = int(request.query_params.get("limit", default))
        page = int(request.query_params.get("page", 0))
    except ValueError:
        return problems.bad_parameter("limit and page must be integers")
    if limit < 1 or page < 0:
        return problems.bad_parameter("limit must be >= 1 and page >= 0")
    return limit, page


@router.get("/integration/api/pools/{pool_id}/logs/{job_id}/executions")
def executions(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_jobs"))
) -> Response:
    state, data = _data(request)
    job = job_of(data, pool_id, job_id)
    if job is None:
        return _not_found(pool_id, job_id)
    args = _page_args(request, 50)
    if isinstance(args, Response):
        return args
    limit, page = args
    now = state.now()
    runs = visible(data["runs"].get((pool_id, job_id), []), now)
    items = [_item(run, pool_id, data, job, now, n) for n, run in enumerate(runs)]
    items.sort(
        key=lambda i: (i["startDate"] is None, i["startDate"] or 0, i["executionOrder"]),
        reverse=job.history_order != "oldest_first",
    )
    return JSONResponse(
        {
            "executionItems": items[page * limit : (page + 1) * limit],
            "numOfPages": math.ceil(len(items) / limit),
        }
    )


@router.get("/integration/api/pools/{pool_id}/logs/executions")
def task_items(
    request: Request, pool_id: str, principal: Principal = Depends(requires("data_jobs"))
) -> Response:
    """Task items of one execution (``?executionId=&type=TASK&id={jobId}``): one extraction and one
    transformation task, which share the execution's status (the transformation carries a FAIL)."""
    state, data = _data(request)
    execution_id, job_id = request.query_params.get("executionId"), request.query_params.get("id", "")
    if request.query_params.get("type", "").upper() != "TASK" or not execution_id:
        return problems.bad_parameter("executionId and type=TASK are required")
    job = job_of(data, pool_id, job_id)
    if job is None:
        return _not_found(pool_id, job_id)
    now, items = state.now(), []
    for n, run in enumerate(data["runs"].get((pool_id, job_id), [])):
        if run.execution_id != execution_id:
            continue
        job_item = _item(run, pool_id, data, job, now, n)
        for order, (name, task_id) in enumerate(TASKS):
            status = job_item["status"]
            if status == "FAIL" and order == 0:
                status = "SUCCESS"
            items.append(
                {
                    **job_item,
                    "id": f"{run.item_id}-{order}",
                    "taskId": task_id,
                    "name": name,
                    "status": status,
                    "type": "TASK",
                    "executionOrder": order,
                }
            )
    return JSONResponse(items)


@router.get("/integration/api/pools/{pool_id}/logs/executions/detail")
def log_detail(
    request: Request, pool_id: str, principal: Principal = Depends(requires("data_jobs"))
) -> Response:
    """Log lines of one item of an execution: ``id`` + ``type`` name it (``type=TASK`` with the
    task's ``taskId``, as pycelonis asks). The failed task's ERROR lines are in its own log only;
    a ``type=JOB`` query answers the job's INFO lines, an unknown id or type a 400."""
    state, data = _data(request)
    execution_id = request.query_params.get("executionId")
    if not execution_id:
        return problems.bad_parameter("Required request parameter 'executionId' is not present")
    item_type, item_id = request.query_params.get("type", "").upper(), request.query_params.get("id")
    if item_type not in ("JOB", "TASK") or not item_id:
        return problems.bad_parameter(
            "Required request parameters 'id' and 'type' (JOB or TASK) are not present"
        )
    if item_type == "TASK" and item_id not in {task_id for _, task_id in TASKS}:
        return problems.bad_parameter(f"Unknown task id {item_id!r} for execution {execution_id}")
    args = _page_args(request, 100)
    if isinstance(args, Response):
        return args
    limit, page = args
    levels = {lv.strip().upper() for lv in request.query_params.get("logLevels", "").split(",") if lv.strip()}
    now, lines = state.now(), []
    for (pool, job_id), runs in data["runs"].items():
        for run in runs:
            if pool != pool_id or run.execution_id != execution_id:
                continue
            if item_type == "JOB" and item_id != job_id:
                return problems.bad_parameter(
                    f"Execution {execution_id} is not an execution of job {item_id}"
                )
            status, start, end = run.view(now)
            entries = [("INFO", start or run.created, "Execution started")]
            if status == "FAIL" and item_id == FAILING_TASK:
                entries += [("ERROR", end or now, text) for text in run.error_lines]
            if status in TERMINAL:
                entries.append(("INFO", end or now, f"Execution finished with status {status}"))
            lines += [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{run.item_id}/{n}")),
                    "executionItemId": run.item_id,
                    "level": level,
                    "date": ms(when),
                    "logMessage": text,
                    "logTranslationCode": None,
                    "logTranslationParameters": [],
                }
                for n, (level, when, text) in enumerate(entries)
            ]
    if levels:
        lines = [line for line in lines if line["level"] in levels]
    return JSONResponse(
        {"logMessages": lines[page * limit : (page + 1) * limit], "numOfPages": math.ceil(len(lines) / limit)}
    )
