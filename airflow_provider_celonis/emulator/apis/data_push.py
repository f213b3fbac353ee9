"""Data Push API (docs/celonis-api.md, Data Push), served under ``/data-ingestion`` and the
older ``/integration`` base.

Job state lives in :mod:`airflow_provider_celonis.emulator.stores.data_push`. Errors use the push
service's own shapes: 400 ``FrontendHandledBackendError``, 404 and 429 plain strings, 500
``ExceptionReference`` (the 403s with no body come from the shared access check).

Control API (not Celonis), under ``/_emulator/data-push``: ``POST /settings`` changes the
[guess] switches (:class:`~airflow_provider_celonis.emulator.stores.data_push.PushSettings`),
``GET /tables/{pool}/{table}`` returns a table's columns, row count and rows, ``GET /report``
counts execute requests and accepted executions so tests can prove no job ran twice.
"""

from __future__ import annotations

import hashlib
import math
import os
import uuid
from dataclasses import asdict, fields, replace
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID
from airflow_provider_celonis.emulator.faults.core import CONTROL_PREFIX
from airflow_provider_celonis.emulator.oauth import Principal, requires, state_of
from airflow_provider_celonis.emulator.stores.data_push import (
    PushJob,
    PushSettings,
    StoredChunk,
    Table,
    apply_job,
    new_chunk_dir,
)
from airflow_provider_celonis.emulator.stores.state import EmulatorState

KEY = "data_push"
inner = APIRouter()
router = APIRouter()
JOBS = "/api/v1/data-push/{pool_id}/jobs"


def init_state(state: EmulatorState) -> None:
    state.ext[KEY] = {
        "settings": PushSettings(),
        "jobs": {},
        "tables": {},
        "dir": new_chunk_dir(),
        "execute_times": [],
        "counters": {"execute_requests": 0, "executions": 0, "rate_limited": 0, "refused": 0},
    }


def _data(request: Request) -> tuple[EmulatorState, dict[str, Any]]:
    state = state_of(request)
    return state, state.ext[KEY]


# -- the push service's error shapes ------------------------------------------------------------
def frontend_error(key: str, message: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"frontendErrorKey": key, "errorInformation": {"message": message}}, status_code=status
    )


def plain(status: int, text: str, headers: dict[str, str] | None = None) -> PlainTextResponse:
    return PlainTextResponse(text, status_code=status, headers=headers)


def exception_reference(message: str) -> JSONResponse:
    ref = str(uuid.uuid4())
    return JSONResponse(
        {"reference": ref, "message": f"{message} (reference {ref})", "shortMessage": message},
        status_code=500,
    )


def _forced_create_error(status: int | None) -> Response | None:
    if status is None:
        return None
    if status == 400:
        return frontend_error("DATA_PUSH_INVALID_TABLE_SCHEMA", "Invalid table schema")
    if status == 403:
        return Response(status_code=403)
    if status in (404, 429):
        return plain(status, "Data pool not found" if status == 404 else "Too many requests")
    return exception_reference("Unexpected error while creating the data push job")


# -- job views ----------------------------------------------------------------------------------
def _pools(state: EmulatorState) -> set[str]:
    pools = state.ext.get("data_jobs", {}).get("pools", {})
    return set(pools) | {DEFAULT_POOL_ID}


def current_status(state: EmulatorState, data: dict[str, Any], job: PushJob) -> str:
    """The job's status now; applies the chunks once when the run is over."""
    settings: PushSettings = data["settings"]
    status = job.status(state.now(), settings)
    if status != "FINISHING":
        return status
    with state.lock:
        if job.outcome is None:
            forced = settings.force_outcome
            if forced and (forced != "DONE" or settings.outcome_logs is not None):
                job.outcome = forced
                if forced == "ERROR":
                    job.logs = ["Data push job failed: forced failure (emulator force_outcome)."]
                if settings.outcome_logs is not None:
                    job.logs = [str(line) for line in settings.outcome_logs]
            else:
                try:
                    job.logs = apply_job(job, data["tables"], settings)
                except Exception as err:
                    job.logs = [f"Data push job failed: {type(err).__name__}: {err}"]
                job.outcome = "ERROR" if job.logs else "DONE"
            for chunk in job.chunks:
                if os.path.exists(chunk.path):
                    os.unlink(chunk.path)
    return job.outcome


def view(state: EmulatorState, data: dict[str, Any], job: PushJob) -> dict[str, Any]:
    status = current_status(state, data, job)
    body = job.body
    return {
        "id": job.id,
        "targetName": body.get("targetName"),
        "targetSchema": body.get("connectionId") or job.pool_id,
        "dataPoolId": job.pool_id,
        "connectionId": body.get("connectionId"),
        "lastModified": int(job.created * 1000),
        "lastPing": int(state.now() * 1000),
        "changeDate": int(state.now() * 1000),
        "status": status,
        "logs": list(job.logs),
        "type": body.get("type", "REPLACE"),
        "fileType": body.get("fileType", "CSV"),
        "keys": body.get("keys") or [],
        "tableSchema": body.get("tableSchema"),
        "csvParsingOptions": body.get("csvParsingOptions"),
        "upsertStrategy": body.get("upsertStrategy"),
    }


def _job(data: dict[str, Any], pool_id: str, job_id: str) -> PushJob | None:
    job: PushJob | None = data["jobs"].get(job_id)
    if job is None or job.pool_id != pool_id or job.deleted:
        return None
    return job


def _no_job(job_id: str) -> PlainTextResponse:
    return plain(404, f"Data push job with id {job_id} not found")


# -- routes ---------------------------------------------------------------------------------------
@inner.post(JOBS + "/")
async def create_job(
    request: Request, pool_id: str, principal: Principal = Depends(requires("data_push"))
) -> Response:
    state, data = _data(request)
    forced = _forced_create_error(data["settings"].create_error_status)
    if forced is not None:
        return forced
    if pool_id not in _pools(state):
        return plain(404, f"Data pool with id {pool_id} not found")
    try:
        body = await request.json()
    except ValueError:
        return frontend_error("DATA_PUSH_INVALID_BODY", "The request body is not valid JSON")
    if not isinstance(body, dict) or not body.get("targetName"):
        return frontend_error("DATA_PUSH_TARGET_NAME_MISSING", "targetName is required")
    if str(body.get("type", "REPLACE")).upper() not in ("REPLACE", "DELTA"):
        return frontend_error("DATA_PUSH_INVALID_TYPE", "type must be REPLACE or DELTA")
    if str(body.get("fileType", "CSV")).upper() not in ("CSV", "PARQUET"):
        return frontend_error("DATA_PUSH_INVALID_FILE_TYPE", "fileType must be CSV or PARQUET")
    if str(body.get("type")).upper() == "DELTA" and not body.get("keys"):
        return frontend_error("DATA_PUSH_KEYS_MISSING", "A DELTA push job needs primary keys (keys)")
    with state.lock:
        job = PushJob(str(uuid.uuid4()), pool_id, body, state.now())
        data["jobs"][job.id] = job
    return JSONResponse(view(state, data, job), status_code=201)


@inner.get(JOBS + "/")
def list_jobs(
    request: Request, pool_id: str, principal: Principal = Depends(requires("data_push"))
) -> Response:
    state, data = _data(request)
    jobs = [j for j in list(data["jobs"].values()) if j.pool_id == pool_id and not j.deleted]
    return JSONResponse([view(state, data, j) for j in jobs])


@inner.get(JOBS + "/{job_id}")
def get_job(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_push"))
) -> Response:
    state, data = _data(request)
    job = _job(data, pool_id, job_id)
    if job is None:
        return _no_job(job_id)
    return JSONResponse({**view(state, data, job), "id": data["settings"].answer_job_id or job.id})


@inner.delete(JOBS + "/{job_id}")
def delete_job(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_push"))
) -> Response:
    state, data = _data(request)
    job = _job(data, pool_id, job_id)
    if job is None:
        return _no_job(job_id)
    running = current_status(state, data, job) in ("QUEUED", "RUNNING")
    with state.lock:
        data["counters"]["deletes"] = data["counters"].get("deletes", 0) + 1
        if running and data["settings"].delete_running == "cancel":
            job.canceled_at = state.now()
        else:
            job.deleted = True
    return Response(status_code=200)


@inner.get(JOBS + "/{job_id}/chunks")
def list_chunks(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_push"))
) -> Response:
    _, data = _data(request)
    job = _job(data, pool_id, job_id)
    if job is None:
        return _no_job(job_id)
    listed = [
        {
            "id": c.id,
            "creationDate": int(c.created * 1000),
            "type": c.kind,
            "pushJobId": job.id,
            "checksum": c.checksum,
        }
        for c in job.chunks
    ]
    return JSONResponse(_lie_about_chunks(data["settings"].chunk_list_lie, listed))


def _lie_about_chunks(lie: str | None, listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``chunk_list_lie`` setting (not Celonis): a chunk list a client must not trust."""
    if not lie or not listed:
        return listed
    if lie == "foreign":
        return [*listed[:-1], {**listed[-1], "pushJobId": str(uuid.uuid4())}]
    if lie == "missing":
        return listed[:-1]
    if lie == "repeat":
        return [*listed[:-1], dict(listed[0])]
    return listed


@inner.post(JOBS + "/{job_id}/chunks/{kind}")
async def upload_chunk(
    request: Request,
    pool_id: str,
    job_id: str,
    kind: str,
    principal: Principal = Depends(requires("data_push")),
) -> Response:
    state, data = _data(request)
    job = _job(data, pool_id, job_id)
    if job is None:
        return _no_job(job_id)
    if kind not in ("upserted", "deleted"):
        return plain(404, f"No endpoint chunks/{kind}")
    if current_status(state, data, job) != "NEW":
        return frontend_error("DATA_PUSH_JOB_NOT_NEW", "Chunks can only be added to a job in status NEW")
    form = await request.form(max_files=2, max_fields=10)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        names = ", ".join(form.keys()) or "none"
        return frontend_error("DATA_PUSH_FILE_MISSING", f"Multipart field 'file' is required (got {names})")
    settings: PushSettings = data["settings"]
    chunk_id = str(uuid.uuid4())
    path = os.path.join(data["dir"], chunk_id)
    digest, size = hashlib.md5(usedforsecurity=False), 0
    with open(path, "wb") as out:
        while block := await upload.read(1 << 20):
            digest.update(block)
            out.write(block)
            size += len(block)
    await form.close()
    if size > settings.chunk_limit:
        os.unlink(path)
        message = f"Chunk of {size} bytes exceeds the maximum chunk size of {settings.chunk_limit} bytes"
        if settings.over_limit_status == 413:
            return plain(413, message)
        return frontend_error("DATA_PUSH_CHUNK_TOO_LARGE", message, settings.over_limit_status)
    stored = StoredChunk(
        chunk_id, "UPSERT" if kind == "upserted" else "DELETE", path, size, digest.hexdigest(), state.now()
    )
    with state.lock:
        job.chunks.append(stored)
        if settings.store_uploads_twice:
            job.chunks.append(replace(stored, id=str(uuid.uuid4())))
    return Response(status_code=200)


def _rate_limited(state: EmulatorState, data: dict[str, Any]) -> Response | None:
    settings: PushSettings = data["settings"]
    now = state.now()
    times: list[float] = data["execute_times"]
    hour_start = math.floor(now / 3600) * 3600
    times[:] = [t for t in times if t >= hour_start]
    if sum(1 for t in times if t > now - 1) >= settings.execute_per_second:
        reset, limit, used = 1, settings.execute_per_second, settings.execute_per_second
    elif len(times) >= settings.execute_per_hour:
        reset, limit, used = math.ceil(hour_start + 3600 - now), settings.execute_per_hour, len(times)
    else:
        return None
    headers = {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(max(limit - used, 0)),
        "x-ratelimit-reset": str(max(reset, 1)),
    }
    data["counters"]["rate_limited"] += 1
    return plain(429, "Too many requests: the data push execute limit is exceeded", headers)


@inner.post(JOBS + "/{job_id}")
def execute_job(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_push"))
) -> Response:
    state, data = _data(request)
    with state.lock:
        data["counters"]["execute_requests"] += 1
        job = _job(data, pool_id, job_id)
        if job is None:
            return _no_job(job_id)
        limited = _rate_limited(state, data)
        if limited is not None:
            return limited
        data["execute_times"].append(state.now())
        if job.executed_at is not None or job.canceled_at is not None:
            data["counters"]["refused"] += 1
            status = data["settings"].non_new_execute_status
            message = f"Data push job {job_id} is not in status NEW and cannot be executed again"
            if status == 409:
                return plain(409, message)
            return frontend_error("DATA_PUSH_JOB_NOT_NEW", message, status)
        job.executed_at = state.now()
        job.execute_params = dict(request.query_params)
        data["counters"]["executions"] += 1
    return Response(status_code=200)


router.include_router(inner, prefix="/data-ingestion")
router.include_router(inner, prefix="/integration")


# -- control API --------------------------------------------------------------------------------
@router.post(CONTROL_PREFIX + "/data-push/settings")
def configure(request: Request, values: dict[str, Any] = Body(...)) -> JSONResponse:
    state, data = _data(request)
    settings: PushSettings = data["settings"]
    known = {f.name for f in fields(PushSettings)}
    if set(values) - known:
        return JSONResponse({"error": f"unknown settings {sorted(set(values) - known)}"}, status_code=400)
    with state.lock:
        for name, value in values.items():
            setattr(settings, name, value)
    return JSONResponse(asdict(settings))


@router.get(CONTROL_PREFIX + "/data-push/tables/{pool_id}/{table}")
def table(request: Request, pool_id: str, table: str, connection_id: str = "") -> JSONResponse:
    _, data = _data(request)
    found: Table | None = data["tables"].get((pool_id, connection_id, table))
    if found is None:
        return JSONResponse({"error": f"no table {table} in pool {pool_id}"}, status_code=404)
    return JSONResponse(
        {"columns": found.columns, "keys": found.keys, "row_count": found.row_count, "rows": found.rows}
    )


@router.get(CONTROL_PREFIX + "/data-push/report")
def report(request: Request) -> JSONResponse:
    state, data = _data(request)
    jobs = {
        j.id: {
            "status": "DELETED" if j.deleted else current_status(state, data, j),
            "chunks": len(j.chunks),
            "chunk_sizes": [c.size for c in j.chunks],
            "execute_params": j.execute_params,
            "target": j.body.get("targetName"),
        }
        for j in list(data["jobs"].values())
    }
    return JSONResponse({**data["counters"], "jobs": jobs})
