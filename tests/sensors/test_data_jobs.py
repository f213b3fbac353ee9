"""CelonisDataJobSensor: waits for an execution someone else started, never an older one."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
from data_pool_helpers import make_context, recreate, run_deferred, run_trigger

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisJobFailedError
from airflow_provider_celonis.sensors.data_jobs import CelonisDataJobSensor


def make_sensor(fast_retries: dict[str, float], **kwargs: Any) -> CelonisDataJobSensor:
    params: dict[str, Any] = {
        "task_id": "wait_for_job",
        "data_pool_id": POOL,
        "data_job_id": JOB,
        "started_after": time.time() - 5,
        "poke_interval": 0.05,
        "timeout": 20,
        "hook_params": fast_retries,
    }
    return CelonisDataJobSensor(**{**params, **kwargs})


async def test_poke_ignores_executions_before_started_after(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    sensor = make_sensor(fast_retries)
    assert sensor.poke(make_context()) is False  # only the hour-old previous run exists
    execution_id = emulator.seed_execution(POOL, JOB, "SUCCESS", age=1)
    done = sensor.poke(make_context())
    assert isinstance(done, PokeReturnValue) and done.is_done
    assert done.xcom_value == execution_id  # as the deferrable path returns it


async def test_poke_accepts_an_iso_string_bound(emulator: Any, fast_retries: dict[str, float]) -> None:
    bound = datetime.fromtimestamp(time.time() - 5, timezone.utc).isoformat()
    emulator.seed_execution(POOL, JOB, "SUCCESS", age=10)
    assert make_sensor(fast_retries, started_after=bound).poke(make_context()) is False
    assert make_sensor(fast_retries, started_after=None).poke(make_context())


async def test_poke_failure_carries_error_lines(emulator: Any, fast_retries: dict[str, float]) -> None:
    emulator.configure_data_job(POOL, JOB, error_lines=["Extraction VBAK: connection refused by SAP"])
    emulator.seed_execution(POOL, JOB, "FAIL", age=1)
    with pytest.raises(CelonisJobFailedError, match="connection refused by SAP"):
        make_sensor(fast_retries).poke(make_context())


async def test_poke_skipped_skips(emulator: Any, fast_retries: dict[str, float]) -> None:
    emulator.seed_execution(POOL, JOB, "SKIPPED", age=1)
    with pytest.raises(AirflowSkipException):
        make_sensor(fast_retries).poke(make_context())


async def test_poke_mode_execute_waits_for_a_running_execution(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    emulator.configure_data_job(POOL, JOB, running_seconds=0.4)
    emulator.seed_execution(POOL, JOB, "RUNNING")
    make_sensor(fast_retries).execute(make_context())
    assert [r["status"] for r in emulator.data_job_report(POOL, JOB)["runs"]] == ["SUCCESS", "SUCCESS"]


async def test_deferrable_waits_then_succeeds(emulator: Any, fast_retries: dict[str, float]) -> None:
    emulator.configure_data_job(POOL, JOB, running_seconds=0.4)
    execution_id = emulator.seed_execution(POOL, JOB, "RUNNING")
    result = await run_deferred(make_sensor(fast_retries, deferrable=True), make_context())
    assert result == execution_id


async def test_deferrable_failure_and_timeout(emulator: Any, fast_retries: dict[str, float]) -> None:
    with pytest.raises(AirflowSensorTimeout):
        await run_deferred(make_sensor(fast_retries, deferrable=True, timeout=0.5), make_context())
    emulator.configure_data_job(POOL, JOB, running_seconds=0.2, outcome="PAUSED")
    emulator.seed_execution(POOL, JOB, "RUNNING")
    with pytest.raises(CelonisJobFailedError, match="fail closed"):
        await run_deferred(make_sensor(fast_retries, deferrable=True), make_context())


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
async def test_soft_fail_skips_a_failed_run_in_both_modes(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    emulator.seed_execution(POOL, JOB, "FAIL", age=1)
    sensor, context = make_sensor(fast_retries, soft_fail=True, deferrable=deferrable), make_context()
    if deferrable:
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(context)
        [event] = await run_trigger(recreate(deferred.value.trigger))
        with pytest.raises(AirflowSkipException):  # how Airflow resumes a deferred sensor
            sensor.resume_execution(deferred.value.method_name, {"event": event}, context)
    else:
        with pytest.raises(AirflowSkipException):
            sensor.execute(context)
    with pytest.raises(CelonisJobFailedError):  # without soft_fail both modes fail
        await run_deferred(make_sensor(fast_retries, deferrable=True), make_context())
    with pytest.raises(CelonisJobFailedError):
        make_sensor(fast_retries).execute(make_context())


async def test_sync_execute_returns_the_execution_id(emulator: Any, fast_retries: dict[str, float]) -> None:
    execution_id = emulator.seed_execution(POOL, JOB, "SUCCESS", age=1)
    assert make_sensor(fast_retries).execute(make_context()) == execution_id


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
async def test_sensor_follows_the_newest_execution(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    """Unlike the operator (which pins the oldest new run, its own), the sensor judges the newest."""
    emulator.seed_execution(POOL, JOB, "SUCCESS", age=3)
    emulator.seed_execution(POOL, JOB, "FAIL", age=1)
    sensor = make_sensor(fast_retries, started_after=None, deferrable=deferrable)
    if deferrable:
        with pytest.raises(CelonisJobFailedError):
            await run_deferred(sensor, make_context())
    else:
        with pytest.raises(CelonisJobFailedError):
            sensor.execute(make_context())


async def test_poll_interval_is_an_alias_and_numbers_are_checked(fast_retries: dict[str, float]) -> None:
    from airflow_provider_celonis.exceptions import CelonisConfigurationError

    sensor = CelonisDataJobSensor(task_id="t", data_pool_id=POOL, data_job_id=JOB, poll_interval=2)
    assert sensor.poke_interval == 2
    for bad in ({"poll_interval": 0}, {"poll_interval": -1}, {"poke_interval": 0}, {"timeout": -5}):
        with pytest.raises(CelonisConfigurationError):
            CelonisDataJobSensor(task_id="t", data_pool_id=POOL, data_job_id=JOB, **bad)
    with pytest.raises(CelonisConfigurationError, match="poke_interval"):
        CelonisDataJobSensor(
            task_id="t", data_pool_id=POOL, data_job_id=JOB, poll_interval=1, poke_interval=1
        )


async def test_logs_each_execution_seen_and_why(
    emulator: Any, fast_retries: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    """A run cancelled while queued long ago has no start date: its end places it before the bound."""
    emulator.seed_execution(POOL, JOB, "CANCEL", age=30, never_started=True)
    sensor = make_sensor(fast_retries)
    assert sensor.poke(make_context()) is False
    assert sensor.poke(make_context()) is False  # nothing new: nothing logged again
    fresh = emulator.seed_execution(POOL, JOB, "SUCCESS", age=1)
    assert sensor.poke(make_context())
    lines = [line for line in capsys.readouterr().out.splitlines() if "Execution " in line]
    assert len(lines) == 3, lines
    assert sum("before started_after" in line for line in lines) == 2
    assert any(fresh in line and "accepted" in line for line in lines)
