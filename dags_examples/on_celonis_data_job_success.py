"""Run a DAG each time a Celonis data job execution succeeds, whoever started it.

The DAG is scheduled on an asset whose ``AssetWatcher`` runs
``CelonisDataJobExecutionEventTrigger`` in the triggerer (Airflow 3 event-driven scheduling):
it polls the job's execution history (GET only) and fires once per execution that ends
``SUCCESS`` after the watcher started, whether a Celonis schedule, the UI or another DAG
started it. Each fired execution makes one asset event; events that arrive close together may
be consumed by one run of this DAG, so the task reads every event. An event's ``payload`` holds
the ids, status and times of the execution (no secret).

Once per execution, across triggerer restarts: the executions already handled are kept in the
Airflow Variable ``celonis_event_cursor__<hash>`` (Airflow 3.1+; on 3.0 in memory, so
executions that end while the triggerer is down are missed); executions that ended before the
watcher first ran never fire. See docs/events.md.

Triggered by hand (or by ``make demo``'s ``airflow dags test``), the run has no asset event
and says so. The ids are the emulator's; ``CELONIS_EVENT_POLL_INTERVAL`` (seconds, read when
the file is parsed, default 60) sets how often Celonis is asked. The OAuth client needs scope
``integration.data-pools`` and view permission on the data pool.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import Asset, AssetWatcher, dag, task

from airflow_provider_celonis.triggers.events import CelonisDataJobExecutionEventTrigger

DATA_POOL_ID = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"
DATA_JOB_ID = "7a2d4f6e-9c1b-4d3a-b5e8-6f0a2c4d8e02"
POLL_INTERVAL = float(os.environ.get("CELONIS_EVENT_POLL_INTERVAL", "60"))

# A name only: a URI with a scheme makes Airflow load every provider's URI handlers at parse time.
JOB_SUCCEEDED = Asset(
    "celonis_data_job_succeeded",
    watchers=[
        AssetWatcher(
            name="celonis_data_job_succeeded",
            trigger=CelonisDataJobExecutionEventTrigger(
                data_pool_id=DATA_POOL_ID,
                data_job_id=DATA_JOB_ID,
                on=["SUCCESS"],
                poll_interval=POLL_INTERVAL,
            ),
        )
    ],
)


@dag(
    dag_id="on_celonis_data_job_success",
    schedule=[JOB_SUCCEEDED],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example", "events"],
)
def on_celonis_data_job_success() -> None:
    @task
    def use_the_new_data(**context: Any) -> list[str]:
        """Stands in for the work that needs the job's output (a report, an export...)."""
        events = context.get("triggering_asset_events") or {}
        executions = []
        for asset_events in events.values():
            for event in asset_events:
                payload = (event.extra or {}).get("payload") or {}
                executions.append(str(payload.get("execution_id")))
                print(
                    f"DEMO: data job execution {payload.get('execution_id')} ended "
                    f"{payload.get('status')} (schedule {payload.get('scheduling_id')})"
                )
        if not executions:
            print("DEMO: run by hand, no Celonis event; an asset event schedules this DAG")
        return executions

    use_the_new_data()


on_celonis_data_job_success()
