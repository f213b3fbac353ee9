"""Review attacks on the push's kill and deferral paths (emulator, real HTTP).

A kill that lands while the push is being rebuilt or reconciled must leave no job that can
still load; a deferred push resumed from a payload written by an earlier version, or altered
in the metadata database, must report only the job it polled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from data_pool_helpers import fresh_instance, make_context, recreate, run_trigger

from airflow_provider_celonis.triggers.data_push import CelonisDataPushJobTrigger
from tests.push.test_run_fault_matrix import CALLS, POOL, make_op, write_csv


class Killed(BaseException):
    """Stands for the task process being terminated right after Airflow called on_kill."""


def kill_on_call(op: Any, method: str, call: int) -> None:
    original = getattr(op.hook, method)
    seen = {"n": 0}

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        seen["n"] += 1
        if seen["n"] == call:
            op.on_kill()
            raise Killed
        return original(*args, **kwargs)

    setattr(op.hook, method, wrapped)


def test_kill_during_a_rebuild_leaves_no_job(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The first job is discarded after a lost upload answer; the kill lands while the second
    job receives its first chunk: both jobs are deleted, nothing was executed."""
    emulator.add_faults([{**CALLS["upload"], "kind": "status", "status": 503, "process": True}])
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"))
    kill_on_call(op, "upload_chunk", 3)
    with pytest.raises(Killed):
        op.execute(make_context())
    report = emulator.push_report()
    assert report["execute_requests"] == 0
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED", "DELETED"], report


def test_kill_while_reconciling_a_lost_execute_stops_the_job(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The execute answer was lost after Celonis started the job; the kill lands while the
    operator reads the status back: the job is deleted (cancelled) and loads nothing."""
    emulator.configure_data_push(queued_seconds=5, running_seconds=5, delete_running="cancel")
    emulator.add_faults([{**CALLS["execute"], "kind": "status", "status": 504, "process": True}])
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"))
    kill_on_call(op, "get_job", 1)
    with pytest.raises(Killed):
        op.execute(make_context())
    report = emulator.push_report()
    assert report["executions"] == 1
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED"], report


async def _executed_job(op: Any) -> tuple[dict[str, Any], Any]:
    """Run the operator up to its deferral; the trigger kwargs as stored in the metadata DB."""
    with pytest.raises(TaskDeferred) as raised:
        op.execute(make_context())
    _, kwargs = raised.value.trigger.serialize()
    return kwargs, raised.value


async def test_payload_of_an_earlier_version_resumes(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The first released trigger stored ``wait`` without ``fail_on_error_logs`` and had no
    ``delete_on_kill``: such a deferred task still resumes to the verdict on its own job."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"), deferrable=True)
    kwargs, _ = await _executed_job(op)
    old_wait = {k: v for k, v in kwargs["wait"].items() if k != "fail_on_error_logs"}
    old = {k: v for k, v in kwargs.items() if k != "delete_on_kill"} | {"wait": old_wait}
    [event] = await run_trigger(recreate(CelonisDataPushJobTrigger(**old)))
    result = fresh_instance(op).execute_complete(make_context(), event)
    assert result["status"] == "DONE" and result["job_id"] == old_wait["job_id"]
    assert emulator.push_table(POOL, "orders")["row_count"] == 60


async def test_tampered_summary_cannot_name_another_job(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The summary rides through the metadata DB: keys in it never replace the id and status of
    the job the trigger actually polled."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"), deferrable=True)
    kwargs, _ = await _executed_job(op)
    wait = kwargs["wait"]
    wait["summary"] = {**wait["summary"], "job_id": "someone-else", "status": "DONE"}
    [event] = await run_trigger(recreate(CelonisDataPushJobTrigger(**kwargs)))
    result = fresh_instance(op).execute_complete(make_context(), event)
    assert result["job_id"] == wait["job_id"] and result["status"] == "DONE"
