"""The fault matrix of docs/fault-matrix.md: every non-idempotent start call x fault position x fault kind.

Each cell runs the operator against the emulator over real HTTP with one fault on the start
POST and checks the promise: exactly one run started, and the task reports that run (no
duplicate, no false success). Positions:

* ``before``: the fault answers and Celonis never acts; the task reads the runs back, sees
  none within the grace, and sends the start once more.
* ``after``: Celonis acted, then the answer was replaced by the fault; the read-back finds the
  new run and adopts it.
* ``late``: the fault reaches the client at once and Celonis acts a moment later (a proxy gave
  up on a request still queued upstream); the read-back keeps looking for the grace and adopts it.
"""

from __future__ import annotations

from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator

KINDS = ["500", "502", "503", "504", "drop", "timeout"]
POSITIONS = ["before", "after", "late"]
HOOK = {"min_wait": 0.01, "max_wait": 0.05, "max_attempts": 3, "timeout": 0.6}
"""A read timeout shorter than the ``timeout`` fault's stall."""
LATE = 0.4
GRACE = 1.5


def fault(path: str, kind: str, position: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"path": path, "method": "POST", "times": 1}
    if kind == "drop":
        rule["kind"] = "drop"
    elif kind == "timeout":
        rule.update(kind="timeout", delay=2.0)
    else:
        rule["status"] = int(kind)
    if position != "before":
        rule["process"] = True
    if position == "late":
        rule["late"] = LATE
    return rule


def expected_posts(position: str) -> int:
    return 2 if position == "before" else 1  # sent again only when Celonis provably did not act


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("position", POSITIONS)
def test_data_job_execute(emulator: Any, position: str, kind: str) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=0.2, stale_seconds=0.0)
    path = f"/integration/api/v2/data-pools/{POOL}/data-jobs/{JOB}/execute"
    emulator.add_faults([fault(path + "$", kind, position)])
    op = CelonisExecuteDataJobOperator(
        task_id="run_job",
        data_pool_id=POOL,
        data_job_id=JOB,
        poll_interval=0.05,
        timeout=20,
        start_grace_period=GRACE,
        hook_params=HOOK,
        deferrable=False,
    )
    result = op.execute(make_context())
    report = emulator.data_job_report(POOL, JOB)
    ours = [r for r in report["runs"] if r["source"] == "API"]
    assert len(ours) == 1, ours  # zero duplicates
    assert result == ours[0]["executionId"] and ours[0]["status"] == "SUCCESS"  # zero false successes
    assert emulator.requests_to("POST", path) == expected_posts(position)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("position", POSITIONS)
def test_data_model_load(emulator: Any, position: str, kind: str) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.3, stale_seconds=0.0)
    path = f"/integration/api/v1/data-pools/{POOL}/data-models/{MODEL}/load"
    emulator.add_faults([fault(path + "$", kind, position)])
    op = CelonisReloadDataModelOperator(
        task_id="reload",
        data_pool_id=POOL,
        data_model_id=MODEL,
        poll_interval=0.05,
        timeout=20,
        start_grace_period=GRACE,
        hook_params=HOOK,
        deferrable=False,
    )
    result = op.execute(make_context())
    loads = emulator.data_model_report(POOL, MODEL)["loads"]
    assert len(loads) == 1, loads
    assert result == loads[0]["dataLoadId"] and loads[0]["loadStatus"] == "SUCCESS"
    assert emulator.requests_to("POST", path) == expected_posts(position)


def test_celonis_acting_after_the_grace_still_gives_one_run(emulator: Any) -> None:
    """Celonis acts later than start_grace_period: the task has started again by then, so the
    late start finds a run in progress and is refused (the emulator's default, a [guess] about
    Celonis): one run, and the task reports it. With a Celonis that queued it instead, two new
    ids would show and the task would fail closed naming both (test_data_jobs_identity)."""
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=2.0, stale_seconds=0.0)
    path = f"/integration/api/v2/data-pools/{POOL}/data-jobs/{JOB}/execute"
    emulator.add_faults([fault(path + "$", "503", "late") | {"late": 1.2}])
    op = CelonisExecuteDataJobOperator(
        task_id="run_job",
        data_pool_id=POOL,
        data_job_id=JOB,
        poll_interval=0.05,
        timeout=20,
        start_grace_period=0.3,
        hook_params=HOOK,
        deferrable=False,
    )
    result = op.execute(make_context())
    report = emulator.data_job_report(POOL, JOB)
    ours = [r for r in report["runs"] if r["source"] == "API"]
    assert [r["executionId"] for r in ours] == [result]
    assert emulator.requests_to("POST", path) == 2
    assert report["refused"] == 1  # the late action


def test_the_docs_name_a_test_for_every_cell_and_only_those() -> None:
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "fault-matrix.md").read_text()
    named = set(re.findall(r"`(test_data_(?:job_execute|model_load))\[(\w+)-(\w+)\]`", text))
    cells = {
        (test, p, k)
        for test in ("test_data_job_execute", "test_data_model_load")
        for p in POSITIONS
        for k in KINDS
    }
    assert named == cells
