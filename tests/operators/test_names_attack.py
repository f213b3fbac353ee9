"""Names instead of ids, attacked: names as written (spaces, brackets, non-text renders), two
names of one task, a disabled task, and names that mean another job on a retry or a resume.
Over real sockets against the emulator; nothing may start when a name is wrong."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred
from data_pool_helpers import fresh_instance, make_context, recreate, run_trigger

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisError, CelonisNameError
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

from .test_names import FAST_JOB, JOB_NAME, POOL_NAME, executions, job_op, pools

__all__ = ["pools"]  # the fixture, used by name


# -- names as written -----------------------------------------------------------------------------
def test_a_name_is_matched_as_written_outer_spaces_and_brackets_included(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    """Names are user data: 'Sales ' and 'Sales' are two tasks, '[Draft] Enrich' one name. The
    names were stripped before the exact match, so 'Sales ' ran the task 'Sales' (another object,
    silently), and a plain name starting with '[' was refused as a broken list."""
    tasks = [
        {"name": "Sales", "taskType": "TRANSFORMATION"},
        {"name": "Sales ", "taskType": "TRANSFORMATION"},
        {"name": "[Draft] Enrich", "taskType": "TRANSFORMATION"},
    ]
    ids = emulator.configure_data_job(POOL, JOB, tasks=tasks, **FAST_JOB)["task_ids"]
    emulator.configure_data_pool("pool-spaced", POOL_NAME + " ")
    op = job_op(
        fast_retries,
        False,
        data_pool_name=POOL_NAME + " ",
        data_job_name=None,
        data_job_id=JOB,
    )
    op.resolve_names()
    assert op.data_pool_id == "pool-spaced"
    op = job_op(
        fast_retries, False, transformation_names=["Sales ", "[Draft] Enrich"], wait_for_completion=False
    )
    op.execute(make_context())
    assert emulator.data_job_report(POOL, JOB)["runs"][-1]["configuration"]["transformations"] == ids[1:]
    op = job_op(fast_retries, False, transformation_names="[Draft] Enrich")
    op.resolve_names()
    assert op.transformations == [ids[2]]


def test_two_names_of_one_task_are_refused_before_the_start(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    emulator = pools["emulator"]
    for names in (["Enrich orders", "enrich orders"], ["Enrich orders", "Enrich orders"]):
        op = job_op(fast_retries, False, transformation_names=names)
        with pytest.raises(CelonisConfigurationError, match=r"both mean transformation"):
            op.execute(make_context())
    assert executions(emulator) == 0


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("data_job_name", ["Daily delta load"], "is a list"),
        ("data_job_name", "['Daily delta load']", "is a list"),  # a list rendered as text
        ("data_pool_name", True, "is a bool"),
        ("extraction_names", [{"name": ["x"]}], "has the item"),
        ("transformation_names", [None], "has the item"),
        ("transformation_names", {"a": 1}, "is a dict"),
    ],
)
def test_a_name_rendered_to_something_else_than_text_is_a_clear_error(
    pools: dict[str, Any], fast_retries: dict[str, float], field: str, value: Any, problem: str
) -> None:
    op = job_op(fast_retries, False, **{field: value})
    with pytest.raises(CelonisConfigurationError, match=rf"{field}.*{problem}") as raised:
        op.execute(make_context())
    assert not isinstance(raised.value, CelonisNameError)  # refused before any list is read
    assert executions(pools["emulator"]) == 0


# -- a name that means another job on the retry -----------------------------------------------------
class LedgerTI:
    """A task instance with the ids the run ledger keys on (same ids on every try)."""

    dag_id, task_id, run_id, map_index = "etl", "run_job", "manual__1", -1

    def __init__(self, try_number: int) -> None:
        self.try_number = try_number

    def xcom_push(self, key: str, value: Any) -> None:
        pass


def test_a_retry_whose_job_name_now_means_another_job_starts_nothing(
    pools: dict[str, Any], fast_retries: dict[str, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Try 1 starts 'Daily delta load' and ends without an outcome (ledger kept); the job is then
    renamed and another takes its name. Try 2 resolves the name to the other job: its ledger
    entry names the first job, so the try fails closed instead of starting the other job."""
    from airflow.sdk import Variable

    variables: dict[str, str] = {}
    monkeypatch.setattr(
        Variable, "get", staticmethod(lambda key, default=None, **_: variables.get(key, default))
    )
    monkeypatch.setattr(
        Variable, "set", staticmethod(lambda key, value, **_: variables.__setitem__(key, value))
    )
    monkeypatch.setattr(Variable, "delete", staticmethod(lambda key, **_: variables.pop(key, None)))
    emulator = pools["emulator"]
    emulator.configure_data_job(POOL, JOB, running_seconds=60)
    with pytest.raises(CelonisError, match="timeout"):
        job_op(fast_retries, False, timeout=1.5).execute({"ti": LedgerTI(1)})
    assert executions(emulator) == 1 and len(variables) == 1  # kept: no outcome known
    emulator.configure_data_job(POOL, JOB, name="Daily delta load (old)")
    emulator.configure_data_job(POOL, "job-other", name=JOB_NAME)
    with pytest.raises(CelonisError, match="run ledger"):
        job_op(fast_retries, False, timeout=1.5).execute({"ti": LedgerTI(2)})
    assert executions(emulator, job="job-other") == 0 and executions(emulator) == 1


def test_a_disabled_task_named_in_a_subset_starts_nothing(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    """A disabled task does not run when its job runs: naming it would end green without it."""
    tasks = [
        {"name": "Enrich orders", "taskType": "TRANSFORMATION", "disabled": True},
        {"name": "Create activity table", "taskType": "TRANSFORMATION"},
    ]
    emulator.configure_data_job(POOL, JOB, tasks=tasks, **FAST_JOB)
    op = job_op(fast_retries, False, transformation_names=["Create activity table", "Enrich orders"])
    with pytest.raises(CelonisConfigurationError, match=r"transformation_names.*'Enrich orders'.*disabled"):
        op.execute(make_context())
    assert executions(emulator) == 0


async def test_a_task_waiting_for_a_blocker_whose_name_now_means_another_job_starts_nothing(
    pools: dict[str, Any], fast_retries: dict[str, float]
) -> None:
    """Deferred behind a run in progress (if_running='wait'); the job is renamed and another
    takes its name meanwhile. The resume must not start the other job."""
    emulator = pools["emulator"]
    CelonisDataJobHook(**fast_retries).start_execution(POOL, JOB, "DELTA")  # someone else's run
    op, context = job_op(fast_retries, True, if_running="wait"), make_context()
    with pytest.raises(TaskDeferred) as raised:
        op.execute(context)
    assert raised.value.method_name == "execute_after_blocker"
    emulator.configure_data_job(POOL, JOB, name="Old daily load")
    emulator.configure_data_job(POOL, "job-other", name=JOB_NAME)
    events = await run_trigger(recreate(raised.value.trigger))
    with pytest.raises(CelonisError, match=r"job-other|another|not this task"):
        getattr(fresh_instance(op), raised.value.method_name)(context, events[0])
    assert (executions(emulator), executions(emulator, job="job-other")) == (1, 0)
