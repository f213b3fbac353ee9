"""Write a CSV in Airflow, push it into a Celonis data pool table, then transform and reload.

1. ``write_orders`` writes a CSV file (to ``$CELONIS_EXTRACT_DIR``, else a temp directory);
   in a real DAG this is the upstream export, possibly to object storage (``s3://...`` works
   as ``source`` too, through an Airflow ObjectStoragePath).
2. ``push_orders`` streams it into table ``orders`` with the Data Push API (REPLACE): large
   files are split into chunks of at most 1 GB, the execute call is never sent twice, and
   the task waits in the triggerer until the push job is DONE.
3. The data job transforms the new rows; the data model reload makes them visible.

The default ids are those the emulator seeds, so ``make demo`` runs this DAG as it is. The
OAuth client needs scope ``integration.data-pools`` (or ``integration.data-pools:data-push``
for the push, set in the connection extra ``scopes``), the pool's "Data Push API"
permission, and view and manage (Edit) permission on the data pool.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator

DATA_POOL_ID = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"
DATA_JOB_ID = "7a2d4f6e-9c1b-4d3a-b5e8-6f0a2c4d8e02"
DATA_MODEL_ID = "3c9e7b1d-5a2f-4c8e-9d6b-1e4f7a0c2b03"


@dag(
    dag_id="celonis_push_then_transform",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example"],
    params={
        "data_pool_id": Param(DATA_POOL_ID, type="string"),
        "data_job_id": Param(DATA_JOB_ID, type="string"),
        "data_model_id": Param(DATA_MODEL_ID, type="string"),
        "rows": Param(5_000, type="integer", minimum=1),
    },
)
def celonis_push_then_transform() -> None:
    @task
    def write_orders(params: dict[str, object] | None = None) -> str:
        """Stands in for the upstream export: a CSV with a header and quoted text."""
        import os
        import tempfile

        rows = int((params or {}).get("rows", 5_000))  # type: ignore[call-overload]
        folder = os.environ.get("CELONIS_EXTRACT_DIR") or tempfile.mkdtemp(prefix="celonis-push-")
        os.makedirs(os.path.join(folder, "data_push"), exist_ok=True)
        path = os.path.join(folder, "data_push", "orders.csv")
        with open(path, "w", newline="") as handle:
            handle.write("order_id,customer,amount,created_at\n")
            for i in range(rows):
                handle.write(f'{i},"Customer {i % 97}, Ltd.",{(i * 37) % 1000}.50,2025-11-01T00:00:00\n')
        print(f"DEMO: wrote {rows} orders to {path}")
        return path

    push_orders = CelonisDataPushOperator(
        task_id="push_orders",
        data_pool_id="{{ params.data_pool_id }}",
        target_table="orders",
        source="{{ ti.xcom_pull(task_ids='write_orders') }}",
        mode="REPLACE",
        deferrable=True,
        poll_interval=10,
        timeout=pendulum.duration(hours=1),
    )

    run_data_job = CelonisExecuteDataJobOperator(
        task_id="run_data_job",
        data_pool_id="{{ params.data_pool_id }}",
        data_job_id="{{ params.data_job_id }}",
        mode="DELTA",
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
    def report(push: dict[str, object], execution_id: str) -> None:
        print(
            f"DEMO: pushed {push['rows']} rows in {push['chunks']} chunk(s) ({push['bytes']} bytes, job "
            f"{push['job_id']}, {push['status']}); data job execution {execution_id} succeeded"
        )

    write_orders() >> push_orders >> run_data_job >> reload_data_model
    report(push_orders.output, run_data_job.output)  # type: ignore[arg-type]


celonis_push_then_transform()
