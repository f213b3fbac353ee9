"""Manage a Process Intelligence event subscription, and keep the events it failed to deliver.

``subscribe`` creates a subscription that pushes every "late order" of the Knowledge Model to an
HTTPS endpoint of the ERP; ``pause`` and ``resume_from_latest`` show a maintenance window of the
endpoint (events raised meanwhile are skipped, not delivered late); ``unsubscribe`` deletes it,
whatever happened in between, unless ``subscribe`` created nothing (then it is skipped).
``save_failed_events`` reads the failed events of an existing subscription into a JSON Lines
file (reading consumes them in Celonis, so every page read is written; see
docs/process-intelligence.md).

Headers are allow-listed and masked in the logs; keep a token in a connection and template it
in, e.g. ``{"Authorization": "Bearer {{ conn.erp_webhook.password }}"}``. The ids are the
emulator's; the OAuth client needs scope ``intelligence.subscriptions:manage``. Files go to
``<folder>/failed_events/<YYYY-MM-DD>.jsonl``; the folder is the Variable ``celonis_extract_dir``,
else the environment variable ``CELONIS_EXTRACT_DIR``, else ``/tmp/celonis-extracts``.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_celonis.operators.intelligence import (
    CelonisEventSubscriptionOperator,
    CelonisSubscriptionFailedEventsOperator,
)

KNOWLEDGE_MODEL_ID = "km-order-to-cash"
TRIGGER_ID = "trg-late-orders"
FAILING_SUBSCRIPTION_ID = "0b7e5a52-5c1a-4e55-9a1e-000000000001"
DEFAULT_DIR = "/tmp/celonis-extracts"  # noqa: S108 - a demo default; set the Variable in production
NEW_ID = "{{ ti.xcom_pull(task_ids='subscribe') }}"


def extract_dir_from_env() -> str:
    """Called while templates render (at run time): the environment's folder or the default."""
    return os.environ.get("CELONIS_EXTRACT_DIR") or DEFAULT_DIR


@dag(
    dag_id="celonis_event_subscription_lifecycle",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example", "process-intelligence"],
    user_defined_macros={"extract_dir_from_env": extract_dir_from_env},
)
def celonis_event_subscription_lifecycle() -> None:
    subscribe = CelonisEventSubscriptionOperator(
        task_id="subscribe",
        action="create",
        knowledge_model_id=KNOWLEDGE_MODEL_ID,
        trigger_id=TRIGGER_ID,
        name="late-orders-to-erp-{{ ds_nodash }}",
        callback_uri="https://erp.example.com/celonis/late-orders",
        callback_headers={"Content-Type": "application/json"},
    )
    pause = CelonisEventSubscriptionOperator(task_id="pause", action="pause", subscription_id=NEW_ID)
    resume = CelonisEventSubscriptionOperator(
        task_id="resume_from_latest", action="resume_from_latest", subscription_id=NEW_ID
    )
    unsubscribe = CelonisEventSubscriptionOperator(
        task_id="unsubscribe", action="delete", subscription_id=NEW_ID
    )
    save_failed = CelonisSubscriptionFailedEventsOperator(
        task_id="save_failed_events",
        subscription_id=FAILING_SUBSCRIPTION_ID,
        output_path="{{ var.value.get('celonis_extract_dir', extract_dir_from_env()) }}"
        "/failed_events/{{ ds }}.jsonl",
    )

    @task.short_circuit(trigger_rule="all_done")
    def subscription_created(**context: Any) -> bool:
        """Clean up only what exists: when ``subscribe`` failed there is no id, and ``unsubscribe``
        is skipped rather than failing on a delete of the subscription "None"."""
        return bool(context["ti"].xcom_pull(task_ids="subscribe"))

    @task
    def report(saved: dict[str, Any]) -> None:
        print(f"DEMO: {saved['records']} failed events saved to {saved['path']}")

    subscribe >> pause >> resume >> subscription_created() >> unsubscribe
    report(save_failed.output)


celonis_event_subscription_lifecycle()
