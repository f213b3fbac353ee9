"""Review attacks on the start: a timeout that passes while a lost start is being reconciled.

The start POST's answer is lost (a 500 after which Celonis acts a moment later) and the task's
``timeout`` passes before ``start_grace_period`` did. Nothing then proves that Celonis did not
act, so the start must not be sent again; the task fails with a timeout that says so.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import CelonisJobTimeoutError
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from tests.operators.test_data_jobs_fault_matrix import HOOK

LATE = 1.2
"""Celonis acts this long after the lost answer: after the task's timeout (0.8 s)."""


def late_fault(path: str) -> dict[str, Any]:
    return {"path": path + "$", "method": "POST", "times": 1, "status": 500, "process": True, "late": LATE}


def test_job_timeout_during_a_lost_start_never_starts_again(emulator: Any) -> None:
    emulator.configure_data_job(POOL, JOB, queued_seconds=0.1, running_seconds=5, stale_seconds=0.0)
    path = f"/integration/api/v2/data-pools/{POOL}/data-jobs/{JOB}/execute"
    emulator.add_faults([late_fault(path)])
    op = CelonisExecuteDataJobOperator(
        task_id="run_job",
        data_pool_id=POOL,
        data_job_id=JOB,
        poll_interval=0.05,
        timeout=0.8,
        start_grace_period=5,
        hook_params=HOOK,
        deferrable=False,
    )
    with pytest.raises(CelonisJobTimeoutError, match="answer was lost"):
        op.execute(make_context())
    time.sleep(LATE + 0.3)  # the late start lands
    assert emulator.requests_to("POST", path) == 1, "the start was sent again before the grace ended"
    runs = [r for r in emulator.data_job_report(POOL, JOB)["runs"] if r["source"] == "API"]
    assert len(runs) <= 1


def test_model_timeout_during_a_lost_request_never_requests_again(emulator: Any) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=5, stale_seconds=0.0)
    path = f"/integration/api/v1/data-pools/{POOL}/data-models/{MODEL}/load"
    emulator.add_faults([late_fault(path)])
    op = CelonisReloadDataModelOperator(
        task_id="reload",
        data_pool_id=POOL,
        data_model_id=MODEL,
        poll_interval=0.05,
        timeout=0.8,
        start_grace_period=5,
        hook_params=HOOK,
        deferrable=False,
    )
    with pytest.raises(CelonisJobTimeoutError, match="answer was lost"):
        op.execute(make_context())
    time.sleep(LATE + 0.3)
    assert emulator.requests_to("POST", path) == 1
    assert len(emulator.data_model_report(POOL, MODEL)["loads"]) <= 1
