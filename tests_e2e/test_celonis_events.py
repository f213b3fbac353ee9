"""Celonis runs as schedules on the real stack: the AssetWatcher of on_celonis_data_job_success
runs in the triggerer, keeps its cursor in an Airflow Variable, and each execution a Celonis
schedule completes runs the DAG exactly once, also across a triggerer restart; the execution
that ended before the watcher started never runs it.
"""

from __future__ import annotations

import contextlib
import os
import runpy
import signal
import time
from pathlib import Path
from typing import Any

from e2e_report import report
from stack import AirflowStack

from airflow_provider_celonis.emulator.apis.data_jobs import PREVIOUS_EXECUTION_ID

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "on_celonis_data_job_success"
POLL = "2"  # CELONIS_EVENT_POLL_INTERVAL in the stack's env


def example() -> dict[str, Any]:
    """The DAG file's globals as the stack's dag-processor sees them (same poll interval)."""
    os.environ["CELONIS_EVENT_POLL_INTERVAL"] = POLL
    return runpy.run_path(str(ROOT / "dags_examples" / f"{DAG_ID}.py"))


def cursor(stack: AirflowStack, key: str) -> str | None:
    response = stack.http.get(f"{stack.base_url}/api/v2/variables/{key}", timeout=30)
    return str(response.json()["value"]) if response.ok else None


def fired_executions(stack: AirflowStack) -> dict[str, list[str]]:
    """execution id -> the asset-triggered runs of the DAG whose event named it."""
    runs = stack.api("GET", f"/dags/{DAG_ID}/dagRuns", params={"run_type": "asset_triggered", "limit": 100})
    found: dict[str, list[str]] = {}
    for run in runs["dag_runs"]:
        path = stack.run_path(DAG_ID, run["dag_run_id"]) + "/upstreamAssetEvents"
        for event in stack.api("GET", path)["asset_events"]:
            execution = ((event.get("extra") or {}).get("payload") or {}).get("execution_id")
            found.setdefault(str(execution), []).append(run["dag_run_id"])
    return found


def wait_fired(stack: AirflowStack, execution: str, timeout: float = 180) -> str:
    stack.wait(lambda: execution in fired_executions(stack), timeout, f"a run for execution {execution}")
    (run_id,) = fired_executions(stack)[execution]
    assert stack.wait_run(DAG_ID, run_id, timeout=180) == "success"
    return run_id


def test_each_schedule_started_execution_runs_the_dag_once(stack: AirflowStack) -> None:
    module = example()
    trigger = module["JOB_SUCCEEDED"].watchers[0].trigger
    pool, job, key = trigger.data_pool_id, trigger.target_id, trigger.cursor_key
    stack.wait_for_dags({DAG_ID})
    stack.api("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    started = time.monotonic()
    stack.wait(lambda: cursor(stack, key) is not None, 240, f"the watcher's cursor Variable {key}")
    waited = time.monotonic() - started
    report(f"event watcher: cursor Variable written by the triggerer {waited:.0f} s after unpause")

    # outcome spelled out: an earlier e2e test may have left the job configured to fail.
    one = stack.emulator.seed_execution(
        pool, job, "RUNNING", running_seconds=3, outcome="SUCCESS", source="SCHEDULE"
    )
    first_run = wait_fired(stack, one)
    report(f"event watcher: schedule-started execution {one[:8]} ran the DAG once ({first_run})")

    # The triggerer goes down; an execution ends meanwhile; the new triggerer rebuilds the watcher.
    proc = stack.processes["triggerer"]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)
    two = stack.emulator.seed_execution(pool, job, "SUCCESS", age=1, source="SCHEDULE")
    stack.processes["triggerer"] = stack._spawn("triggerer", stack.env())
    wait_fired(stack, two, timeout=240)

    time.sleep(5 * float(POLL) + 5)  # several more polls: a second event would show now
    fired = fired_executions(stack)
    assert len(fired[one]) == 1 and len(fired[two]) == 1, fired
    assert PREVIOUS_EXECUTION_ID not in fired, fired  # ended before the watcher first ran
    log = stack.task_log(DAG_ID, first_run, "use_the_new_data")
    assert f"DEMO: data job execution {one} ended SUCCESS" in log, log[-2000:]
    report(f"event watcher: execution that ended while the triggerer was down ran the DAG once; runs {fired}")
