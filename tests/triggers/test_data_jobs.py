"""CelonisDataJobExecutionTrigger: resilience, one event per exit path, no secrets, poll-only."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from data_pool_helpers import recreate, run_trigger

from airflow_provider_celonis.client.transport import close_loop_session
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_jobs import PREVIOUS_EXECUTION_ID
from airflow_provider_celonis.triggers.data_jobs import CelonisDataJobExecutionTrigger
from airflow_provider_celonis.waiting.decisions import JobWait

HISTORY = f"/integration/api/pools/{POOL}/logs/{JOB}/executions"
# The hook gives up after 2 attempts, so the trigger's own "keep polling" path is exercised.
FLAKY_HOOK = {"min_wait": 0.01, "max_wait": 0.02, "max_attempts": 2}


def trigger_for(execution_id: str | None = None, *, deadline_in: float = 20, **kwargs: Any) -> Any:
    wait = JobWait(
        POOL,
        JOB,
        known_ids=(PREVIOUS_EXECUTION_ID,),
        execution_id=execution_id,
        deadline=time.time() + deadline_in,
    )
    params = {"poll_interval": 0.05, "hook_params": FLAKY_HOOK, **kwargs}
    return CelonisDataJobExecutionTrigger(wait=wait.to_json(), **params)


@pytest.fixture
def running(emulator: Any) -> str:
    """A run started by a Celonis schedule, finishing after 0.8 s."""
    emulator.configure_data_job(POOL, JOB, running_seconds=0.8)
    return emulator.seed_execution(POOL, JOB, "RUNNING")


async def test_survives_a_burst_of_5xx_and_dropped_connections(emulator: Any, running: str) -> None:
    emulator.add_faults(
        [
            {"path": HISTORY, "method": "GET", "kind": "status", "status": 503, "times": 4},
            {"path": HISTORY, "method": "GET", "kind": "status", "status": 500, "times": 2},
            {"path": HISTORY, "method": "GET", "kind": "drop", "times": 3},
        ]
    )
    events = await run_trigger(recreate(trigger_for(running)))
    assert events == [
        {
            "status": "success",
            "message": "the data job execution succeeded",
            "data_pool_id": POOL,
            "data_job_id": JOB,
            "execution_id": running,
            "execution_status": "SUCCESS",
            "start_ms": events[0]["start_ms"],
        }
    ]
    assert emulator.stats()["faults_pending"] == 0
    assert emulator.requests_to("GET", HISTORY) > 9


async def test_outage_past_the_deadline_gives_one_timeout_event(emulator: Any, running: str) -> None:
    emulator.add_faults([{"path": HISTORY, "method": "GET", "status": 503, "times": -1}])
    events = await run_trigger(trigger_for(running, deadline_in=0.8))
    assert len(events) == 1
    assert events[0]["status"] == "timeout"
    assert events[0]["execution_id"] == running


async def test_permanent_error_gives_one_error_event(emulator: Any) -> None:
    wait = JobWait("no-such-pool", JOB, deadline=time.time() + 10)
    trigger = CelonisDataJobExecutionTrigger(wait=wait.to_json(), poll_interval=0.05, hook_params=FLAKY_HOOK)
    events = await run_trigger(trigger)
    assert len(events) == 1
    assert events[0]["status"] == "error"
    assert "CelonisNotFoundError" in events[0]["message"]


async def test_serialized_trigger_holds_no_secret(emulator: Any, running: str) -> None:
    trigger = trigger_for(running, celonis_conn_id="celonis_default")
    await run_trigger(trigger)  # a token now exists in this process
    classpath, kwargs = trigger.serialize()
    text = json.dumps(kwargs)
    assert classpath == "airflow_provider_celonis.triggers.data_jobs.CelonisDataJobExecutionTrigger"
    assert set(kwargs) == {"wait", "poll_interval", "celonis_conn_id", "hook_params", "cancel_on_kill"}
    for secret in ("demo-secret", "demo-client", "Bearer", "access_token", "password"):
        assert secret not in text
    from airflow_provider_celonis.auth.token_cache import TOKEN_CACHE

    values = [token.value for token in TOKEN_CACHE._tokens.values()]
    assert values
    assert all(value not in text for value in values)


async def test_triggers_only_get_and_share_one_token(emulator: Any) -> None:
    emulator.configure_data_job(POOL, JOB, running_seconds=0.5)
    running = emulator.seed_execution(POOL, JOB, "RUNNING")
    triggers = [trigger_for(running) for _ in range(25)]
    results = await asyncio.gather(*(t.wait() for t in triggers))
    await close_loop_session()
    assert {r["status"] for r in results} == {"success"}
    stats = emulator.stats()
    assert stats["token_requests"] == 1
    posts = [key for key in stats["requests"] if key.startswith("POST ") and "/oauth2/" not in key]
    assert posts == []


async def test_waits_for_a_new_execution_past_a_stale_history(emulator: Any) -> None:
    """Known ids = the previous run: only a run with another id can end the wait."""
    emulator.configure_data_job(POOL, JOB, running_seconds=0.3, outcome="SKIPPED")
    trigger = trigger_for()
    task = asyncio.ensure_future(run_trigger(trigger))
    await asyncio.sleep(0.3)
    assert not task.done()  # the previous SUCCESS is not taken
    emulator.seed_execution(POOL, JOB, "RUNNING", source="API")
    events = await asyncio.wait_for(task, 10)
    assert [e["status"] for e in events] == ["skipped"]
