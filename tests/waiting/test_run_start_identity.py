"""Which execution is the task's own, and is it fresh? Against the emulator, sync and deferrable.

The reported false success first: an older SUCCESS, then a run cancelled while QUEUED (no
startDate); the task returned the older run's id and SUCCESS in 0.02 s while its own run was
still QUEUED. Then the main use case: a run a Celonis schedule started before the upstream load
finished must end before the task's own run starts, so the task reports a run that started
after it asked.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from data_pool_helpers import fresh_instance, make_context, recreate, run_trigger

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_jobs import PREVIOUS_EXECUTION_ID
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisJobAlreadyRunningError,
    CelonisJobFailedError,
    CelonisJobTimeoutError,
)
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator

MODES = [pytest.param(False, id="sync"), pytest.param(True, id="deferrable")]


def make_op(fast_retries: dict[str, float], deferrable: bool, **kwargs: Any) -> CelonisExecuteDataJobOperator:
    params: dict[str, Any] = {
        "task_id": "run_job",
        "data_pool_id": POOL,
        "data_job_id": JOB,
        "poll_interval": 0.05,
        "timeout": 20,
        "start_grace_period": 3,
        "hook_params": fast_retries,
        "deferrable": deferrable,
    }
    return CelonisExecuteDataJobOperator(**{**params, **kwargs})


async def run_chain(op: Any, context: dict[str, Any], deferrable: bool) -> Any:
    """Run the operator as Airflow would, following every deferral (blocker wait, then our run)."""
    if not deferrable:
        return op.execute(context)
    call = lambda: op.execute(context)  # noqa: E731
    for _ in range(10):
        try:
            return call()
        except TaskDeferred as raised:
            deferred = raised
        assert deferred.timeout is None, "a deferral timeout would skip the remote cancel"
        [event] = await run_trigger(recreate(deferred.trigger))
        resumed = fresh_instance(op)
        call = lambda r=resumed, d=deferred, e=event: getattr(r, d.method_name)(context, e)  # noqa: E731
    raise AssertionError("the operator deferred more than 10 times")


def runs(emulator: Any) -> list[dict[str, Any]]:
    return list(emulator.data_job_report(POOL, JOB)["runs"])


@pytest.mark.parametrize("deferrable", MODES)
async def test_a_run_cancelled_while_queued_never_makes_an_older_success_ours(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=1.0, running_seconds=0.3, stale_seconds=0.0)
    emulator.seed_execution(POOL, JOB, "CANCEL", age=30, never_started=True)
    history = runs(emulator)
    assert history[-1]["startDate"] is None and history[-1]["status"] == "CANCEL"
    began = time.monotonic()
    result = await run_chain(make_op(fast_retries, deferrable), make_context(), deferrable)
    took = time.monotonic() - began
    [ours] = [r for r in runs(emulator) if r["source"] == "API"]
    assert result == ours["executionId"] != PREVIOUS_EXECUTION_ID
    assert ours["status"] == "SUCCESS"
    assert took >= 1.0, f"returned after {took:.2f} s, while its own run was still QUEUED"


@pytest.mark.parametrize("deferrable", MODES)
async def test_a_schedule_run_in_progress_ends_before_a_fresh_run_starts(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    """Done-when of the issue: the task ends with a run that started after the task asked."""
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=0.4, stale_seconds=0.0)
    scheduled = emulator.seed_execution(POOL, JOB, "RUNNING", running_seconds=1.0)  # schedule's run
    asked_ms = runs(emulator)[-1]["startDate"] + 1  # the task asks after the schedule's run started
    context = make_context()
    result = await run_chain(make_op(fast_retries, deferrable), context, deferrable)
    by_id = {r["executionId"]: r for r in runs(emulator)}
    assert result != scheduled
    assert by_id[result]["source"] == "API" and by_id[result]["status"] == "SUCCESS"
    assert by_id[result]["startDate"] >= by_id[scheduled]["endDate"] > asked_ms
    assert emulator.data_job_report(POOL, JOB)["executions"] == 1
    assert emulator.data_job_report(POOL, JOB)["refused"] == 0  # it waited; it did not try and fail
    assert context["ti"].xcom["celonis_execution_id"] == result


async def test_waiting_logs_the_execution_it_waits_for(
    emulator: Any, fast_retries: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.0, running_seconds=0.2, stale_seconds=0.0)
    scheduled = emulator.seed_execution(POOL, JOB, "RUNNING", running_seconds=0.5)
    make_op(fast_retries, False, poll_interval=0.1).execute(make_context())
    waits = [
        line for line in capsys.readouterr().out.splitlines() if f"waiting for run(s) {scheduled}" in line
    ]
    assert 2 <= len(waits) <= 8  # one line per poll while it waits: a steady cadence


@pytest.mark.parametrize("deferrable", MODES)
async def test_if_running_fail_fails_at_once_naming_the_run(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    emulator.configure_data_job(POOL, JOB, running_seconds=30)
    scheduled = emulator.seed_execution(POOL, JOB, "RUNNING")
    with pytest.raises(CelonisJobAlreadyRunningError, match=scheduled):
        await run_chain(make_op(fast_retries, deferrable, if_running="fail"), make_context(), deferrable)
    assert emulator.data_job_report(POOL, JOB)["executions"] == 0


@pytest.mark.parametrize("deferrable", MODES)
async def test_the_wait_for_another_run_has_a_timeout_and_cancels_nothing(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    emulator.configure_data_job(POOL, JOB, running_seconds=30)
    emulator.seed_execution(POOL, JOB, "RUNNING")
    with pytest.raises(CelonisJobTimeoutError, match="started nothing") as raised:
        await run_chain(make_op(fast_retries, deferrable, timeout=0.6), make_context(), deferrable)
    assert not raised.value.cancelled
    report = emulator.data_job_report(POOL, JOB)
    assert (report["executions"], report["cancels"]) == (0, 0)  # the schedule's run is not ours to cancel


@pytest.mark.parametrize("deferrable", MODES)
async def test_a_run_another_client_started_with_ours_fails_closed(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    """Another client's run, started right after ours and queued (no schedulingId): two new ids,
    nothing proves which is ours, so the task fails naming both instead of guessing."""
    emulator.configure_data_job(
        POOL, JOB, queued_seconds=0.5, running_seconds=0.3, stale_seconds=0.5, second_execute="queue"
    )
    op = make_op(fast_retries, deferrable)
    original = op.hook.start_execution

    def start_then_another(*args: Any, **kwargs: Any) -> Any:
        answer = original(*args, **kwargs)
        CelonisDataJobHook(**fast_retries).start_execution(POOL, JOB, "DELTA")  # a second DAG
        return answer

    op.hook.start_execution = start_then_another  # type: ignore[method-assign]
    with pytest.raises(CelonisJobFailedError, match="cannot prove") as raised:
        await run_chain(op, make_context(), deferrable)
    for run in runs(emulator):
        if run["source"] == "API":
            assert run["executionId"] in str(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": -1}, "poll_interval"),
        ({"poll_interval": float("nan")}, "poll_interval"),
        ({"timeout": -5}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"start_grace_period": -1}, "start_grace_period"),
        ({"if_running": "later"}, "if_running"),
        ({"if_running": "fail", "reuse_running_execution": True}, "reuse_running_execution"),
        ({"on_skipped": "ignore"}, "on_skipped"),
    ],
)
def test_bad_numbers_and_options_fail_in_init(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(CelonisConfigurationError) as raised:
        CelonisExecuteDataJobOperator(task_id="t", data_pool_id="p", data_job_id="j", **kwargs)
    assert raised.value.field == field


def test_defaults_are_fresh_runs() -> None:
    op = CelonisExecuteDataJobOperator(task_id="t", data_pool_id="p", data_job_id="j")
    assert (op.if_running, op.reuse_running_execution, op.on_skipped) == ("wait", False, "skip")
    legacy = CelonisExecuteDataJobOperator(
        task_id="t", data_pool_id="p", data_job_id="j", reuse_running_execution=True
    )
    assert legacy.if_running == "reuse"


@pytest.mark.parametrize("deferrable", MODES)
@pytest.mark.parametrize(("on_skipped", "outcome"), [("success", "id"), ("fail", CelonisJobFailedError)])
async def test_job_level_skipped_follows_on_skipped(
    emulator: Any, fast_retries: dict[str, float], deferrable: bool, on_skipped: str, outcome: Any
) -> None:
    emulator.configure_data_job(POOL, JOB, outcome="SKIPPED", queued_seconds=0.1, running_seconds=0.1)
    op = make_op(fast_retries, deferrable, on_skipped=on_skipped)
    if outcome == "id":
        result = await run_chain(op, make_context(), deferrable)
        assert result == next(r for r in runs(emulator) if r["source"] == "API")["executionId"]
    else:
        with pytest.raises(outcome, match="on_skipped='fail'"):
            await run_chain(op, make_context(), deferrable)


def test_a_blocker_verdict_never_becomes_the_tasks_success_nor_the_reverse(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    op = make_op(fast_retries, True)
    blocker_done = {
        "status": "success",
        "message": "no execution of the job is in progress",
        "role": "blocker",
    }
    with pytest.raises(CelonisJobFailedError, match="failing closed"):
        op.execute_complete(make_context(), {**blocker_done, "data_pool_id": POOL, "data_job_id": JOB})
    own_done = {"status": "success", "message": "the data job execution succeeded", "execution_id": "e-1"}
    with pytest.raises(CelonisJobFailedError, match="failing closed"):
        op.execute_after_blocker(make_context(), own_done)
    assert emulator.data_job_report(POOL, JOB)["executions"] == 0


async def test_a_refused_status_endpoint_does_not_block_the_start(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=0.2, stale_seconds=0.0)
    emulator.add_faults([{"path": f"/pools/{POOL}/jobs/{JOB}$", "method": "GET", "status": 403, "times": -1}])
    result = make_op(fast_retries, False).execute(make_context())
    assert [r["executionId"] for r in runs(emulator) if r["source"] == "API"] == [result]
