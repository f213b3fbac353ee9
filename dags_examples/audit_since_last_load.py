"""Audit log "since last load": every run pulls what arrived since the previous run's last event.

The pattern of Celonis's own audit log page (its ``LastUpdated`` parameter), for DAGs that are
not daily interval loads: hourly, every few minutes, or triggered by hand. Each run starts at
the previous successful run's high-water mark (its newest event timestamp) minus ``overlap``,
drops the records of that overlap the previous runs already wrote, and writes the rest to a
file of its own. Over time the files hold every event exactly once, as long as ``overlap`` is
longer than the time Celonis needs to make an event queryable.

The mark is kept in the Airflow Variable ``celonis_audit_high_water_mark`` (delete it to start
again from ``start``). Without ``high_water_mark_variable`` it is kept in this task's XCom.
Files go to ``<folder>/audit_log_incremental/<run id>.jsonl`` (folder as in
``nightly_audit_pull.py``). See docs/usage-extracts.md, "Intervals or high-water mark".
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import dag

from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

DEFAULT_DIR = "/tmp/celonis-extracts"  # noqa: S108 - a demo default; set the Variable in production


def extract_dir_from_env() -> str:
    """Called while templates render (at run time): the environment's folder or the default."""
    return os.environ.get("CELONIS_EXTRACT_DIR") or DEFAULT_DIR


FOLDER = "{{ var.value.get('celonis_extract_dir', extract_dir_from_env()) }}"
RUN = "{{ run_id | replace(':', '') | replace('+', '_') }}"


@dag(
    dag_id="audit_since_last_load",
    schedule=timedelta(hours=1),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # runs must see each other's mark: one at a time
    user_defined_macros={"extract_dir_from_env": extract_dir_from_env},
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    tags=["celonis", "example", "usage"],
)
def audit_since_last_load() -> None:
    CelonisAuditLogOperator(
        task_id="audit_log",
        output_path=f"{FOLDER}/audit_log_incremental/{RUN}.jsonl",
        since_last_load=True,
        high_water_mark_variable="celonis_audit_high_water_mark",
        overlap=timedelta(hours=1),  # longer than Celonis's ingestion lag
        # The first run (no mark yet) starts here; later runs start at the mark minus the overlap.
        start="{{ data_interval_start.isoformat() }}",
    )


audit_since_last_load()
