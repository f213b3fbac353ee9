"""DAGs of the distributed e2e only (linked into the stack's DAG folder next to the examples).

They differ from the examples in what the kill tests need: one retry after 2 seconds (the
examples wait 5 minutes) and outputs and sources on the stack's S3 API (moto), named by
``CELONIS_E2E_S3_DIR`` (``s3://aws_default@<bucket>``: the ``aws_default`` connection points
at moto).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator
from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

S3 = os.environ.get("CELONIS_E2E_S3_DIR", "s3://aws_default@celonis-e2e")
DATA_POOL_ID = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"  # the emulator's seeded pool
KILL_JOB_ID = "e2e-kill-data-job"
DAY = "{{ data_interval_start.strftime('%Y-%m-%d') }}"
RETRY = {"retries": 1, "retry_delay": pendulum.duration(seconds=2)}
DAILY = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
START = pendulum.datetime(2025, 1, 1, tz="UTC")


@dag(dag_id="e2e_kill_extract", schedule=DAILY, start_date=START, catchup=False, default_args=RETRY)
def e2e_kill_extract() -> None:
    """The nightly audit pull's audit_log task, writing where the S3 run of the example DAG
    writes, under ``kill/``: the retried try must produce the example run's bytes."""
    CelonisAuditLogOperator(task_id="audit_log", output_path=f"{S3}/kill/audit_log/{DAY}.jsonl")


@dag(dag_id="e2e_kill_deferred_wait", schedule=None, start_date=START, catchup=False, default_args=RETRY)
def e2e_kill_deferred_wait() -> None:
    CelonisExecuteDataJobOperator(
        task_id="run_data_job",
        data_pool_id=DATA_POOL_ID,
        data_job_id=KILL_JOB_ID,
        deferrable=True,
        poll_interval=2,
    )


@dag(dag_id="e2e_s3_push", schedule=None, start_date=START, catchup=False)
def e2e_s3_push() -> None:
    CelonisDataPushOperator(
        task_id="push_orders",
        data_pool_id=DATA_POOL_ID,
        target_table="orders_from_s3",
        source=f"{S3}/push/orders.csv",
        mode="REPLACE",
        deferrable=True,
        poll_interval=2,
    )


e2e_kill_extract()
e2e_kill_deferred_wait()
e2e_s3_push()
