"""Names instead of ids: each operator resolves them at run time, over real sockets, and runs the
object they name; a missing or ambiguous name, or a name given with its id, starts nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred
from data_pool_helpers import fresh_instance, make_context, recreate, run_op, run_trigger

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisError, CelonisNameError
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator
from airflow_provider_celonis.sensors.data_jobs import CelonisDataJobSensor
from airflow_provider_celonis.sensors.data_models import CelonisDataModelLoadSensor

MODES = [pytest.param(False, id="sync"), pytest.param(True, id="deferrable")]
POOL_NAME = "Emulated SAP ECC pool"
JOB_NAME = "Daily delta load"
FAST_JOB = {"queued_seconds": 0.1, "running_seconds": 0.2, "stale_seconds": 0.1, "cancel_seconds": 0.1}
TASKS = [
    {"name": "Extract SAP tables", "taskType": "EXTRACTION"},
    {"name": "Create activity table", "taskType": "TRANSFORMATION"},
    {"name": "Enrich orders", "taskType": "TRANSFORMATION"},
]


@pytest.fixture
def pools(emulator: Any) -> dict[str, Any]:
    """The default pool with two jobs (so a name picks one of them) and a second pool."""
    task_ids = emulator.configure_data_job(POOL, JOB, tasks=TASKS, **FAST_JOB)["task_ids"]
    emulator.configure_data_job(POOL, "job-other", name="Hourly load", **FAST_JOB)
    emulator.configure_data_pool("pool-other", "Finance")
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.2, stale_seconds=0.1)
    return {"emulator": emulator, "task_ids": task_ids}


def job_op(fast_retries: dict[str, float], deferrable: bool, **kwargs: Any) -> CelonisExecuteDataJobOperator:
    params: dict[str, Any] = {
        "task_id": "run_job",
        "data_pool_name": POOL_NAME,
        "data_job_name": JOB_NAME,
        "poll_interval": 0.05,
        "timeout": 20,
        "start_grace_period": 5,
        "hook_params": fast_retries,
        "deferrable": deferrable,
    }
    return CelonisExecuteDataJobOperator(**{**params, **kwargs})


def executions(emulator: Any, pool: str = POOL, job: str = JOB) -> int:
    return int(emulator.data_job_report(pool, job)["executions"])


# -- data jobs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("deferrable", MODES)
async def test_a_job_by_names_runs_that_job_with_the_named_tasks(
    pools: dict[str, Any], fast_retries: dict[str, float], deferrable: bool
) -> None:
    emulator, (extract, transform, _) = pools["emulator"], pools["task_ids"]
    op = job_op(
        fast_retries,
        deferrable,
        transformation_names=["Create activity table"],
        extraction_names=[{"name": "Extract SAP tables", "tables": ["VBAK"]}],
    )
    context = make_context()
    execution_id = await run_op(op, context, deferrable)
    assert (executions(emulator), executions(emulator, job="job-other")) == (1, 0)
    run = next(r for r in emulator.data_job_report(POOL, JOB)["runs"] if r["source"] == "API")
    assert run["executionId"] == execution_id and run["status"] == "SUCCESS"
    config = run["configuration"]
    assert (config["poolId"], config["jobId"]) == (POOL, JOB)
    assert config["transformations"] == [transform]
    assert [(e["extractionId"], e["tables"]) for e in config["extractions"]] == [(extract, ["VBAK"])]
    xcom = context["ti"].xcom
    assert (xcom["celonis_data_pool_id"], xcom["celonis_data_job_id"]) == (POOL, JOB)
    assert xcom["celonis_job_url"].endswith(f"/pools/{POOL}/data-configuration/data-jobs?jobId={JOB}")


def test_a_missing_job_name_lists_the_candidates_and_starts_nothing(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    emulator = pools["emulator"]
    with pytest.raises(CelonisNameError, match="matches no data job") as raised:
        job_op(fast_retries, False, data_job_name="Daily load").execute(make_context())
    text = str(raised.value)
    assert f"'{JOB_NAME}' ({JOB})" in text and "'Hourly load' (job-other)" in text
    assert executions(emulator) == executions(emulator, job="job-other") == 0


def test_a_duplicate_job_name_is_ambiguous_and_starts_nothing(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    emulator = pools["emulator"]
    emulator.configure_data_job(POOL, "job-other", name=JOB_NAME)
    with pytest.raises(CelonisNameError, match="ambiguous") as raised:
        job_op(fast_retries, False).execute(make_context())
    assert {i for _, i in raised.value.candidates} == {JOB, "job-other"}
    assert executions(emulator) == executions(emulator, job="job-other") == 0


def test_a_task_name_of_the_wrong_type_starts_nothing(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    with pytest.raises(CelonisNameError, match="matches no transformation"):
        job_op(fast_retries, False, transformation_names="Extract SAP tables").execute(make_context())
    assert executions(pools["emulator"]) == 0


@pytest.mark.parametrize(
    "arguments",
    [
        {"data_pool_id": POOL},  # with data_pool_name
        {"data_job_id": JOB},  # with data_job_name
        {"data_pool_name": None},  # neither pool id nor name
        {"transformations": ["t"], "transformation_names": ["n"]},
        {"extractions": ["e"], "extraction_names": ["n"]},
    ],
)
def test_both_or_neither_is_refused_when_the_dag_is_parsed(
    emulator: Any, fast_retries: dict[str, float], arguments: dict[str, Any]
) -> None:
    before = sum(emulator.stats()["requests"].values())
    with pytest.raises(CelonisConfigurationError):
        job_op(fast_retries, False, **arguments)
    assert sum(emulator.stats()["requests"].values()) == before


def test_a_template_counts_as_given_and_is_checked_again_once_rendered(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    with pytest.raises(CelonisConfigurationError, match="not both"):
        job_op(fast_retries, False, data_job_id="{{ params.job_id }}")
    op = job_op(fast_retries, False, data_job_name="{{ params.job }}")
    op.render_template_fields({"params": {"job": ""}})  # type: ignore[arg-type]
    with pytest.raises(CelonisConfigurationError, match="data_job_id"):
        op.execute(make_context())
    assert executions(pools["emulator"]) == 0


@pytest.mark.parametrize("deferrable", MODES)
async def test_a_templated_name_renders_then_resolves(
    pools: dict[str, Any], fast_retries: dict[str, float], deferrable: bool
) -> None:
    emulator = pools["emulator"]
    op = job_op(fast_retries, deferrable, data_job_name="{{ params.job }}")
    op.render_template_fields({"params": {"job": "Hourly load"}})  # type: ignore[arg-type]
    await run_op(op, make_context(), deferrable)
    assert (executions(emulator), executions(emulator, job="job-other")) == (0, 1)


async def test_a_deferred_task_whose_name_now_means_another_job_fails_closed(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    emulator = pools["emulator"]
    op, context = job_op(fast_retries, True), make_context()
    with pytest.raises(TaskDeferred) as raised:
        op.execute(context)
    events = await run_trigger(recreate(raised.value.trigger))
    emulator.configure_data_job(POOL, JOB, name="Old daily load")  # renamed while deferred
    emulator.configure_data_job(POOL, "job-other", name=JOB_NAME)
    with pytest.raises(CelonisError, match=r"job-other|another|not this task"):
        getattr(fresh_instance(op), raised.value.method_name)(context, events[0])


# -- data models ----------------------------------------------------------------------------------
@pytest.mark.parametrize("deferrable", MODES)
async def test_a_data_model_by_names_reloads_the_named_tables(
    pools: dict[str, Any], fast_retries: dict[str, float], deferrable: bool
) -> None:
    emulator = pools["emulator"]
    emulator.configure_data_model(POOL, MODEL, table_aliases={"VBAP": "Sales items"})
    emulator.configure_data_model(POOL, "model-other", name="P2P", load_seconds=0.2, stale_seconds=0.1)
    op = CelonisReloadDataModelOperator(
        task_id="reload",
        data_pool_name=POOL_NAME,
        data_model_name="Order-to-Cash",
        table_names=["Sales items"],
        poll_interval=0.05,
        timeout=20,
        start_grace_period=5,
        hook_params=fast_retries,
        deferrable=deferrable,
    )
    context = make_context()
    load_id = await run_op(op, context, deferrable)
    report = emulator.data_model_report(POOL, MODEL)
    assert report["load_requests"]["PARTIAL"] == 1 and report["loads"][0]["dataLoadId"] == load_id
    assert emulator.data_model_report(POOL, "model-other")["loads"] == []
    assert context["ti"].xcom["celonis_data_model_id"] == MODEL
    assert (
        emulator.requests_to(
            "POST", f"/integration/api/v1/data-pools/{POOL}/data-models/{MODEL}/load/partial-sync"
        )
        == 1
    )


def test_a_missing_data_model_name_starts_nothing(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    emulator = pools["emulator"]
    op = CelonisReloadDataModelOperator(
        task_id="reload", data_pool_id=POOL, data_model_name="O2C", hook_params=fast_retries
    )
    with pytest.raises(CelonisNameError, match=f"'Order-to-Cash' \\({MODEL}\\)"):
        op.execute(make_context())
    assert emulator.data_model_report(POOL, MODEL)["loads"] == []
    with pytest.raises(CelonisConfigurationError, match="not both"):
        CelonisReloadDataModelOperator(
            task_id="r", data_pool_id=POOL, data_model_id=MODEL, data_model_name="Order-to-Cash"
        )
    with pytest.raises(CelonisConfigurationError, match="not both"):
        CelonisReloadDataModelOperator(
            task_id="r", data_pool_id=POOL, data_model_id=MODEL, tables=["a"], table_names=["b"]
        )


# -- data push ------------------------------------------------------------------------------------
@pytest.mark.parametrize("deferrable", MODES)
async def test_a_push_by_pool_name_lands_in_that_pool(
    pools: dict[str, Any], fast_retries: dict[str, float], tmp_path: Path, deferrable: bool
) -> None:
    emulator = pools["emulator"]
    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    (tmp_path / "a.csv").write_text("id,name\n1,a\n2,b\n")
    op = CelonisDataPushOperator(
        task_id="push",
        data_pool_name="Finance",
        target_table="orders",
        source=str(tmp_path / "a.csv"),
        poll_interval=0.05,
        timeout=20,
        start_grace_period=1,
        hook_params=fast_retries,
        deferrable=deferrable,
    )
    context = make_context()
    result = await run_op(op, context, deferrable)
    assert result["status"] == "DONE"
    assert emulator.push_table("pool-other", "orders")["row_count"] == 2
    assert (
        context["ti"]
        .xcom["celonis_data_pool_url"]
        .endswith("/integration/ui/pools/pool-other/data-configuration")
    )


def test_an_ambiguous_pool_name_creates_no_push_job(
    pools: dict[str, Any], fast_retries: dict[str, float], tmp_path: Path
) -> None:
    emulator = pools["emulator"]
    emulator.configure_data_pool("pool-twin", "Finance")
    (tmp_path / "a.csv").write_text("id\n1\n")
    op = CelonisDataPushOperator(
        task_id="push",
        data_pool_name="Finance",
        target_table="t",
        source=str(tmp_path / "a.csv"),
        hook_params=fast_retries,
    )
    with pytest.raises(CelonisNameError, match="ambiguous"):
        op.execute(make_context())
    assert emulator.push_report()["jobs"] == {}
    with pytest.raises(CelonisConfigurationError, match="not both"):
        CelonisDataPushOperator(
            task_id="p", data_pool_id=POOL, data_pool_name="Finance", target_table="t", source="x.csv"
        )


# -- sensors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("deferrable", MODES)
async def test_the_sensors_wait_for_the_named_job_and_model(
    pools: dict[str, Any], fast_retries: dict[str, float], deferrable: bool
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
        deferrable=deferrable,
    )
    assert await run_op(sensor, make_context(), deferrable) == other
    model_sensor = CelonisDataModelLoadSensor(
        task_id="wait_model",
        data_pool_id=POOL,
        data_model_name="Order-to-Cash",
        poke_interval=0.05,
        timeout=0.5,
        hook_params=fast_retries,
        deferrable=deferrable,
    )
    with pytest.raises(AirflowSensorTimeout):  # never loaded: it waits on the named model, then times out
        await run_op(model_sensor, make_context(), deferrable)
    with pytest.raises(CelonisNameError, match="matches no data model"):
        await run_op(
            CelonisDataModelLoadSensor(
                task_id="w",
                data_pool_id=POOL,
                data_model_name="O2C",
                hook_params=fast_retries,
                deferrable=deferrable,
            ),
            make_context(),
            deferrable,
        )
    with pytest.raises(CelonisConfigurationError, match="not both"):
        CelonisDataJobSensor(task_id="w", data_pool_id=POOL, data_job_id=JOB, data_job_name=JOB_NAME)


def test_a_name_with_a_comma_is_one_name_and_a_rendered_list_is_several(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    tasks = [
        {"name": "Extract, clean", "taskType": "EXTRACTION"},
        {"name": "T1", "taskType": "TRANSFORMATION"},
    ]
    task_ids = emulator.configure_data_job(POOL, JOB, tasks=tasks, **FAST_JOB)["task_ids"]
    op = job_op(
        fast_retries,
        False,
        extraction_names="Extract, clean",
        transformation_names="{{ params.names }}",
        wait_for_completion=False,
    )
    op.render_template_fields({"params": {"names": ["T1"]}})  # type: ignore[arg-type]
    op.execute(make_context())
    config = emulator.data_job_report(POOL, JOB)["runs"][-1]["configuration"]
    assert [e["extractionId"] for e in config["extractions"]] == [task_ids[0]]
    assert config["transformations"] == [task_ids[1]]


def test_a_pool_name_resolves_where_only_the_paged_list_answers(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    emulator = pools["emulator"]
    emulator.configure_pool_listing(serve_unpaged=False)
    job_op(fast_retries, False, wait_for_completion=False).execute(make_context())
    assert executions(emulator) == 1
    assert emulator.requests_to("GET", "/integration/api/pools/paged") >= 1
