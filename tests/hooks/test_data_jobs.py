"""CelonisDataJobHook and CelonisDataModelHook: sync methods and their async twins give the same answers."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_celonis.client.transport import close_loop_session
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_jobs import PREVIOUS_EXECUTION_ID
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import (
    CelonisBadRequestError,
    CelonisConflictError,
    CelonisNotFoundError,
)
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook
from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook


async def test_job_lifecycle_sync_and_async(emulator: Any, fast_retries: dict[str, float]) -> None:
    emulator.configure_data_job(
        POOL, JOB, queued_seconds=0.0, running_seconds=30, stale_seconds=0.0, outcome="FAIL"
    )
    hook = CelonisDataJobHook(**fast_retries)
    status = hook.get_job_status(POOL, JOB)  # the public JobTransport
    assert status is not None and status["status"] == "SUCCESS"
    assert status["currentExecutionId"] == PREVIOUS_EXECUTION_ID
    assert (await hook.aget_job_status(POOL, JOB))["status"] == "SUCCESS"  # type: ignore[index]
    await hook.astart_execution(POOL, JOB, "FULL")
    with pytest.raises(CelonisConflictError):  # Celonis refuses a second run (emulator default)
        hook.start_execution(POOL, JOB, "FULL")
    items = await hook.alist_executions(POOL, JOB)
    assert items == hook.list_executions(POOL, JOB)
    new = next(i for i in items if i["executionId"] != PREVIOUS_EXECUTION_ID)
    assert (new["status"], new["mode"]) == ("RUNNING", "FULL")
    await hook.acancel_execution(POOL, JOB)
    hook.cancel_execution(POOL, JOB)  # idempotent
    time.sleep(0.5)
    assert (await hook.aget_job_status(POOL, JOB))["status"] == "CANCEL"  # type: ignore[index]
    assert await hook.aget_error_lines(POOL, JOB, new["executionId"]) == []  # cancelled, not failed
    await close_loop_session()


async def test_error_lines_of_a_failed_execution(emulator: Any, fast_retries: dict[str, float]) -> None:
    emulator.configure_data_job(POOL, JOB, error_lines=["first problem", "second problem"])
    execution_id = emulator.seed_execution(POOL, JOB, "FAIL", age=5)
    hook = CelonisDataJobHook(**fast_retries)
    # the failed task is named; its lines were read with its own taskId and type=TASK
    expected = ["Create activity table: first problem", "Create activity table: second problem"]
    assert hook.get_error_lines(POOL, JOB, execution_id) == expected
    assert await hook.aget_error_lines(POOL, JOB, execution_id) == expected
    detail = f"GET /integration/api/pools/{POOL}/logs/executions/detail"
    assert [r["status"] for r in emulator.recent_requests() if f"{r['method']} {r['path']}" == detail] == [
        200
    ] * 2
    await close_loop_session()


async def test_unknown_job_is_not_found(emulator: Any, fast_retries: dict[str, float]) -> None:
    with pytest.raises(CelonisNotFoundError):
        CelonisDataJobHook(**fast_retries).list_executions(POOL, "no-such-job")


async def test_data_model_sync_and_async(emulator: Any, fast_retries: dict[str, float]) -> None:
    emulator.configure_data_model(
        POOL, MODEL, load_seconds=0.2, stale_seconds=0.0, outcome="WARNING", message="m"
    )
    hook = CelonisDataModelHook(**fast_retries)
    info = hook.get_load_info(POOL, MODEL)
    assert info is not None
    assert info["loadInfo"]["currentComputeLoad"] is None  # never loaded
    await hook.astart_load(POOL, MODEL, full_reload=False)
    time.sleep(0.3)
    current = (await hook.aget_load_info(POOL, MODEL))["loadInfo"]["currentComputeLoad"]  # type: ignore[index]
    assert (current["loadStatus"], current["message"], current["loadType"]) == ("WARNING", "m", "FROM_CACHE")
    with pytest.raises(CelonisBadRequestError):
        hook.start_load(POOL, MODEL, tables=["not-a-table"])
    await close_loop_session()


@pytest.mark.parametrize("status", [403, 404])
async def test_internal_logs_endpoints_refused_say_what_it_means(
    emulator: Any, fast_retries: dict[str, float], status: int
) -> None:
    from airflow_provider_celonis.exceptions import CelonisApiError

    emulator.add_faults([{"path": "/logs/", "method": "GET", "status": status, "times": -1}])
    hook = CelonisDataJobHook(**fast_retries)
    for call in (lambda: hook.list_executions(POOL, JOB), lambda: hook.get_error_lines(POOL, JOB, "e-1")):
        with pytest.raises(CelonisApiError) as raised:
            call()
        assert raised.value.status == status
        assert "internal Celonis endpoint" in str(raised.value) and "no public endpoint" in str(raised.value)
    with pytest.raises(CelonisApiError) as async_raised:
        await hook.alist_executions(POOL, JOB)
    assert "internal Celonis endpoint" in str(async_raised.value)
    await close_loop_session()
    assert hook.get_job_status(POOL, JOB) is not None  # the public status endpoint is not affected


async def test_a_history_longer_than_max_history_pages_fails_before_any_start(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    """The ids that can never be ours must be complete; an incomplete "before" set fails closed."""
    from airflow_provider_celonis.exceptions import CelonisConfigurationError

    emulator.seed_execution(POOL, JOB, "SUCCESS", age=100)
    hook = CelonisDataJobHook(**fast_retries, history_limit=1, max_history_pages=2)
    assert len(hook.list_executions(POOL, JOB)) == 2  # page 0 and the last page while waiting
    assert len(hook.list_executions(POOL, JOB, all_pages=True)) == 2
    emulator.seed_execution(POOL, JOB, "SUCCESS", age=50)
    assert len(await hook.alist_executions(POOL, JOB, all_pages=False)) == 2
    with pytest.raises(CelonisConfigurationError, match="max_history_pages"):
        hook.list_executions(POOL, JOB, all_pages=True)
    await close_loop_session()
