"""Review attacks on the execution history: pages that shift while the "before" set is read,
and ids of another type.

The history is read page by page (``limit``/``page``). A run listed while the task reads the
pages shifts every item down by one: an item is seen twice and the new run not at all. The
promise still holds: the unseen run is not in the "before" set, so it is a candidate next to
the task's own run and the task fails closed, never reporting it; a schedule's run is never a
candidate, and the task finds its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisJobFailedError
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.waiting.waits import execution_id_of


def shift_after_first_page(emulator: Any, monkeypatch: pytest.MonkeyPatch, source: str) -> list[str]:
    """Seed a new run (newest: it goes on top) right after the first full-history page is read."""
    seeded: list[str] = []
    original = CelonisDataJobHook.call

    def call(self: CelonisDataJobHook, spec: Any) -> Any:
        if spec.path.endswith(f"/logs/{JOB}/executions") and not seeded and _page(spec) == 1:
            seeded.append(emulator.seed_execution(POOL, JOB, "SUCCESS", age=0.01, source=source))
        return original(self, spec)

    monkeypatch.setattr(CelonisDataJobHook, "call", call)
    return seeded


def _page(spec: Any) -> int:
    params = dict(spec.kwargs.get("params") or {})
    return int(params.get("page", 0))


def make_op(limit: int = 2) -> CelonisExecuteDataJobOperator:
    return CelonisExecuteDataJobOperator(
        task_id="t",
        data_pool_id=POOL,
        data_job_id=JOB,
        poll_interval=0.05,
        timeout=20,
        start_grace_period=1,
        hook_params={"min_wait": 0.01, "max_wait": 0.05, "max_attempts": 3, "history_limit": limit},
    )


def test_a_run_listed_while_the_pages_are_read_is_never_reported(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=0.2, stale_seconds=0)
    for age in (500, 400, 300, 200, 100):
        emulator.seed_execution(POOL, JOB, "SUCCESS", age=age, source="API")
    seeded = shift_after_first_page(emulator, monkeypatch, "API")
    with pytest.raises(CelonisJobFailedError) as raised:
        make_op().execute(make_context())
    assert seeded and seeded[0] in str(raised.value)  # named as a candidate, not reported
    assert emulator.data_job_report(POOL, JOB)["executions"] == 1


def test_a_schedule_run_listed_while_the_pages_are_read_is_ignored(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=0.2, stale_seconds=0)
    for age in (500, 400, 300, 200, 100):
        emulator.seed_execution(POOL, JOB, "SUCCESS", age=age, source="API")
    seeded = shift_after_first_page(emulator, monkeypatch, "SCHEDULE")
    result = make_op().execute(make_context())
    assert seeded and result != seeded[0]
    runs = emulator.data_job_report(POOL, JOB)["runs"]
    started = [r["executionId"] for r in runs if r["source"] == "API" and r["executionId"] == result]
    assert started == [result]
    assert emulator.data_job_report(POOL, JOB)["executions"] == 1


def test_a_shift_by_a_whole_page_fails_before_any_start(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one item a page, the shifted page 1 equals page 0: read as a server ignoring
    ``page``, the task fails closed before starting anything (its retry reads a stable history)."""
    from airflow_provider_celonis.exceptions import CelonisUnexpectedResponseError

    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=0.2, stale_seconds=0)
    for age in (500, 400, 300, 200, 100):
        emulator.seed_execution(POOL, JOB, "SUCCESS", age=age, source="API")
    shift_after_first_page(emulator, monkeypatch, "API")
    with pytest.raises(CelonisUnexpectedResponseError, match="repeats page 0"):
        make_op(limit=1).execute(make_context())
    assert emulator.data_job_report(POOL, JOB)["executions"] == 0


@pytest.mark.parametrize("value", [123, "123"])
def test_an_execution_id_is_the_same_id_as_a_number_or_text(value: Any) -> None:
    assert execution_id_of({"executionId": value}) == "123"
