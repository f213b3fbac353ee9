"""CelonisDataPushHook and the emulated Data Push API: endpoints, retries, limits, error shapes."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import (
    CelonisApiDisabledError,
    CelonisApiError,
    CelonisBadRequestError,
    CelonisConflictError,
    CelonisNotFoundError,
    CelonisRateLimitError,
    CelonisRequestMaybeSentError,
)
from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook
from airflow_provider_celonis.push.chunking import csv_chunks
from airflow_provider_celonis.push.sources import resolve_sources

JOBS = f"/data-ingestion/api/v1/data-push/{POOL}/jobs/"


def make_csv(tmp_path: Path, rows: int = 20, name: str = "t.csv", header: str = "id,name") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "".join(f"{i},n{i}\n" for i in range(rows)))
    return path


def wait_status(hook: CelonisDataPushHook, job_id: str, *, until: tuple[str, ...]) -> dict[str, Any]:
    for _ in range(100):
        job = hook.get_job(POOL, job_id)
        if job["status"] in until:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} stayed {job['status']}")


@pytest.fixture
def hook(emulator: Any, fast_retries: dict[str, float]) -> CelonisDataPushHook:
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.1)
    # The emulator announces the hourly reset (up to 3600 s): cap the hook's 429 waits for tests.
    return CelonisDataPushHook(**fast_retries, max_rate_limit_wait=0.05)


def push(hook: CelonisDataPushHook, path: Path, chunk_size: int = 10_000, **create: Any) -> str:
    job = hook.create_job(POOL, **{"target_name": "orders", **create})
    assert job["status"] == "NEW"
    [file] = resolve_sources(str(path))
    for chunk in csv_chunks(file, chunk_size):
        hook.upload_chunk(POOL, job["id"], chunk)
    return str(job["id"])


def test_full_cycle_and_chunk_listing(hook: CelonisDataPushHook, emulator: Any, tmp_path: Path) -> None:
    job_id = push(hook, make_csv(tmp_path, 30), chunk_size=80)
    chunks = hook.list_chunks(POOL, job_id)
    assert len(chunks) > 2 and {c["type"] for c in chunks} == {"UPSERT"}
    assert all(c["pushJobId"] == job_id and c["checksum"] for c in chunks)
    assert hook.list_jobs(POOL)[0]["id"] == job_id
    hook.execute_job(POOL, job_id, duplicate_removal_column="id")
    assert wait_status(hook, job_id, until=("DONE", "ERROR"))["status"] == "DONE"
    table = emulator.push_table(POOL, "orders")
    assert table["row_count"] == 30 and table["columns"] == ["id", "name"]
    assert emulator.push_report()["jobs"][job_id]["execute_params"] == {"duplicateRemovalColumn": "id"}
    hook.delete_job(POOL, job_id)
    with pytest.raises(CelonisNotFoundError):
        hook.get_job(POOL, job_id)


def test_upload_retried_after_429_resends_the_whole_body(
    hook: CelonisDataPushHook, emulator: Any, tmp_path: Path
) -> None:
    path = make_csv(tmp_path, 50)
    job = hook.create_job(POOL, target_name="orders")
    emulator.add_faults([{"path": "/chunks/upserted$", "kind": "rate_limit", "reset": 0.01, "times": 2}])
    [file] = resolve_sources(str(path))
    [chunk] = csv_chunks(file, 10_000)
    hook.upload_chunk(POOL, job["id"], chunk)
    [listed] = hook.list_chunks(POOL, job["id"])
    assert listed["checksum"] == hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
    assert emulator.requests_to("POST", f"{JOBS}{job['id']}/chunks/upserted") == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("process", [False, True], ids=["before-acted", "after-acted"])
def test_upload_never_replayed_after_an_ambiguous_status(
    hook: CelonisDataPushHook, emulator: Any, tmp_path: Path, status: int, process: bool
) -> None:
    """A 503 after Celonis stored the chunk used to be replayed: the chunk was stored twice."""
    job = hook.create_job(POOL, target_name="orders")
    emulator.add_faults([{"path": "/chunks/upserted$", "status": status, "process": process}])
    [file] = resolve_sources(str(make_csv(tmp_path)))
    with pytest.raises(CelonisRequestMaybeSentError):
        hook.upload_chunk(POOL, job["id"], csv_chunks(file, 10_000)[0])
    assert emulator.requests_to("POST", f"{JOBS}{job['id']}/chunks/upserted") == 1
    assert len(hook.list_chunks(POOL, job["id"])) == (1 if process else 0)


def test_upload_not_replayed_when_it_may_have_arrived(
    hook: CelonisDataPushHook, emulator: Any, tmp_path: Path
) -> None:
    job = hook.create_job(POOL, target_name="orders")
    emulator.add_faults([{"path": "/chunks/upserted$", "kind": "drop", "process": True}])
    [file] = resolve_sources(str(make_csv(tmp_path)))
    with pytest.raises(CelonisRequestMaybeSentError):
        hook.upload_chunk(POOL, job["id"], csv_chunks(file, 10_000)[0])
    assert len(hook.list_chunks(POOL, job["id"])) == 1


def test_execute_waits_out_429_beyond_the_hook_retries(
    hook: CelonisDataPushHook, emulator: Any, tmp_path: Path
) -> None:
    job_id = push(hook, make_csv(tmp_path))
    # 6 answers of 429: more than the hook's 4 attempts, so execute_job's own wait is needed.
    emulator.add_faults(
        [{"path": f"{job_id}$", "method": "POST", "kind": "rate_limit", "times": 6, "reset": 0.05}]
    )
    hook.execute_job(POOL, job_id, deadline=time.time() + 30)
    report = emulator.push_report()
    assert report["executions"] == 1 and report["execute_requests"] == 1
    assert emulator.requests_to("POST", f"{JOBS}{job_id}") == 7


def test_execute_gives_up_at_the_deadline(hook: CelonisDataPushHook, emulator: Any, tmp_path: Path) -> None:
    job_id = push(hook, make_csv(tmp_path))
    emulator.add_faults(
        [{"path": f"{job_id}$", "method": "POST", "kind": "rate_limit", "times": -1, "reset": 5}]
    )
    with pytest.raises(CelonisRateLimitError):
        hook.execute_job(POOL, job_id, deadline=time.time() + 1)
    assert emulator.push_report()["executions"] == 0


def test_emulator_enforces_the_execute_rate_limit(
    hook: CelonisDataPushHook, emulator: Any, tmp_path: Path
) -> None:
    emulator.configure_data_push(execute_per_second=100, execute_per_hour=2)
    ids = [push(hook, make_csv(tmp_path)) for _ in range(3)]
    hook.execute_job(POOL, ids[0])
    hook.execute_job(POOL, ids[1])
    with pytest.raises(CelonisRateLimitError) as raised:
        hook.execute_job(POOL, ids[2], deadline=time.time())
    assert raised.value.reset_in is not None and 0 < raised.value.reset_in <= 3600
    assert emulator.push_report()["executions"] == 2


def test_execute_twice_is_refused_with_409(hook: CelonisDataPushHook, emulator: Any, tmp_path: Path) -> None:
    job_id = push(hook, make_csv(tmp_path))
    hook.execute_job(POOL, job_id)
    with pytest.raises(CelonisConflictError):
        hook.execute_job(POOL, job_id)
    assert emulator.push_report()["executions"] == 1


@pytest.mark.parametrize("status", [413, 400])
def test_chunk_over_the_limit(hook: CelonisDataPushHook, emulator: Any, tmp_path: Path, status: int) -> None:
    emulator.configure_data_push(chunk_limit=100, over_limit_status=status)
    job = hook.create_job(POOL, target_name="orders")
    [file] = resolve_sources(str(make_csv(tmp_path, 50)))
    with pytest.raises(CelonisApiError) as raised:
        hook.upload_chunk(POOL, job["id"], csv_chunks(file, 10_000)[0])
    assert raised.value.status == status
    assert "exceeds the maximum chunk size" in str(raised.value)
    assert hook.list_chunks(POOL, job["id"]) == []


def test_delta_chunk_without_key_column_fails_with_logs(
    hook: CelonisDataPushHook, emulator: Any, tmp_path: Path
) -> None:
    job_id = push(hook, make_csv(tmp_path, header="code,name"), job_type="DELTA", keys=["id"])
    hook.execute_job(POOL, job_id)
    job = wait_status(hook, job_id, until=("DONE", "ERROR"))
    assert job["status"] == "ERROR"
    assert "requires the primary key column(s) id" in job["logs"][0]


def test_delta_without_keys_is_a_frontend_error(hook: CelonisDataPushHook) -> None:
    with pytest.raises(CelonisBadRequestError) as raised:
        hook.create_job(POOL, target_name="orders", job_type="DELTA")
    assert "keys" in str(raised.value).lower()


def test_scope_variant_from_the_connection_extra(
    emulator: Any, fast_retries: dict[str, float], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator.add_client("push-only", "s3cret", scopes=["integration.data-pools:data-push"])
    conn = emulator.connection_json(
        ("push-only", "s3cret"), scopes={"data_push": "integration.data-pools:data-push"}
    )
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_PUSH", conn)
    hook = CelonisDataPushHook("celonis_push", **fast_retries)
    assert hook.create_job(POOL, target_name="orders")["status"] == "NEW"


def test_hourly_execute_limit_resets_on_the_full_utc_hour(
    hook: CelonisDataPushHook, emulator: Any, tmp_path: Path
) -> None:
    emulator.configure_data_push(execute_per_second=100, execute_per_hour=1)
    now = time.time()  # same machine: move the emulator to the middle of an hour, far from its edges
    emulator.advance_clock((now // 3600 + 1) * 3600 + 1800 - now)
    first, second = push(hook, make_csv(tmp_path)), push(hook, make_csv(tmp_path))
    hook.execute_job(POOL, first)
    with pytest.raises(CelonisRateLimitError) as raised:
        hook.execute_job(POOL, second, deadline=time.time())
    reset = raised.value.reset_in
    assert reset is not None and 1790 <= reset <= 1800
    emulator.advance_clock(reset - 2)  # still the same UTC hour: still refused
    with pytest.raises(CelonisRateLimitError):
        hook.execute_job(POOL, second, deadline=time.time())
    emulator.advance_clock(3)  # the next full hour
    hook.execute_job(POOL, second)
    assert emulator.push_report()["executions"] == 2


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        (400, CelonisBadRequestError, "DATA_PUSH_INVALID_TABLE_SCHEMA"),
        (403, CelonisApiDisabledError, "403"),
        (404, CelonisNotFoundError, "Data pool not found"),
        # A 500 to a POST does not prove Celonis did not create the job: never replayed.
        (500, CelonisRequestMaybeSentError, "Celonis may have acted on it"),
    ],
)
def test_push_service_error_shapes_are_understood(
    hook: CelonisDataPushHook, emulator: Any, status: int, error: type[Exception], text: str
) -> None:
    emulator.configure_data_push(create_error_status=status)
    with pytest.raises(error) as raised:
        hook.create_job(POOL, target_name="orders")
    assert text in str(raised.value)
    assert emulator.push_report()["jobs"] == {}
