"""Review attacks on the deferred resume: an event about another job, model or pool.

Airflow hands the trigger's event back from the metadata database. An event naming another
pool or job (an altered row, a trigger built for another task) must never become this task's
success: the resume compares the event's ids with the task's own and fails closed.
"""

from __future__ import annotations

from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.exceptions import CelonisJobFailedError
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from airflow_provider_celonis.sensors.data_jobs import CelonisDataJobSensor
from airflow_provider_celonis.sensors.data_models import CelonisDataModelLoadSensor

JOB_EVENT = {
    "status": "success",
    "message": "the data job execution succeeded",
    "data_pool_id": "pool-a",
    "data_job_id": "job-a",
    "execution_id": "exec-1",
    "execution_status": "SUCCESS",
}
LOAD_EVENT = {
    "status": "success",
    "message": "the data model load succeeded",
    "data_pool_id": "pool-a",
    "data_model_id": "model-a",
    "data_load_id": "load-1",
    "load_status": "SUCCESS",
}


def job_op(**ids: str) -> CelonisExecuteDataJobOperator:
    return CelonisExecuteDataJobOperator(
        task_id="t", **{"data_pool_id": "pool-a", "data_job_id": "job-a", **ids}, deferrable=True
    )


def model_op(**ids: str) -> CelonisReloadDataModelOperator:
    return CelonisReloadDataModelOperator(
        task_id="t", **{"data_pool_id": "pool-a", "data_model_id": "model-a", **ids}, deferrable=True
    )


def test_an_event_of_this_job_is_accepted(emulator: Any) -> None:
    assert job_op().execute_complete(make_context(), dict(JOB_EVENT)) == "exec-1"
    assert model_op().execute_complete(make_context(), dict(LOAD_EVENT)) == "load-1"


@pytest.mark.parametrize("ids", [{"data_job_id": "job-b"}, {"data_pool_id": "pool-b"}])
def test_a_job_event_about_another_job_fails_closed(emulator: Any, ids: dict[str, str]) -> None:
    with pytest.raises(CelonisJobFailedError, match="another"):
        job_op(**ids).execute_complete(make_context(), dict(JOB_EVENT))
    blocker = {
        "status": "success",
        "message": "idle",
        "role": "blocker",
        **{k: JOB_EVENT[k] for k in ("data_pool_id", "data_job_id")},
    }
    with pytest.raises(CelonisJobFailedError, match="another"):
        job_op(**ids).execute_after_blocker(make_context(), blocker)


@pytest.mark.parametrize("ids", [{"data_model_id": "model-b"}, {"data_pool_id": "pool-b"}])
def test_a_load_event_about_another_model_fails_closed(emulator: Any, ids: dict[str, str]) -> None:
    with pytest.raises(CelonisJobFailedError, match="another"):
        model_op(**ids).execute_complete(make_context(), dict(LOAD_EVENT))


def test_sensors_refuse_an_event_about_another_object(emulator: Any) -> None:
    job = CelonisDataJobSensor(task_id="s", data_pool_id="pool-a", data_job_id="job-b", deferrable=True)
    with pytest.raises(CelonisJobFailedError, match="another"):
        job.execute_complete(make_context(), dict(JOB_EVENT))
    model = CelonisDataModelLoadSensor(
        task_id="s", data_pool_id="pool-a", data_model_id="model-b", deferrable=True
    )
    with pytest.raises(CelonisJobFailedError, match="another"):
        model.execute_complete(make_context(), dict(LOAD_EVENT))
