"""Every example DAG on a real scheduler, dag-processor, triggerer and api-server.

Runs are triggered through the REST API with deferrable mode on, like a user would; the
deferred waits must have run in the triggerer process, and the outputs must be real.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from demo import dag_ids
from e2e_report import report
from stack import WORKERS, AirflowStack

from airflow_provider_celonis.emulator.client import DEMO_CLIENT

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = sorted({d for path in (ROOT / "dags_examples").glob("*.py") for d in dag_ids(path)})
LOGICAL_DATE = "2025-11-01T00:00:00Z"
DATA_JOB_DAG = "celonis_trigger_data_job_after_load"
DEFERRED = "Pausing task as DEFERRED"
DAILY_FOLDERS = {"audit_log", "login_history", "studio_adoption", "team_members"}
TRIGGERER_RAN = ("Trigger fired event", "trigger completed")


@pytest.fixture(scope="module")
def runs(stack: AirflowStack) -> dict[str, tuple[str, str]]:
    """Trigger every example DAG at once, then wait for all: {dag_id: (run_id, state)}."""
    stack.wait_for_dags(set(EXAMPLE_DAGS))
    run_ids = {dag_id: stack.trigger(dag_id, logical_date=LOGICAL_DATE) for dag_id in EXAMPLE_DAGS}
    return {
        dag_id: (run_id, stack.wait_run(dag_id, run_id, timeout=600)) for dag_id, run_id in run_ids.items()
    }


def test_there_are_example_dags() -> None:
    assert "nightly_audit_pull" in EXAMPLE_DAGS
    assert DATA_JOB_DAG in EXAMPLE_DAGS


@pytest.mark.parametrize("dag_id", EXAMPLE_DAGS)
def test_every_example_dag_succeeds(
    stack: AirflowStack, runs: dict[str, tuple[str, str]], dag_id: str
) -> None:
    run_id, state = runs[dag_id]
    tasks = stack.task_states(dag_id, run_id)
    assert state == "success", f"{dag_id}: {tasks}\n{stack.tail()}"
    assert tasks and set(tasks.values()) <= {"success", "skipped"}, tasks


def test_deferred_waits_ran_in_the_triggerer(stack: AirflowStack, runs: dict[str, tuple[str, str]]) -> None:
    deferred = []
    for dag_id, (run_id, _) in runs.items():
        for task_id, state in stack.task_states(dag_id, run_id).items():
            if state not in {"success", "failed"}:
                continue  # never ran: no log
            log = stack.task_log(dag_id, run_id, task_id)
            if DEFERRED in log:
                deferred.append(f"{dag_id}.{task_id}")
                assert stack.triggerer_ran(run_id, task_id) or all(m in log for m in TRIGGERER_RAN), (
                    f"{dag_id}.{task_id}:\n{log[-3000:]}"
                )
    assert f"{DATA_JOB_DAG}.run_data_job" in deferred, deferred
    assert f"{DATA_JOB_DAG}.reload_data_model" in deferred, deferred


def test_outputs_are_written(stack: AirflowStack, runs: dict[str, tuple[str, str]]) -> None:
    files = [p for p in stack.extracts.rglob("*") if p.is_file()]
    folders = {p.relative_to(stack.extracts).parts[0] for p in files}
    # A day's window always has events in the emulator; an incremental load (high-water mark,
    # audit_log_incremental) may rightly find nothing new, when the scheduler's own run went first.
    daily = [p for p in files if p.relative_to(stack.extracts).parts[0] in DAILY_FOLDERS]
    assert daily and all(p.stat().st_size > 0 for p in daily), [p for p in daily if p.stat().st_size == 0]
    assert not [p for p in files if ".tmp" in p.name or p.name.startswith(".")], "partial files left behind"
    assert folders >= DAILY_FOLDERS, folders


def test_each_data_job_task_started_exactly_one_execution(
    stack: AirflowStack, runs: dict[str, tuple[str, str]]
) -> None:
    tasks = [
        ti
        for dag_id, (run_id, _) in runs.items()
        for ti in stack.task_instances(dag_id, run_id)
        if ti["operator"] == "CelonisExecuteDataJobOperator"
    ]
    stats = stack.emulator.stats()["requests"]
    executes = {path: n for path, n in stats.items() if path.startswith("POST") and path.endswith("/execute")}
    assert tasks
    assert sum(executes.values()) == len(tasks), (executes, [t["task_id"] for t in tasks])


def test_a_failing_data_job_fails_the_task_with_celonis_error_lines(
    stack: AirflowStack, runs: dict[str, tuple[str, str]]
) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "dags_examples"))
    from trigger_data_job_after_load import DATA_JOB_ID, DATA_POOL_ID

    line = "Table ACTIVITIES: column CASE_KEY not found in source extraction"
    stack.emulator.configure_data_job(DATA_POOL_ID, DATA_JOB_ID, outcome="FAIL", error_lines=[line])
    run_id = stack.trigger(DATA_JOB_DAG, logical_date="2025-11-02T00:00:00Z")
    assert stack.wait_run(DATA_JOB_DAG, run_id, timeout=300) == "failed"
    tasks = stack.task_states(DATA_JOB_DAG, run_id)
    assert tasks["run_data_job"] == "failed", tasks
    assert tasks["reload_data_model"] in {"upstream_failed", None}, tasks
    log = stack.task_log(DATA_JOB_DAG, run_id, "run_data_job")
    assert line in log, log[-3000:]


def test_tasks_of_one_dag_ran_on_both_workers(stack: AirflowStack, runs: dict[str, tuple[str, str]]) -> None:
    """The scheduler hands tasks to the Celery queue and both workers take them: the DAG with
    the most tasks ran on worker-1 and on worker-2."""
    run_id, _ = runs["nightly_audit_pull"]
    placed = {
        ti["task_id"]: stack.worker_of("nightly_audit_pull", run_id, ti["task_id"])
        for ti in stack.task_instances("nightly_audit_pull", run_id)
    }
    assert all(len(workers) == 1 for workers in placed.values()), placed
    assert set().union(*placed.values()) == set(WORKERS), placed
    report(f"nightly_audit_pull tasks by worker: {sorted((t, *w) for t, w in placed.items())}")


def test_task_logs_hold_no_secret(stack: AirflowStack, runs: dict[str, tuple[str, str]]) -> None:
    """The client secret, every access token the emulator issued and the S3 secret key appear in
    no task log the real task processes wrote (masking in a real worker, not `dags test`)."""
    tokens = stack.emulator.issued_tokens()
    secrets = {"celonis client secret": DEMO_CLIENT[1], "aws secret key": stack.s3.SECRET}
    secrets.update({f"access token {t[:4]}...": t for t in tokens})
    logs = stack.raw_task_logs()
    assert tokens and len(logs) >= len(EXAMPLE_DAGS), (len(tokens), len(logs))
    assert any("Connection" in text or "celonis" in text.lower() for text in logs.values())
    leaks = [
        (name, str(path)) for path, text in logs.items() for name, value in secrets.items() if value in text
    ]
    assert not leaks, leaks
    report(f"task logs checked for secrets: {len(logs)} files, {len(tokens)} tokens, none leaked")
