"""The emulator's data pool APIs behave as docs/celonis-api.md 6 describe."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_celonis.client.apis import DATA_JOBS, DATA_MODELS
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import CelonisBadRequestError, CelonisPermissionError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

V2 = f"/api/v2/data-pools/{POOL}/data-jobs/{JOB}/execute"


@pytest.fixture
def hook(emulator: Any, fast_retries: dict[str, float]) -> CelonisOAuthHook:
    return CelonisOAuthHook(**fast_retries)


def test_execute_needs_a_valid_mode(hook: CelonisOAuthHook, emulator: Any) -> None:
    for params in ({}, {"mode": "SOMETIMES"}):
        with pytest.raises(CelonisBadRequestError):
            hook.request("POST", V2, api=DATA_JOBS, params=params)
    assert emulator.data_job_report(POOL, JOB)["executions"] == 0
    hook.request("POST", V2.replace("/v2/", "/v1/"), api=DATA_JOBS, params={"mode": "FULL"})
    assert emulator.data_job_report(POOL, JOB)["executions"] == 1


def test_queued_has_no_start_date_and_second_execute_can_queue(hook: CelonisOAuthHook, emulator: Any) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=5, stale_seconds=0, second_execute="queue")
    hook.request("POST", V2, api=DATA_JOBS, params={"mode": "DELTA"})
    hook.request("POST", V2, api=DATA_JOBS, params={"mode": "DELTA"})
    history = hook.request_json("GET", f"/api/pools/{POOL}/logs/{JOB}/executions", api=DATA_JOBS)
    queued = [i for i in history["executionItems"] if i["status"] == "QUEUED"]
    assert len(queued) == 2
    assert all(i["startDate"] is None for i in queued)
    assert history["numOfPages"] == 1
    assert emulator.data_job_report(POOL, JOB)["executions"] == 2


def test_task_items_and_log_lines_of_a_failed_run(hook: CelonisOAuthHook, emulator: Any) -> None:
    emulator.configure_data_job(POOL, JOB, error_lines=["boom"])
    execution_id = emulator.seed_execution(POOL, JOB, "FAIL", age=5)
    tasks = hook.request_json(
        "GET",
        f"/api/pools/{POOL}/logs/executions",
        api=DATA_JOBS,
        params={"executionId": execution_id, "type": "TASK", "id": JOB},
    )
    assert [t["status"] for t in tasks] == ["SUCCESS", "FAIL"]
    assert {t["type"] for t in tasks} == {"TASK"}
    failed = tasks[1]["taskId"]

    def detail(**params: str) -> Any:
        path = f"/api/pools/{POOL}/logs/executions/detail"
        return hook.request_json("GET", path, api=DATA_JOBS, params={"executionId": execution_id, **params})

    lines = detail(id=failed, type="TASK")["logMessages"]
    assert [m["level"] for m in lines] == ["INFO", "ERROR", "INFO"]
    assert isinstance(lines[1]["date"], int)  # epoch ms
    # Only the failed task's own log holds its ERROR lines; the job-level query has none.
    assert [m["level"] for m in detail(id=tasks[0]["taskId"], type="TASK")["logMessages"]] == ["INFO", "INFO"]
    assert [m["level"] for m in detail(id=JOB, type="JOB")["logMessages"]] == ["INFO", "INFO"]
    for wrong in (
        {},
        {"id": JOB},
        {"id": "no-such-task", "type": "TASK"},
        {"id": "other-job", "type": "JOB"},
    ):
        with pytest.raises(CelonisBadRequestError):
            detail(**wrong)
    with pytest.raises(CelonisBadRequestError):  # task items need type=TASK
        hook.request_json(
            "GET",
            f"/api/pools/{POOL}/logs/executions",
            api=DATA_JOBS,
            params={"executionId": execution_id, "id": JOB},
        )


def test_cancel_of_a_finished_run_is_a_no_op(hook: CelonisOAuthHook, emulator: Any) -> None:
    hook.request("POST", f"/api/pools/{POOL}/jobs/{JOB}/cancel", api=DATA_JOBS, idempotent=True)
    status = hook.request_json("GET", f"/api/pools/{POOL}/logs/status", api=DATA_JOBS)
    assert status == [
        {"id": JOB, "status": "SUCCESS", "lastExecutionStartDate": status[0]["lastExecutionStartDate"]}
    ]


def test_stale_status_after_execute(hook: CelonisOAuthHook, emulator: Any) -> None:
    emulator.configure_data_job(POOL, JOB, stale_seconds=0.5, queued_seconds=0)
    before = hook.request_json("GET", f"/api/pools/{POOL}/logs/status", api=DATA_JOBS)
    hook.request("POST", V2, api=DATA_JOBS, params={"mode": "DELTA"})
    assert hook.request_json("GET", f"/api/pools/{POOL}/logs/status", api=DATA_JOBS) == before
    time.sleep(0.6)
    after = hook.request_json("GET", f"/api/pools/{POOL}/logs/status", api=DATA_JOBS)
    assert after[0]["status"] == "RUNNING"
    assert after[0]["lastExecutionStartDate"] > before[0]["lastExecutionStartDate"]


def test_data_model_last_load_and_new_load_ids(hook: CelonisOAuthHook, emulator: Any) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.1, stale_seconds=0)
    base = f"/api/v1/data-pools/{POOL}/data-models/{MODEL}"
    assert hook.request_json("GET", f"{base}/last-load", api=DATA_MODELS) is None  # 204 before any load
    ids = set()
    for _ in range(2):
        hook.request("POST", f"{base}/load", api=DATA_MODELS)
        ids.add(hook.request_json("GET", f"{base}/last-load", api=DATA_MODELS)["dataLoadId"])
    assert len(ids) == 2
    tables = hook.request_json("GET", f"{base}/tables", api=DATA_MODELS)
    assert {t["name"] for t in tables} == {"VBAK", "VBAP", "_CEL_O2C_ACTIVITIES"}


def test_control_api_refuses_unknown_fields_and_needs_permission(
    emulator: Any, fast_retries: dict[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(RuntimeError, match="unknown job fields"):
        emulator.configure_data_job(POOL, JOB, durations=3)
    emulator.add_client("viewer", "viewer-secret", permissions=[])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_VIEWER", emulator.connection_json(("viewer", "viewer-secret")))
    with pytest.raises(CelonisPermissionError):
        CelonisOAuthHook("celonis_viewer", **fast_retries).request_json(
            "GET", f"/api/pools/{POOL}/logs/status", api=DATA_JOBS
        )


def test_state_machine_follows_the_emulator_clock(emulator: Any, fast_retries: dict[str, float]) -> None:
    """An hour-long job finishes when the clock jumps; the expired token is re-granted on the way."""
    from data_pool_helpers import make_context

    from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator

    emulator.configure_data_job(POOL, JOB, queued_seconds=0, running_seconds=3600, stale_seconds=0)
    op = CelonisExecuteDataJobOperator(
        task_id="t", data_pool_id=POOL, data_job_id=JOB, wait_for_completion=False, hook_params=fast_retries
    )
    op.execute(make_context())
    emulator.advance_clock(3601)
    items = op.hook.list_executions(POOL, JOB)
    assert {i["status"] for i in items} == {"SUCCESS"}
    assert len(items) == 2
    assert emulator.stats()["token_requests"] == 2
