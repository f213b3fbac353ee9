"""Wait for the data job run a Celonis schedule started, then for the data model load, then report.

Celonis schedules the data job itself (nightly, say); this DAG does not start it. The
``CelonisDataJobSensor`` waits for the latest execution that started at or after
``started_after`` (here the start of the run's data interval) and succeeds when it succeeds:
an older execution never counts, however fresh its status, and FAIL or CANCEL fails the task
with Celonis's error lines. ``CelonisDataModelLoadSensor`` then waits the same way for the data
model load. Both wait in the triggerer (``deferrable=True``) and never start or cancel anything.

Both bounds are the interval's start, so the load sensor accepts any load that started since
then, also one that started before the job ended (and so may not hold the job's output). Where
the model must hold it, give the load sensor a later bound (the job execution's end date, read
in a task between the two) or have Celonis start the load as the job's last step.

To run the DAG on every finished execution instead of on a timetable, schedule it on a Celonis
event (see ``on_celonis_data_job_success.py``).

``make demo`` has a Celonis schedule start the job and another client start a load in the
emulator just before it runs this DAG. The ids are the emulator's; the OAuth client needs scope
``integration.data-pools`` and view permission on the data pool.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_provider_celonis.sensors.data_jobs import CelonisDataJobSensor
from airflow_provider_celonis.sensors.data_models import CelonisDataModelLoadSensor

DATA_POOL_ID = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"
DATA_JOB_ID = "7a2d4f6e-9c1b-4d3a-b5e8-6f0a2c4d8e02"
DATA_MODEL_ID = "3c9e7b1d-5a2f-4c8e-9d6b-1e4f7a0c2b03"


@dag(
    dag_id="wait_for_scheduled_celonis_runs",
    schedule="@daily",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example", "sensors"],
)
def wait_for_scheduled_celonis_runs() -> None:
    job_done = CelonisDataJobSensor(
        task_id="wait_for_scheduled_data_job",
        data_pool_id=DATA_POOL_ID,
        data_job_id=DATA_JOB_ID,
        started_after="{{ data_interval_start }}",
        deferrable=True,
        poke_interval=2,
        timeout=pendulum.duration(hours=3),
    )
    model_loaded = CelonisDataModelLoadSensor(
        task_id="wait_for_data_model_load",
        data_pool_id=DATA_POOL_ID,
        data_model_id=DATA_MODEL_ID,
        started_after="{{ data_interval_start }}",
        deferrable=True,
        poke_interval=2,
        timeout=pendulum.duration(hours=1),
    )

    @task
    def report(execution_id: str, data_load_id: str) -> None:
        print(f"DEMO: the scheduled execution {execution_id} and the load {data_load_id} finished")

    job_done >> model_loaded
    report(job_done.output, model_loaded.output)


wait_for_scheduled_celonis_runs()
