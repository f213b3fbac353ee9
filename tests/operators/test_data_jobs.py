"""CelonisExecuteDataJobOperator against the emulator, in sync and deferrable mode.

The emulator's state machine runs in sub-second steps; poll intervals are 0.05-0.1 s.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from airflow.sdk import conf
from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred
from data_pool_helpers import make_context, recreate, run_op

from airflow_provider_celonis.client.transport import close_loop_session
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
from airflow_provider_celonis.links import CelonisDataJobLink
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.triggers.data_jobs import CelonisDataJobExecutionTrigger

MODES = [pytest.param(False, id="sync"), pytest.param(True, id="deferrable")]
FAST_JOB = {"queued_seconds": 0.2, "running_seconds": 0.4, "stale_seconds": 0.2, "cancel_seconds": 0.1}


@pytest.fixture
def job(emulator: Any) -> Any:
    emulator.configure_data_job(POOL, JOB, **FAST_JOB)
    return emulator


def make_op(fast_retries: dict[str, float], deferrable: bool, **kwargs: Any) -> CelonisExecuteDataJobOperator:
    params: dict[str, Any] = {
        "task_id": "run_job",
        "data_pool_id": POOL,
        "data_job_id": JOB,
        "poll_interval": 0.05,
        "timeout": 20,
        "start_grace_period": 5,
        "hook_params": fast_retries,
        "deferrable": deferrable,
    }
    return CelonisExecuteDataJobOperator(**{**params, **kwargs})


def api_runs(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.data_job_report(POOL, JOB)["runs"] if r["source"] == "API"]


@pytest.mark.parametrize("deferrable", MODES)
async def test_success_pushes_xcom_and_link(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    op, context = make_op(fast_retries, deferrable), make_context()
    execution_id = await run_op(op, context, deferrable)
    runs = api_runs(job)
    assert len(runs) == 1
    assert runs[0]["status"] == "SUCCESS"
    assert execution_id == runs[0]["executionId"] != PREVIOUS_EXECUTION_ID
    xcom = context["ti"].xcom
    assert xcom["celonis_data_pool_id"] == POOL
    assert xcom["celonis_data_job_id"] == JOB
    assert xcom["celonis_execution_id"] == execution_id
    assert xcom["celonis_execution_start_ms"] == runs[0]["startDate"]
    url = f"{job.base_url}/integration/ui/pools/{POOL}/data-configuration/data-jobs?jobId={JOB}"
    assert xcom["celonis_job_url"] == url
    assert CelonisDataJobLink().get_link(op, ti_key=None) == url  # type: ignore[arg-type]
    assert runs[0]["mode"] == "DELTA"


@pytest.mark.parametrize("deferrable", MODES)
async def test_failure_carries_celonis_error_lines(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    job.configure_data_job(
        POOL, JOB, outcome="FAIL", error_lines=["Table ORDERS: ORA-00942 table does not exist"]
    )
    with pytest.raises(CelonisJobFailedError, match="ORA-00942") as failure:
        await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)
    assert failure.value.status == "FAIL"
    # named by the failed task, read with that task's own id (the emulator refuses other queries)
    assert failure.value.error_lines == [
        "Create activity table: Table ORDERS: ORA-00942 table does not exist"
    ]
    assert failure.value.execution_id == api_runs(job)[0]["executionId"]


@pytest.mark.parametrize("deferrable", MODES)
async def test_cancel_in_celonis_fails_the_task(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    job.configure_data_job(POOL, JOB, outcome="CANCEL")
    with pytest.raises(CelonisJobFailedError, match="cancelled") as failure:
        await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)
    assert failure.value.status == "CANCEL"


@pytest.mark.parametrize("deferrable", MODES)
async def test_skipped_skips_the_task(job: Any, fast_retries: dict[str, float], deferrable: bool) -> None:
    job.configure_data_job(POOL, JOB, outcome="SKIPPED")
    with pytest.raises(AirflowSkipException):
        await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)


@pytest.mark.parametrize("deferrable", MODES)
async def test_unknown_status_fails_closed(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    job.configure_data_job(POOL, JOB, outcome="PARTIALLY_DONE")
    with pytest.raises(CelonisJobFailedError, match="unknown execution status 'PARTIALLY_DONE'"):
        await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)


@pytest.mark.parametrize("deferrable", MODES)
async def test_timeout_cancels_the_remote_execution(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    job.configure_data_job(POOL, JOB, running_seconds=30)
    with pytest.raises(CelonisJobTimeoutError, match="cancelled it") as failure:
        await run_op(make_op(fast_retries, deferrable, timeout=1.0), make_context(), deferrable)
    assert failure.value.cancelled
    report = job.data_job_report(POOL, JOB)
    assert report["cancels"] == 1
    assert api_runs(job)[0]["cancelRequested"]
    time.sleep(0.2)  # cancel_seconds
    assert api_runs(job)[0]["status"] == "CANCEL"


@pytest.mark.parametrize("deferrable", MODES)
async def test_previous_success_is_not_taken_for_the_new_run(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    """The history shows only the previous SUCCESS for 0.6 s after execute; the new run FAILs."""
    job.configure_data_job(POOL, JOB, outcome="FAIL", stale_seconds=0.6)
    with pytest.raises(CelonisJobFailedError):
        await run_op(make_op(fast_retries, deferrable), make_context(), deferrable)
    assert len(api_runs(job)) == 1


@pytest.mark.parametrize("deferrable", MODES)
async def test_retry_while_running_reuses_the_execution(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    """Try 1 starts the job and dies (worker lost); try 2 with if_running="reuse" waits for that run."""
    job.configure_data_job(POOL, JOB, running_seconds=2.0, stale_seconds=0.0)
    first = make_op(fast_retries, deferrable, wait_for_completion=False)
    first.execute(make_context())
    started = api_runs(job)[0]["executionId"]
    result = await run_op(make_op(fast_retries, deferrable, if_running="reuse"), make_context(), deferrable)
    assert result == started
    report = job.data_job_report(POOL, JOB)
    assert report["executions"] == 1
    assert report["refused"] == 0


async def test_retry_inside_the_stale_window_is_refused_then_reused(
    job: Any, fast_retries: dict[str, float]
) -> None:
    """Try 2 cannot see try 1's run yet; Celonis refuses the second start and try 2 waits for run 1."""
    job.configure_data_job(POOL, JOB, stale_seconds=2.0, running_seconds=0.3)
    CelonisDataJobHook(**fast_retries).start_execution(POOL, JOB, "DELTA")  # try 1 started, then died
    result = make_op(fast_retries, False, reuse_running_execution=True).execute(make_context())
    report = job.data_job_report(POOL, JOB)
    assert (report["executions"], report["refused"]) == (1, 1)
    assert result == api_runs(job)[0]["executionId"]


async def test_running_job_without_reuse_fails_without_starting(
    job: Any, fast_retries: dict[str, float]
) -> None:
    job.seed_execution(POOL, JOB, "RUNNING", running_seconds=30)
    with pytest.raises(CelonisJobAlreadyRunningError, match="already running"):
        make_op(fast_retries, False, if_running="fail").execute(make_context())
    assert job.data_job_report(POOL, JOB)["executions"] == 0


async def test_on_kill_cancels_a_sync_wait(job: Any, fast_retries: dict[str, float]) -> None:
    job.configure_data_job(POOL, JOB, running_seconds=30)
    op = make_op(fast_retries, False)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            op.execute(make_context())
        except BaseException as err:
            errors.append(err)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 10
    while not api_runs(job) or api_runs(job)[0]["status"] not in ("QUEUED", "RUNNING"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    op.on_kill()
    worker.join(10)
    assert api_runs(job)[0]["status"] == "CANCEL"
    assert isinstance(errors[0], CelonisJobFailedError)  # the wait saw the CANCEL and ended


async def test_on_kill_after_deferral_cancels_and_never_raises(
    job: Any, fast_retries: dict[str, float]
) -> None:
    job.configure_data_job(POOL, JOB, running_seconds=30)
    op = make_op(fast_retries, True)
    with pytest.raises(TaskDeferred):
        op.execute(make_context())
    job.add_faults([{"path": "/cancel$", "status": 500, "times": -1}])
    op.on_kill()  # Celonis answers 500: logged, not raised
    assert job.data_job_report(POOL, JOB)["cancels"] == 0
    job.clear_faults()
    op.on_kill()
    assert job.data_job_report(POOL, JOB)["cancels"] == 1


async def test_killing_the_deferred_task_cancels_through_the_trigger(
    job: Any, fast_retries: dict[str, float]
) -> None:
    """While deferred, Airflow calls the trigger's on_kill (user kill only); it cancels, never raises."""
    job.configure_data_job(POOL, JOB, running_seconds=30)
    with pytest.raises(TaskDeferred) as deferred:
        make_op(fast_retries, True).execute(make_context())
    trigger = recreate(deferred.value.trigger)
    job.add_faults([{"path": "/cancel$", "status": 400, "times": 1}])
    await trigger.on_kill()  # refused: logged, not raised
    await trigger.on_kill()
    await close_loop_session()
    assert job.data_job_report(POOL, JOB)["cancels"] == 1
    time.sleep(0.2)
    assert api_runs(job)[0]["status"] == "CANCEL"
    sensor_like = CelonisDataJobExecutionTrigger(wait=trigger.job_wait.to_json(), hook_params=fast_retries)
    await sensor_like.on_kill()  # cancel_on_kill defaults to off: a watcher owns nothing
    await close_loop_session()
    assert job.data_job_report(POOL, JOB)["cancels"] == 1


async def test_subset_uses_the_execution_configuration(job: Any, fast_retries: dict[str, float]) -> None:
    op = make_op(
        fast_retries,
        False,
        mode="FULL",
        transformations=["t-1"],
        extractions=[{"extractionId": "e-1", "tables": ["VBAK"]}, "e-2"],
        data_models=["dm-exec-1"],
    )
    op.execute(make_context())
    config = api_runs(job)[0]["configuration"]
    assert config["mode"] == "FULL"
    assert config["executeOnlySubsetOfTransformations"] is True
    assert config["transformations"] == ["t-1"]
    assert config["extractions"][0] == {
        "extractionId": "e-1",
        "loadOnlySubsetOfTables": True,
        "tables": ["VBAK"],
    }
    assert config["extractions"][1]["loadOnlySubsetOfTables"] is False
    assert config["dataModels"] == [{"dataModelExecutionId": "dm-exec-1", "tables": []}]
    assert job.requests_to("POST", f"/integration/api/pools/{POOL}/jobs/{JOB}/execute") == 1


async def test_start_answer_lost_is_not_resent(job: Any, fast_retries: dict[str, float]) -> None:
    """Celonis started the job but the answer was lost: no replay, the wait finds the run."""
    path = f"/integration/api/v2/data-pools/{POOL}/data-jobs/{JOB}/execute"
    job.add_faults([{"path": path, "kind": "drop", "process": True}])
    result = make_op(fast_retries, False).execute(make_context())
    assert job.requests_to("POST", path) == 1
    assert result == api_runs(job)[0]["executionId"]


@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
async def test_finds_the_new_run_whatever_the_history_order(
    job: Any, fast_retries: dict[str, float], order: str
) -> None:
    """Pages of 2 and five older runs: the new run is on the first or on the last page."""
    job.configure_data_job(POOL, JOB, history_order=order)
    for age in (50, 40, 30, 20):
        job.seed_execution(POOL, JOB, "SUCCESS", age=age)
    op = make_op(fast_retries, False, hook_params={**fast_retries, "history_limit": 2})
    assert op.execute(make_context()) == api_runs(job)[0]["executionId"]


async def test_bad_mode_fails_before_any_call(job: Any, fast_retries: dict[str, float]) -> None:
    with pytest.raises(CelonisConfigurationError, match="mode"):
        make_op(fast_retries, False, mode="INCREMENTAL").execute(make_context())
    assert job.data_job_report(POOL, JOB)["executions"] == 0


async def test_no_new_execution_within_grace_fails(job: Any, fast_retries: dict[str, float]) -> None:
    job.configure_data_job(POOL, JOB, stale_seconds=30)
    with pytest.raises(CelonisJobFailedError, match="no new execution"):
        make_op(fast_retries, False, start_grace_period=0.5).execute(make_context())


def test_constructor_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CELONIS_DEFAULT", raising=False)
    op = CelonisExecuteDataJobOperator(task_id="t", data_pool_id="{{ params.pool }}", data_job_id="j")
    assert "data_pool_id" in op.template_fields
    assert op.deferrable is conf.getboolean("operators", "default_deferrable", fallback=False)
    assert op.timeout == 12 * 3600


@pytest.mark.parametrize("deferrable", MODES)
async def test_a_second_run_queued_behind_ours_is_not_followed(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    """Someone starts the job again while ours runs; Celonis queues it (no start date yet).

    The wait must stay on our execution (pinned when first seen), not jump to the queued one.
    The second run shows after the start grace (0.3 s), so it provably is not ours; one that
    shows within the grace fails closed (test_data_jobs_identity).
    """
    job.configure_data_job(
        POOL, JOB, queued_seconds=0.1, running_seconds=1.5, stale_seconds=0.0, second_execute="queue"
    )

    def start_second_run() -> None:
        deadline = time.monotonic() + 10
        while not api_runs(job) or api_runs(job)[0]["status"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.5)  # our run is pinned and the start grace is over by now
        CelonisDataJobHook(**fast_retries).start_execution(POOL, JOB, "DELTA")

    starter = threading.Thread(target=start_second_run)
    starter.start()
    op = make_op(fast_retries, deferrable, start_grace_period=0.3)
    execution_id = await run_op(op, make_context(), deferrable)
    starter.join(10)
    runs = api_runs(job)
    assert len(runs) == 2, runs
    assert execution_id == runs[0]["executionId"]
    assert runs[0]["status"] == "SUCCESS"
    assert runs[1]["status"] in ("QUEUED", "RUNNING")  # the second run is still going


async def test_no_wait_returns_and_pushes_the_new_execution_id(
    job: Any, fast_retries: dict[str, float]
) -> None:
    job.configure_data_job(POOL, JOB, running_seconds=5, stale_seconds=0.3)
    context = make_context()
    execution_id = make_op(fast_retries, False, wait_for_completion=False).execute(context)
    runs = api_runs(job)
    assert execution_id == runs[0]["executionId"] != PREVIOUS_EXECUTION_ID
    assert context["ti"].xcom["celonis_execution_id"] == execution_id


async def test_no_wait_starts_again_when_a_lost_start_never_arrived(
    job: Any, fast_retries: dict[str, float]
) -> None:
    """The answer is lost and nothing started: after the grace the start is sent once more."""
    path = f"/integration/api/v2/data-pools/{POOL}/data-jobs/{JOB}/execute"
    job.add_faults([{"path": path, "kind": "drop"}])
    op = make_op(fast_retries, False, wait_for_completion=False, start_grace_period=0.5)
    execution_id = op.execute(make_context())
    assert [r["executionId"] for r in api_runs(job)] == [execution_id]
    assert job.requests_to("POST", path) == 2


async def test_lost_starts_are_not_sent_a_third_time(job: Any, fast_retries: dict[str, float]) -> None:
    path = f"/integration/api/v2/data-pools/{POOL}/data-jobs/{JOB}/execute"
    job.add_faults([{"path": path, "kind": "drop", "times": -1}])
    op = make_op(fast_retries, False, start_grace_period=0.3)
    with pytest.raises(CelonisJobFailedError, match="answer was lost 2 times"):
        op.execute(make_context())
    assert api_runs(job) == []
    assert job.requests_to("POST", path) == 2


@pytest.mark.parametrize("deferrable", MODES)
async def test_forbidden_status_poll_is_status_unknown_not_job_failed(
    job: Any, fast_retries: dict[str, float], deferrable: bool
) -> None:
    """A 403 while waiting says nothing about the run: same error type in both modes, never "failed"."""
    from airflow.sdk.exceptions import TaskDeferred as Deferred
    from data_pool_helpers import run_trigger

    from airflow_provider_celonis.exceptions import CelonisPermissionError

    job.configure_data_job(POOL, JOB, running_seconds=30, stale_seconds=0)
    op, context = make_op(fast_retries, deferrable), make_context()
    rule = {"path": f"/logs/{JOB}/executions", "method": "GET", "status": 403, "times": -1}
    if deferrable:
        with pytest.raises(Deferred) as deferred:
            op.execute(context)
        job.add_faults([rule])
        [event] = await run_trigger(recreate(deferred.value.trigger))
        with pytest.raises(CelonisPermissionError) as raised:
            op.execute_complete(context, event)
    else:
        threading.Timer(0.3, job.add_faults, [[rule]]).start()
        with pytest.raises(CelonisPermissionError) as raised:
            op.execute(context)
    assert not isinstance(raised.value, CelonisJobFailedError)
    assert raised.value.status == 403
    if deferrable:
        assert "may still run in Celonis" in str(raised.value) and "Injected fault" in str(raised.value)
    assert api_runs(job)[0]["status"] in ("QUEUED", "RUNNING")  # not cancelled: it may still run


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"mode": "INCREMENTAL"}, "mode"),
        ({"transformations": [{"id": "t-1"}]}, "transformations"),
        ({"extractions": [{"tables": ["VBAK"]}]}, "extractions"),
        ({"data_models": 42}, "data_models"),
    ],
)
async def test_bad_arguments_fail_before_any_call(
    job: Any, fast_retries: dict[str, float], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(CelonisConfigurationError) as raised:
        make_op(fast_retries, False, **kwargs).execute(make_context())
    assert raised.value.field == field
    assert job.stats()["api_calls"] == 0


async def test_subset_as_a_rendered_string_is_split_at_commas(
    job: Any, fast_retries: dict[str, float]
) -> None:
    """A templated list renders as text: never one transformation per character."""
    make_op(
        fast_retries, False, mode="full", transformations="t-1, t-2", extractions="['e-1']", data_models=""
    ).execute(make_context())
    config = api_runs(job)[0]["configuration"]
    assert config["mode"] == "FULL"
    assert config["transformations"] == ["t-1", "t-2"]
    assert [e["extractionId"] for e in config["extractions"]] == ["e-1"]
    assert config["loadOnlySubsetOfDataModels"] is False


async def test_reuse_warns_that_the_requested_subset_is_not_applied(
    job: Any, fast_retries: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    job.configure_data_job(POOL, JOB, running_seconds=0.5, stale_seconds=0.0)
    running = job.seed_execution(POOL, JOB, "RUNNING", running_seconds=0.5)
    op = make_op(fast_retries, False, mode="FULL", transformations=["t-1"], if_running="reuse")
    result = op.execute(make_context())
    assert result == running
    assert "mode FULL, transformations are not applied" in capsys.readouterr().out  # task log
