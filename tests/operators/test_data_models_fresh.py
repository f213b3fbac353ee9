"""Data model reloads are fresh and provably the task's own, sync and deferrable, against the emulator.

A load in progress (RUNNING, LOST_CONNECTION or CANCELLING) started before the task asked, so
it may miss the data loaded upstream: by default the task waits for it to end, then requests
its own load, and reports a load id that ``load-info-sync`` did not list before the request.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisJobAlreadyRunningError,
    CelonisJobFailedError,
    CelonisJobTimeoutError,
)
from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from tests.waiting.test_run_start_identity import run_chain

MODES = [pytest.param(False, id="sync"), pytest.param(True, id="deferrable")]
TRANSIENT = ["LOST_CONNECTION", "CANCELLING"]
"""With ``load_seconds`` 1.2 a load is RUNNING, LOST_CONNECTION, then CANCELLING, 0.4 s each."""


def make_op(
    fast_retries: dict[str, float], deferrable: bool, **kwargs: Any
) -> CelonisReloadDataModelOperator:
    params: dict[str, Any] = {
        "task_id": "reload",
        "data_pool_id": POOL,
        "data_model_id": MODEL,
        "poll_interval": 0.05,
        "timeout": 20,
        "start_grace_period": 3,
        "hook_params": fast_retries,
        "deferrable": deferrable,
    }
    return CelonisReloadDataModelOperator(**{**params, **kwargs})


def loads(emulator: Any) -> list[dict[str, Any]]:
    return list(emulator.data_model_report(POOL, MODEL)["loads"])


def start_other_load(emulator: Any, fast_retries: dict[str, float], state: str) -> str:
    """A load someone else requested, caught in ``state`` when the task starts."""
    emulator.configure_data_model(POOL, MODEL, load_seconds=1.2, transient=TRANSIENT, stale_seconds=0.0)
    CelonisDataModelHook(**fast_retries).start_load(POOL, MODEL)
    time.sleep(0.05 + 0.4 * (["RUNNING", *TRANSIENT].index(state)))
    [other] = loads(emulator)
    assert other["loadStatus"] == state
    return str(other["dataLoadId"])


@pytest.mark.parametrize("deferrable", MODES)
@pytest.mark.parametrize("state", ["RUNNING", *TRANSIENT])
async def test_a_load_in_progress_in_any_state_ends_before_ours_is_requested(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool, state: str
) -> None:
    other = start_other_load(emulator, fast_retries, state)
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.2, transient=[])
    result = await run_chain(make_op(fast_retries, deferrable), make_context(), deferrable)
    by_id = {ld["dataLoadId"]: ld for ld in loads(emulator)}
    assert result != other and set(by_id) == {other, result}
    assert by_id[result]["startDate"] >= by_id[other]["endDate"]  # requested after the other ended
    assert by_id[result]["loadStatus"] == "SUCCESS"


@pytest.mark.parametrize("deferrable", MODES)
async def test_if_running_fail_and_reuse(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    other = start_other_load(emulator, fast_retries, "LOST_CONNECTION")
    with pytest.raises(CelonisJobAlreadyRunningError, match=other):
        await run_chain(make_op(fast_retries, deferrable, if_running="fail"), make_context(), deferrable)
    result = await run_chain(
        make_op(fast_retries, deferrable, if_running="reuse"), make_context(), deferrable
    )
    assert result == other and len(loads(emulator)) == 1


@pytest.mark.parametrize("deferrable", MODES)
async def test_the_wait_for_another_load_has_a_timeout(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=30, stale_seconds=0.0)
    CelonisDataModelHook(**fast_retries).start_load(POOL, MODEL)
    with pytest.raises(CelonisJobTimeoutError, match=r"(requested|started) nothing"):
        await run_chain(make_op(fast_retries, deferrable, timeout=0.5), make_context(), deferrable)
    assert len(loads(emulator)) == 1


async def test_an_older_load_with_a_later_date_is_not_ours(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    """The previous load is listed; ours shows late (stale). Its id, not its date, decides."""
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.1, stale_seconds=0.0)
    first = await run_chain(make_op(fast_retries, False), make_context(), False)
    emulator.configure_data_model(
        POOL, MODEL, load_seconds=0.2, stale_seconds=0.6, outcome="ERROR", message="x"
    )
    with pytest.raises(CelonisJobFailedError, match="ended with ERROR"):
        make_op(fast_retries, False).execute(make_context())
    assert first != loads(emulator)[1]["dataLoadId"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": -5}, "timeout"),
        ({"start_grace_period": -1}, "start_grace_period"),
        ({"if_running": "queue"}, "if_running"),
        ({"if_running": "wait", "reuse_running_load": True}, "reuse_running_load"),
    ],
)
def test_bad_arguments_fail_in_init(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(CelonisConfigurationError) as raised:
        CelonisReloadDataModelOperator(task_id="t", data_pool_id="p", data_model_id="m", **kwargs)
    assert raised.value.field == field
