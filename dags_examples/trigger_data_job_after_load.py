"""After upstream data lands, run a Celonis data job (DELTA), then reload the process data model.

The data job waits in the triggerer (``deferrable=True``), so no worker slot is held while
Celonis works. If the job is already running when the task starts (a Celonis schedule, an
earlier try), the task waits for that run to end and then starts its own, so the job runs on
the data ``load_upstream_data`` just wrote (``if_running="wait"``, the default). The task
reports only the execution it started, identified by its new id; a lost answer to the start
is reconciled, never sent blindly again. If ``timeout`` passes, the execution is cancelled in
Celonis before the task fails.

The default ids are the data pool, job and data model the emulator seeds, so ``make demo``
runs this DAG out of the box; trigger it with other ``params`` (or change the defaults) to
point at your team. The OAuth client needs scope ``integration.data-pools`` and view and
manage (Edit) permission on the data pool.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator

DATA_POOL_ID = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"
DATA_JOB_ID = "7a2d4f6e-9c1b-4d3a-b5e8-6f0a2c4d8e02"
DATA_MODEL_ID = "3c9e7b1d-5a2f-4c8e-9d6b-1e4f7a0c2b03"


@dag(
    dag_id="celonis_trigger_data_job_after_load",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example"],
    params={
        "data_pool_id": Param(DATA_POOL_ID, type="string"),
        "data_job_id": Param(DATA_JOB_ID, type="string"),
        "data_model_id": Param(DATA_MODEL_ID, type="string"),
    },
)
def celonis_trigger_data_job_after_load() -> None:
    @task
    def load_upstream_data() -> int:
        """Stands in for the real upstream load (files to the source system, a Data Push...)."""
        rows = 1_000
        print(f"DEMO: upstream load wrote {rows} rows")
        return rows

    run_data_job = CelonisExecuteDataJobOperator(
        task_id="run_data_job",
        data_pool_id="{{ params.data_pool_id }}",
        data_job_id="{{ params.data_job_id }}",
        mode="DELTA",
        if_running="wait",  # the default, spelled out: a run already in progress ends first
        deferrable=True,
        poll_interval=10,
        timeout=pendulum.duration(hours=2),
    )

    reload_data_model = CelonisReloadDataModelOperator(
        task_id="reload_data_model",
        data_pool_id="{{ params.data_pool_id }}",
        data_model_id="{{ params.data_model_id }}",
        full_reload=False,
        deferrable=True,
        poll_interval=10,
        timeout=pendulum.duration(hours=1),
    )

    @task
    def report(execution_id: str, data_load_id: str) -> None:
        print(f"DEMO: data job execution {execution_id} succeeded; data model load {data_load_id} finished")

    load_upstream_data() >> run_data_job >> reload_data_model
    report(run_data_job.output, reload_data_model.output)


celonis_trigger_data_job_after_load()
