"""Names on a deferred resume: the resume resolves the names again, and a name that now means
another object fails closed; but when that listing fails for a transient reason (503 here) after
Celonis already did the work, the ids the trigger event carries stand in, with a warning, instead
of a red task (a retried push would push again). Over real sockets against the emulator."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from data_pool_helpers import fresh_instance, make_context, recreate, run_trigger

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisError, CelonisServerError
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator
from airflow_provider_celonis.sensors.data_jobs import CelonisDataJobSensor

from .test_names import JOB_NAME, POOL_NAME, executions, job_op, pools

__all__ = ["pools"]  # the fixture, used by name

LISTINGS = r"^/integration/api/pools(/paged|/[^/]+/jobs|/[^/]+/data-models)?/?$"
"""Every list a name is resolved with: pools, a pool's jobs and data models."""
FALLBACK = "using the ids the trigger event carries"


def listings_fail(emulator: Any) -> None:
    emulator.add_faults([{"path": LISTINGS, "method": "GET", "status": 503, "times": -1}])


async def deferred(op: Any, context: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Execute until the deferral, then run the trigger to its one event."""
    with pytest.raises(TaskDeferred) as raised:
        op.execute(context)
    events = await run_trigger(recreate(raised.value.trigger))
    assert len(events) == 1
    return raised.value.method_name, events[0]


def push_op(fast_retries: dict[str, float], tmp_path: Path) -> CelonisDataPushOperator:
    (tmp_path / "a.csv").write_text("id,name\n1,a\n2,b\n")
    return CelonisDataPushOperator(
        task_id="push",
        data_pool_name="Finance",
        target_table="orders",
        source=str(tmp_path / "a.csv"),
        poll_interval=0.05,
        timeout=20,
        start_grace_period=1,
        hook_params=fast_retries,
        deferrable=True,
    )


async def test_a_deferred_push_succeeds_with_the_events_pool_when_the_listing_answers_503(
    pools: dict[str, Any], fast_retries: dict[str, float], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator = pools["emulator"]
    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    op, context = push_op(fast_retries, tmp_path), make_context()
    method, event = await deferred(op, context)
    listings_fail(emulator)
    result = getattr(fresh_instance(op), method)(context, event)
    assert result["status"] == "DONE" and result["rows"] == 2
    assert emulator.push_table("pool-other", "orders")["row_count"] == 2  # pushed once
    assert emulator.requests_to("GET", "/integration/api/pools") >= 1  # it did try the names first
    logs = "".join(capfd.readouterr())
    assert FALLBACK in logs and "pool-other" in logs


async def test_a_deferred_data_job_succeeds_with_the_events_ids_when_the_listing_answers_503(
    pools: dict[str, Any], fast_retries: dict[str, float], capfd: pytest.CaptureFixture[str]
) -> None:
    emulator = pools["emulator"]
    op, context = job_op(fast_retries, True), make_context()
    method, event = await deferred(op, context)
    listings_fail(emulator)
    execution_id = getattr(fresh_instance(op), method)(context, event)
    assert execution_id == event["execution_id"] and executions(emulator) == 1
    assert context["ti"].xcom["celonis_execution_id"] == execution_id
    assert FALLBACK in "".join(capfd.readouterr())


async def test_a_deferred_sensor_succeeds_with_the_events_ids_when_the_listing_answers_503(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    emulator = pools["emulator"]
    other = emulator.seed_execution(POOL, "job-other", "SUCCESS", age=1)
    sensor = CelonisDataJobSensor(
        task_id="wait",
        data_pool_name=POOL_NAME,
        data_job_name="Hourly load",
        started_after=time.time() - 5,
        poke_interval=0.05,
        timeout=20,
        hook_params=fast_retries,
        deferrable=True,
    )
    method, event = await deferred(sensor, make_context())
    listings_fail(emulator)
    assert getattr(fresh_instance(sensor), method)(make_context(), event) == other


async def test_without_the_ids_in_the_event_the_listings_failure_stands(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    """Only our own trigger's ids may stand in for the names: an event that lacks them cannot."""
    emulator = pools["emulator"]
    op, context = job_op(fast_retries, True), make_context()
    method, event = await deferred(op, context)
    listings_fail(emulator)
    with pytest.raises(CelonisServerError):
        getattr(fresh_instance(op), method)(context, {k: v for k, v in event.items() if k != "data_job_id"})


async def test_a_push_whose_pool_name_now_means_another_pool_still_fails_closed(
    pools: dict[str, Any], fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The listing answers, so no fallback: the name now means another pool than the event's."""
    emulator = pools["emulator"]
    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    op, context = push_op(fast_retries, tmp_path), make_context()
    method, event = await deferred(op, context)
    emulator.configure_data_pool("pool-other", "Finance (old)")
    emulator.configure_data_pool("pool-third", "Finance")
    with pytest.raises(CelonisError, match=r"another data_pool_id"):
        getattr(fresh_instance(op), method)(context, event)


async def test_a_renamed_job_still_fails_closed_when_only_the_job_list_answers(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    """A fault on the pool list alone must not hide a job renamed meanwhile: with the pool given
    by id, the job list answers and the new meaning of the name fails the resume."""
    emulator = pools["emulator"]
    op, context = job_op(fast_retries, True, data_pool_name=None, data_pool_id=POOL), make_context()
    method, event = await deferred(op, context)
    emulator.add_faults([{"path": r"^/integration/api/pools(/paged)?/?$", "status": 503, "times": -1}])
    emulator.configure_data_job(POOL, JOB, name="Old daily load")
    emulator.configure_data_job(POOL, "job-other", name=JOB_NAME)
    with pytest.raises(CelonisError, match=r"another data_job_id"):
        getattr(fresh_instance(op), method)(context, event)
    assert executions(emulator, job="job-other") == 0
