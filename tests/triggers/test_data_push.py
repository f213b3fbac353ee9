"""CelonisDataPushJobTrigger: serialization without secrets, one event per run, blips survived."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from data_pool_helpers import recreate, run_trigger

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook
from airflow_provider_celonis.push.chunking import csv_chunks
from airflow_provider_celonis.push.sources import resolve_sources
from airflow_provider_celonis.triggers.data_push import CelonisDataPushJobTrigger
from airflow_provider_celonis.waiting.decisions import PushWait, judge_push


def executed_job(tmp_path: Path, fast_retries: dict[str, float]) -> str:
    path = tmp_path / "a.csv"
    path.write_text("id,name\n1,a\n2,b\n")
    hook = CelonisDataPushHook(**fast_retries)
    job_id = str(hook.create_job(POOL, target_name="orders")["id"])
    [file] = resolve_sources(str(path))
    hook.upload_chunk(POOL, job_id, csv_chunks(file, 1000)[0])
    hook.execute_job(POOL, job_id)
    return job_id


def make_trigger(job_id: str, fast_retries: dict[str, float], **wait: Any) -> CelonisDataPushJobTrigger:
    spec = PushWait(POOL, job_id, deadline=time.time() + 20, summary={"rows": 2}, **wait)
    return CelonisDataPushJobTrigger(wait=spec.to_dict(), poll_interval=0.05, hook_params=fast_retries)


async def test_done_after_poll_errors_with_no_secret_in_kwargs(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    job_id = executed_job(tmp_path, fast_retries)
    emulator.add_faults([{"path": f"jobs/{job_id}$", "method": "GET", "status": 503, "times": 5}])
    trigger = recreate(make_trigger(job_id, fast_retries))
    text = json.dumps(trigger.serialize()[1])
    assert "demo-secret" not in text and "Bearer" not in text and "access_token" not in text
    [event] = await run_trigger(trigger)
    assert event["status"] == "success" and event["job_status"] == "DONE"
    assert event["job_id"] == job_id and event["summary"] == {"rows": 2}


async def test_deleted_job_ends_the_wait_with_one_error_event(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    emulator.configure_data_push(queued_seconds=30)
    job_id = executed_job(tmp_path, fast_retries)
    emulator.configure_data_push(delete_running="abandon")
    CelonisDataPushHook(**fast_retries).delete_job(POOL, job_id)
    [event] = await run_trigger(make_trigger(job_id, fast_retries))
    assert event["status"] == "error" and "CelonisNotFoundError" in event["message"]


async def test_killing_the_deferred_push_deletes_the_job_bounded(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The operator's trigger deletes its job on a user's kill; a failing delete never raises."""
    from airflow.sdk.exceptions import TaskDeferred
    from data_pool_helpers import make_context

    from airflow_provider_celonis.client.transport import close_loop_session
    from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator

    emulator.configure_data_push(queued_seconds=30)
    path = tmp_path / "a.csv"
    path.write_text("id,name\n1,a\n")
    op = CelonisDataPushOperator(
        task_id="push",
        data_pool_id=POOL,
        target_table="orders",
        source=str(path),
        deferrable=True,
        poll_interval=0.05,
        hook_params=fast_retries,
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context())
    trigger = recreate(deferred.value.trigger)
    [job_id] = emulator.push_report()["jobs"]
    emulator.add_faults([{"path": f"jobs/{job_id}$", "method": "DELETE", "status": 500, "times": -1}])
    started = time.monotonic()
    await trigger.on_kill()  # Celonis answers 500 every time: few retries, logged, not raised
    assert time.monotonic() - started < 10
    assert emulator.push_report()["jobs"][job_id]["status"] == "QUEUED"
    emulator.clear_faults()
    await trigger.on_kill()
    await close_loop_session()
    assert emulator.push_report()["jobs"][job_id]["status"] in ("DELETED", "CANCELED")
    watcher = make_trigger(executed_job(tmp_path, fast_retries), fast_retries)
    await watcher.on_kill()  # delete_on_kill defaults to off
    await close_loop_session()
    assert all(j["status"] != "DELETED" for k, j in emulator.push_report()["jobs"].items() if k != job_id)


@pytest.mark.parametrize(
    ("status", "now", "verdict"),
    [
        ("NEW", 0.0, None),
        ("NEW", 5.0, "error"),
        ("QUEUED", 5.0, None),
        ("RUNNING", 20.0, "timeout"),
        ("DONE", 20.0, "success"),
        ("CANCELED", 0.0, "error"),
        ("SOMETHING", 0.0, "error"),
    ],
)
def test_judge_push(status: str, now: float, verdict: str | None) -> None:
    wait = PushWait("p", "j", deadline=10.0, appear_deadline=2.0)
    result = judge_push({"id": "j", "status": status, "logs": ["line"]}, wait, now=now)
    assert (result or {}).get("status") == verdict
    if verdict == "error" and status != "NEW":
        assert result is not None and result["logs"] == ["line"]


@pytest.mark.parametrize(
    ("job", "text"),
    [
        ({"id": "other", "status": "DONE"}, "answered about push job 'other'"),
        ({"status": "DONE"}, "answered about push job None"),
        ({"id": "j", "status": "DONE", "logs": ["ERROR: 12 rows rejected"]}, "DONE with error lines"),
        ({"id": "j", "status": "DONE", "logs": ["Load failed for chunk 3"]}, "DONE with error lines"),
    ],
)
def test_judge_push_refuses_a_done_it_cannot_trust(job: dict[str, Any], text: str) -> None:
    """A DONE about another job (or no job), or a DONE whose logs report errors, fails closed."""
    result = judge_push(job, PushWait("p", "j", deadline=10.0), now=0.0)
    assert result is not None and result["status"] == "error" and text in result["message"]


def test_judge_push_trusts_a_done_with_plain_log_lines() -> None:
    job = {"id": "j", "status": "DONE", "logs": ["Job finished", "3 chunks applied"]}
    result = judge_push(job, PushWait("p", "j", deadline=10.0), now=0.0)
    assert result is not None and result["status"] == "success"


@pytest.mark.parametrize(
    "payload",
    [
        {"data_pool_id": "p", "job_id": "j", "extra": 1},
        {"data_pool_id": "p", "job_id": ""},
        {"data_pool_id": "p", "job_id": "j", "deadline": "soon"},
        {"data_pool_id": "p", "job_id": "j", "summary": []},
        ["p", "j"],
    ],
)
def test_push_wait_refuses_a_wrong_payload(payload: Any) -> None:
    """Trigger kwargs come back from the metadata database: a wrong payload fails loudly."""
    with pytest.raises(ValueError, match="PushWait"):
        PushWait.from_dict(payload)
