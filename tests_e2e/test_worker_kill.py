"""A Celery worker SIGKILLed mid-task (with every process it forked): Celonis never runs the job
twice, the retried task lands on the other worker, and its output is byte for byte the output
of an undisturbed run. The killed worker is started again afterwards, so each test begins with
two workers.
"""

from __future__ import annotations

import time

from e2e_distributed import DATA_POOL_ID, KILL_JOB_ID
from e2e_report import report
from stack import WORKERS, AirflowStack

EXTRACT_DAG = "e2e_kill_extract"
WAIT_DAG = "e2e_kill_deferred_wait"
LOGICAL_DATE = "2025-11-08T00:00:00Z"
DAY = "2025-11-07"  # the data interval of a manual run at LOGICAL_DATE
KEY = f"kill/audit_log/{DAY}.jsonl"


def try_number(stack: AirflowStack, dag_id: str, run_id: str) -> int:
    return int(stack.task_instances(dag_id, run_id)[0]["try_number"])


def audit_requests(stack: AirflowStack) -> int:
    counts = stack.emulator.stats()["requests"]
    return sum(n for route, n in counts.items() if route.startswith("GET") and "/audit" in route)


def kill_where_running(stack: AirflowStack, dag_id: str, run_id: str, task_id: str, attempt: int) -> str:
    started = time.monotonic()
    while not (placed := stack.worker_of(dag_id, run_id, task_id, attempt)):
        assert time.monotonic() - started < 120, f"{task_id} try {attempt} never reached a worker"
        time.sleep(0.5)
    (victim,) = placed
    stack.kill_worker(victim)
    return victim


def test_worker_killed_mid_extract_leaves_nothing_and_the_retry_writes_the_same_bytes(
    stack: AirflowStack,
) -> None:
    stack.wait_for_dags({EXTRACT_DAG, WAIT_DAG})
    run_id = stack.trigger(EXTRACT_DAG, logical_date=LOGICAL_DATE)
    assert stack.wait_run(EXTRACT_DAG, run_id, timeout=300) == "success"
    reference = stack.s3.objects(KEY)[KEY]
    stack.s3.client().delete_object(Bucket=stack.s3.BUCKET, Key=KEY)

    # The first audit page answers after 40 s: the pull is surely in flight when the kill lands.
    stack.emulator.add_faults([{"path": "/api/external/.*audit", "kind": "delay", "delay": 40, "times": 1}])
    pages_before = audit_requests(stack)
    stack.api("POST", stack.run_path(EXTRACT_DAG, run_id) + "/clear", json={"dry_run": False})
    stack.wait_task_state(EXTRACT_DAG, run_id, "audit_log", {"running"})
    killed_try = try_number(stack, EXTRACT_DAG, run_id)
    # The emulator counts a request when it arrives: once it has, the pull is in flight, held.
    stack.wait(lambda: audit_requests(stack) > pages_before, 60, "the pull's first audit request")
    victim = kill_where_running(stack, EXTRACT_DAG, run_id, "audit_log", killed_try)
    try:
        assert stack.s3.objects(KEY) == {}  # killed mid-pull: no object, no temporary object
        assert stack.s3.open_uploads() == []
        killed_at = time.monotonic()
        assert stack.wait_run(EXTRACT_DAG, run_id, timeout=300) == "success", stack.tail()
        recovered_in = time.monotonic() - killed_at
        final_try = try_number(stack, EXTRACT_DAG, run_id)
        assert final_try == killed_try + 1
        assert stack.worker_of(EXTRACT_DAG, run_id, "audit_log", final_try) == set(WORKERS) - {victim}
        assert stack.s3.objects(KEY)[KEY] == reference
    finally:
        stack.emulator.clear_faults()
        stack.restart_worker(victim)
    report(
        f"extract: {victim} SIGKILLed mid-pull, retried on the other worker {recovered_in:.0f} s later, "
        f"s3://{stack.s3.BUCKET}/{KEY} identical ({len(reference)} bytes)"
    )


def test_worker_killed_during_a_deferred_wait_starts_no_second_data_job(stack: AirflowStack) -> None:
    stack.wait_for_dags({WAIT_DAG})
    stack.emulator.configure_data_job(DATA_POOL_ID, KILL_JOB_ID, queued_seconds=0, running_seconds=30)
    run_id = stack.trigger(WAIT_DAG)
    stack.wait_task_state(WAIT_DAG, run_id, "run_data_job", {"deferred"})
    victim = kill_where_running(stack, WAIT_DAG, run_id, "run_data_job", 1)
    try:
        assert stack.task_states(WAIT_DAG, run_id)["run_data_job"] == "deferred"  # the triggerer has it
        assert stack.wait_run(WAIT_DAG, run_id, timeout=300) == "success", stack.tail()
        executions = stack.emulator.data_job_report(DATA_POOL_ID, KILL_JOB_ID)["executions"]
        assert executions == 1, executions
        # The wait ended in the triggerer and the task resumed on the surviving worker.
        assert stack.worker_of(WAIT_DAG, run_id, "run_data_job", 1) == set(WORKERS)
        log = stack.task_log(WAIT_DAG, run_id, "run_data_job")
        assert "Pausing task as DEFERRED" in log and "Trigger fired event" in log, log[-3000:]
    finally:
        stack.restart_worker(victim)
    report(f"deferred wait: {victim} SIGKILLed while the data job ran, 1 execution in Celonis, run succeeded")
