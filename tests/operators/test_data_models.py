"""CelonisReloadDataModelOperator and CelonisDataModelLoadSensor against the emulator."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout
from data_pool_helpers import make_context, recreate, run_deferred, run_op, run_trigger

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import (
    CelonisBadRequestError,
    CelonisConfigurationError,
    CelonisJobFailedError,
    CelonisJobTimeoutError,
)
from airflow_provider_celonis.links import CelonisDataModelLink
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from airflow_provider_celonis.sensors.data_models import CelonisDataModelLoadSensor
from airflow_provider_celonis.triggers.data_models import CelonisDataModelLoadTrigger
from airflow_provider_celonis.waiting.decisions import LoadWait

MODES = [pytest.param(False, id="sync"), pytest.param(True, id="deferrable")]
LOAD_INFO = f"/integration/api/pools/{POOL}/data-models/{MODEL}/load-history/load-info-sync"


@pytest.fixture
def model(emulator: Any) -> Any:
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.4, stale_seconds=0.2)
    return emulator


def make_op(
    fast_retries: dict[str, float], deferrable: bool, **kwargs: Any
) -> CelonisReloadDataModelOperator:
    params: dict[str, Any] = {
        "task_id": "reload",
        "data_pool_id": POOL,
        "data_model_id": MODEL,
        "poll_interval": 0.05,
        "timeout": 20,
        "start_grace_period": 5,
        "hook_params": fast_retries,
        "deferrable": deferrable,
    }
    return CelonisReloadDataModelOperator(**{**params, **kwargs})


def loads(emulator: Any) -> list[dict[str, Any]]:
    return list(emulator.data_model_report(POOL, MODEL)["loads"])


@pytest.mark.parametrize("deferrable", MODES)
async def test_first_load_succeeds(model: Any, fast_retries: dict[str, float], deferrable: bool) -> None:
    """currentComputeLoad is null before the first load; the operator still finds the new one."""
    op, context = make_op(fast_retries, deferrable), make_context()
    load_id = await run_op(op, context, deferrable)
    assert [ld["dataLoadId"] for ld in loads(model)] == [load_id]
    assert model.data_model_report(POOL, MODEL)["load_requests"]["COMPLETE"] == 1
    url = f"{model.base_url}/integration/ui/pools/{POOL}/data-models/{MODEL}"
    assert context["ti"].xcom["celonis_data_model_url"] == url
    assert context["ti"].xcom["celonis_data_load_id"] == load_id
    assert CelonisDataModelLink().get_link(op, ti_key=None) == url  # type: ignore[arg-type]


@pytest.mark.parametrize("deferrable", MODES)
async def test_previous_success_is_not_taken(
    model: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    await run_op(make_op(fast_retries, False), make_context(), False)  # a finished SUCCESS load
    model.configure_data_model(
        POOL, MODEL, outcome="ERROR", message="Table VBAP: duplicate key", stale_seconds=0.5
    )
    with pytest.raises(CelonisJobFailedError, match="duplicate key"):
        await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)
    assert len(loads(model)) == 2


@pytest.mark.parametrize("deferrable", MODES)
async def test_warning_succeeds_with_a_logged_warning(
    model: Any, fast_retries: dict[str, float], deferrable: bool, caplog: pytest.LogCaptureFixture
) -> None:
    model.configure_data_model(POOL, MODEL, outcome="WARNING", message="2 foreign keys could not be resolved")
    with caplog.at_level(logging.WARNING):
        assert await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)
    assert "foreign keys could not be resolved" in caplog.text


@pytest.mark.parametrize("deferrable", MODES)
@pytest.mark.parametrize(
    ("outcome", "expected"), [("CANCELED", "CANCELED"), ("REBUILDING", "unknown load status")]
)
async def test_canceled_and_unknown_fail(
    model: Any, fast_retries: dict[str, float], deferrable: bool, outcome: str, expected: str
) -> None:
    model.configure_data_model(POOL, MODEL, outcome=outcome)
    with pytest.raises(CelonisJobFailedError, match=expected):
        await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)


@pytest.mark.parametrize("deferrable", MODES)
async def test_transient_statuses_are_in_progress(
    model: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    model.configure_data_model(
        POOL, MODEL, load_seconds=0.9, transient=["LOST_CONNECTION", "CANCELLING", "RUNNING"]
    )
    assert await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)
    assert loads(model)[0]["loadStatus"] == "SUCCESS"


@pytest.mark.parametrize("deferrable", MODES)
async def test_timeout_fails(model: Any, fast_retries: dict[str, float], deferrable: bool) -> None:
    model.configure_data_model(POOL, MODEL, load_seconds=30)
    with pytest.raises(CelonisJobTimeoutError, match="no cancel for loads"):
        await run_op(make_op(fast_retries, deferrable, timeout=0.6), make_context(), deferrable)


async def test_from_cache_and_partial_reloads(model: Any, fast_retries: dict[str, float]) -> None:
    make_op(fast_retries, False, full_reload=False).execute(make_context())
    table_ids = model.data_model_report(POOL, MODEL)["table_ids"]
    make_op(fast_retries, False, tables=[table_ids["VBAK"]]).execute(make_context())
    assert model.data_model_report(POOL, MODEL)["load_requests"] == {
        "COMPLETE": 0,
        "FROM_CACHE": 1,
        "PARTIAL": 1,
    }
    with pytest.raises(CelonisBadRequestError):
        make_op(fast_retries, False, tables=["no-such-table"]).execute(make_context())


async def test_sensor_poke_and_deferrable(model: Any, fast_retries: dict[str, float]) -> None:
    model.configure_data_model(POOL, MODEL, load_seconds=2.0, stale_seconds=0.2)
    sensor = CelonisDataModelLoadSensor(
        task_id="wait_for_model",
        data_pool_id=POOL,
        data_model_id=MODEL,
        started_after=time.time() - 5,
        poke_interval=0.05,
        timeout=0.5,
        hook_params=fast_retries,
    )
    assert sensor.poke(make_context()) is False  # never loaded
    make_op(fast_retries, False, wait_for_completion=False).execute(make_context())
    time.sleep(0.3)
    assert sensor.poke(make_context()) is False  # still RUNNING
    sensor.deferrable = True
    sensor.timeout = 10
    assert await run_deferred(sensor, make_context()) == loads(model)[0]["dataLoadId"]
    sensor.started_after = time.time() + 60
    sensor.timeout = 0.3
    with pytest.raises(AirflowSensorTimeout):
        await run_deferred(sensor, make_context())


async def test_load_trigger_survives_5xx_and_drops(model: Any) -> None:
    make_op({"min_wait": 0.01, "max_wait": 0.02}, False, wait_for_completion=False).execute(make_context())
    model.add_faults(
        [
            {"path": LOAD_INFO, "method": "GET", "status": 502, "times": 3},
            {"path": LOAD_INFO, "method": "GET", "kind": "drop", "times": 3},
        ]
    )
    wait = LoadWait(POOL, MODEL, deadline=time.time() + 20)
    hook_params = {"min_wait": 0.01, "max_wait": 0.02, "max_attempts": 2}
    trigger = CelonisDataModelLoadTrigger(wait=wait.to_json(), poll_interval=0.05, hook_params=hook_params)
    events = await run_trigger(recreate(trigger))
    assert [e["status"] for e in events] == ["success"]
    assert events[0]["data_load_id"] == loads(model)[0]["dataLoadId"]
    assert model.stats()["faults_pending"] == 0


async def test_tables_as_a_rendered_string_is_a_list_not_characters(
    model: Any, fast_retries: dict[str, float]
) -> None:
    """A templated list renders as text; "A,B" or "['A', 'B']" must not become one id per character."""
    table_ids = model.data_model_report(POOL, MODEL)["table_ids"]
    vbak, vbap = table_ids["VBAK"], table_ids["VBAP"]
    make_op(fast_retries, False, tables=f"{vbak}, {vbap}").execute(make_context())
    make_op(fast_retries, False, tables=str([vbak])).execute(make_context())
    assert model.data_model_report(POOL, MODEL)["load_requests"]["PARTIAL"] == 2
    calls = model.stats()["api_calls"]
    with pytest.raises(CelonisConfigurationError, match="tables"):
        make_op(fast_retries, False, tables=[{"id": vbak}]).execute(make_context())
    assert model.stats()["api_calls"] == calls


def test_a_load_seen_before_or_without_id_is_never_ours_whatever_its_dates() -> None:
    from airflow_provider_celonis.waiting.decisions import LoadWait, judge_load

    wait = LoadWait(POOL, MODEL, known_ids=("l-1",), deadline=None, appear_deadline=None)
    old = {"dataLoadId": "l-1", "loadStatus": "SUCCESS", "startDate": 9_999_999_999_999}  # clock skew
    assert judge_load({"loadInfo": {"currentComputeLoad": old}}, wait) is None
    no_id = {"loadStatus": "SUCCESS", "startDate": 9_999_999_999_999}
    assert judge_load({"loadInfo": {"currentComputeLoad": no_id}}, wait) is None
    newer = {"dataLoadId": "l-2", "loadStatus": "SUCCESS", "startDate": 1}  # an earlier date: still new
    assert judge_load({"loadInfo": {"currentComputeLoad": newer}}, wait)["status"] == "success"  # type: ignore[index]


@pytest.mark.parametrize("deferrable", MODES)
async def test_retry_reuses_the_running_load_when_asked(
    model: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    """Try 1 requested a load and died; try 2 with reuse_running_load waits for it, requests none."""
    model.configure_data_model(POOL, MODEL, load_seconds=0.8, stale_seconds=0.0)
    make_op(fast_retries, False, wait_for_completion=False).execute(make_context())
    time.sleep(0.1)
    op = make_op(fast_retries, deferrable, reuse_running_load=True)  # legacy form of if_running="reuse"
    load_id = await run_op(op, make_context(), deferrable)
    assert [load["dataLoadId"] for load in loads(model)] == [load_id]
    assert model.data_model_report(POOL, MODEL)["load_requests"]["COMPLETE"] == 1
