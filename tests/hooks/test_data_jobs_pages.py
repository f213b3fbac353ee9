"""The execution history's pages are checked: a 200 the provider does not understand fails closed.

Read as "no executions", a page without its list would make every old run look new after the
start (a false success); a server ignoring ``page`` would give an incomplete "before" set.
"""

from __future__ import annotations

from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.client.transport import close_loop_session
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisUnexpectedResponseError
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator

HISTORY = f"/integration/api/pools/{POOL}/logs/{JOB}/executions"


@pytest.mark.parametrize("kind", ["no_list", "rename_list", "html", "truncate"])
async def test_a_history_page_of_the_wrong_shape_is_a_typed_error(
    emulator: Any, fast_retries: dict[str, float], kind: str
) -> None:
    emulator.add_faults([{"path": HISTORY, "method": "GET", "kind": kind, "times": -1}])
    hook = CelonisDataJobHook(**fast_retries)
    with pytest.raises(CelonisApiError) as raised:
        hook.list_executions(POOL, JOB, all_pages=True)
    assert raised.value.status == 200 and HISTORY.removeprefix("/integration") in str(raised.value)
    with pytest.raises(CelonisApiError):
        await hook.alist_executions(POOL, JOB)
    await close_loop_session()


async def test_a_server_ignoring_page_is_caught_before_any_start(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    for age in (30, 20):
        emulator.seed_execution(POOL, JOB, "SUCCESS", age=age)
    emulator.add_faults([{"path": HISTORY, "method": "GET", "kind": "ignore_paging", "times": -1}])
    op = CelonisExecuteDataJobOperator(
        task_id="t",
        data_pool_id=POOL,
        data_job_id=JOB,
        poll_interval=0.05,
        hook_params={**fast_retries, "history_limit": 1},
    )
    with pytest.raises(CelonisUnexpectedResponseError, match="repeats page 0"):
        op.execute(make_context())
    assert emulator.data_job_report(POOL, JOB)["executions"] == 0


async def test_a_page_without_its_list_during_the_wait_never_passes_an_old_run_as_new(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=0.2, stale_seconds=0.0)
    emulator.add_faults([{"path": HISTORY, "method": "GET", "kind": "no_list", "skip": 2, "times": 1}])
    op = CelonisExecuteDataJobOperator(
        task_id="t", data_pool_id=POOL, data_job_id=JOB, poll_interval=0.05, hook_params=fast_retries
    )
    with pytest.raises(CelonisUnexpectedResponseError, match="no executionItems"):
        op.execute(make_context())


async def test_a_start_answered_with_an_html_200_is_reconciled(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    """A proxy's login page on a 200 is not Celonis's answer: whether the start happened is
    unknown, so the runs are read back; none appeared, so the start is sent once more."""
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=0.2, stale_seconds=0.0)
    path = f"/integration/api/v2/data-pools/{POOL}/data-jobs/{JOB}/execute"
    emulator.add_faults([{"path": path, "method": "POST", "kind": "html"}])
    op = CelonisExecuteDataJobOperator(
        task_id="t",
        data_pool_id=POOL,
        data_job_id=JOB,
        poll_interval=0.05,
        start_grace_period=0.5,
        hook_params=fast_retries,
    )
    result = op.execute(make_context())
    runs = [r for r in emulator.data_job_report(POOL, JOB)["runs"] if r["source"] == "API"]
    assert [r["executionId"] for r in runs] == [result]
    assert emulator.requests_to("POST", path) == 2


@pytest.mark.parametrize("kind", ["html", "truncate"])
async def test_a_load_info_answer_of_the_wrong_shape_is_a_typed_error(
    emulator: Any, fast_retries: dict[str, float], kind: str
) -> None:
    from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
    from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook

    path = f"/integration/api/pools/{POOL}/data-models/{MODEL}/load-history/load-info-sync"
    emulator.add_faults([{"path": path, "method": "GET", "kind": kind, "times": -1}])
    hook = CelonisDataModelHook(**fast_retries)
    with pytest.raises(CelonisUnexpectedResponseError):
        hook.get_load_info(POOL, MODEL)
    with pytest.raises(CelonisUnexpectedResponseError):
        await hook.aget_load_info(POOL, MODEL)
    await close_loop_session()


def test_a_load_info_without_its_load_info_object_is_refused() -> None:
    from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook, checked_load_info

    call = CelonisDataModelHook.load_info_call("p", "m")
    for answer in ({}, {"data": {}}, [], None, {"loadInfo": None}, {"loadInfo": {}, "loadHistory": []}):
        with pytest.raises(CelonisUnexpectedResponseError, match="loadInfo"):
            checked_load_info(call, answer)
    ok = {"loadInfo": {"currentComputeLoad": None}}
    assert checked_load_info(call, ok) is ok
