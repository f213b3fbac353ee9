"""The emulator's data pool APIs behave as docs/celonis-api.md 6 describe."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_celonis.client.apis import DATA_JOBS, DATA_MODELS
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import (
    CelonisBadRequestError,
    CelonisNotFoundError,
    CelonisPermissionError,
)
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


# -- discovery lists (emulator/apis/data_pools.py) -------------------------------------------------
def test_lists_serve_what_the_control_api_created(hook: CelonisOAuthHook, emulator: Any) -> None:
    created = emulator.configure_data_job(
        "pool-x",
        "job-x",
        name="Hourly",
        pool_name="Finance",
        tasks=[
            {"name": "Load GL", "taskType": "EXTRACTION"},
            {"name": "Load GL", "taskType": "TRANSFORMATION"},
        ],
    )
    emulator.configure_data_model("pool-y", "model-y", name="P2P", table_aliases={"EKKO": "Orders"})
    emulator.configure_data_model("pool-y", "model-y", tables=["EKKO"])
    pools = hook.request_json("GET", "/api/pools", api=DATA_JOBS)
    assert [(p["id"], p["name"]) for p in pools][1:] == [("pool-x", "Finance"), ("pool-y", "Pool pool-y")]
    jobs = hook.request_json("GET", "/api/pools/pool-x/jobs", api=DATA_JOBS)
    assert [(j["id"], j["name"], j["dataPoolId"]) for j in jobs] == [("job-x", "Hourly", "pool-x")]
    tasks = hook.request_json("GET", "/api/pools/pool-x/jobs/job-x/tasks/", api=DATA_JOBS)
    assert [t["id"] for t in tasks] == created["task_ids"] and len(set(created["task_ids"])) == 2
    assert [t["taskType"] for t in tasks] == ["EXTRACTION", "TRANSFORMATION"]
    models = hook.request_json("GET", "/api/pools/pool-y/data-models", api=DATA_MODELS)
    assert [(m["id"], m["name"], m["poolId"]) for m in models] == [("model-y", "P2P", "pool-y")]
    tables = hook.request_json("GET", "/api/v1/data-pools/pool-y/data-models/model-y/tables", api=DATA_MODELS)
    assert [(t["name"], t["alias"], t["aliasOrName"]) for t in tables] == [("EKKO", "Orders", "Orders")]
    emulator.configure_data_pool("pool-x", "Renamed")
    assert hook.request_json("GET", "/api/pools", api=DATA_JOBS)[1]["name"] == "Renamed"


def test_paged_pools_and_the_unpaged_switch(hook: CelonisOAuthHook, emulator: Any) -> None:
    emulator.configure_data_pool("pool-2", "Two")
    page = hook.request_json("GET", "/api/pools/paged", api=DATA_JOBS, params={"limit": "1", "page": "1"})
    assert (page["pageNumber"], page["pageSize"], page["totalCount"]) == (1, 1, 2)
    assert [p["id"] for p in page["content"]] == ["pool-2"]
    emulator.configure_pool_listing(serve_unpaged=False)
    with pytest.raises(CelonisNotFoundError):
        hook.request_json("GET", "/api/pools", api=DATA_JOBS)
    with pytest.raises(RuntimeError, match="known switches"):
        emulator.configure_pool_listing(serve_paged=False)
    emulator.configure_pool_listing(total_counts="pages")
    page = hook.request_json("GET", "/api/pools/paged", api=DATA_JOBS, params={"limit": "1", "page": "0"})
    assert page["totalCount"] == 2  # two pages of one
    emulator.configure_data_pool("pool-3", "Three")
    page = hook.request_json("GET", "/api/pools/paged", api=DATA_JOBS, params={"limit": "2", "page": "0"})
    assert page["totalCount"] == 2  # three pools, two pages of two
    with pytest.raises(RuntimeError, match="known switches"):
        emulator.configure_pool_listing(total_counts="items")


def test_lists_of_an_unknown_pool_or_job_are_404_and_bad_tasks_are_refused(
    hook: CelonisOAuthHook, emulator: Any
) -> None:
    for path, api in (
        ("/api/pools/nope/jobs", DATA_JOBS),
        (f"/api/pools/{POOL}/jobs/nope/tasks/", DATA_JOBS),
        ("/api/pools/nope/data-models", DATA_MODELS),
    ):
        with pytest.raises(CelonisNotFoundError):
            hook.request_json("GET", path, api=api)
    for tasks in ([{"name": "x", "taskType": "SCRIPT"}], [{"taskType": "EXTRACTION"}], "x"):
        with pytest.raises(RuntimeError, match="task"):
            emulator.configure_data_job(POOL, JOB, tasks=tasks)
    with pytest.raises(RuntimeError, match="only a string 'name'"):
        emulator._call("POST", "/data-pools/p", {"name": 3})


def test_a_pool_list_can_change_while_it_is_paged(hook: CelonisOAuthHook, emulator: Any) -> None:
    emulator.configure_data_pool("pool-2", "Two")

    def page(n: int) -> list[str]:
        answer = hook.request_json(
            "GET", "/api/pools/paged", api=DATA_JOBS, params={"limit": "1", "page": str(n)}
        )
        return [p["id"] for p in answer["content"]]

    emulator.configure_pool_listing(while_paging={"after_page": 0, "remove": POOL})
    assert page(0) == [POOL] and page(1) == []  # pool-2 moved up to page 0, already read
    emulator.configure_pool_listing(while_paging={"after_page": 0, "insert": ["p-new", "New"], "times": 2})
    assert page(0) == ["pool-2"] and page(1) == ["pool-2"]  # pushed down by the inserted pool
    assert page(0) == ["p-new"] and page(1) == ["p-new"]  # the second insert: id p-new-1
    assert page(0) == ["p-new-1"]  # no change left
    for bad in (
        {"after_page": 0},
        {"after_page": 0, "insert": ["x"]},
        {"after_page": 0, "remove": 1, "times": 0},
    ):
        with pytest.raises(RuntimeError, match="while_paging"):
            emulator.configure_pool_listing(while_paging=bad)
