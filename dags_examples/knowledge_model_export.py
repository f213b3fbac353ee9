"""Export Knowledge Model data to files for a warehouse, daily.

``open_orders`` pages through the ``ORDER`` record of the ``km-order-to-cash`` Knowledge Model
with the model's ``open_orders`` filter and a KPI column, into JSON Lines;
``customers_by_country`` reads two model-level fields as CSV. Files go to
``<folder>/knowledge_model/<YYYY-MM-DD>/``; the folder is the Airflow Variable
``celonis_extract_dir``, else the environment variable ``CELONIS_EXTRACT_DIR``, else
``/tmp/celonis-extracts``, read when the task runs.

Limits to plan for (docs/process-intelligence.md): 20 requests/s and 6,000 requests/day per
team, 200 fields per request, and only the first 5,000 records of a filtered or sorted table.
A cut export fails (nothing written) and names the filter or sort to split; set
``allow_cut=True`` to accept the first 5,000 records (``cut: True`` in the result). The ids
below are the emulator's; use your model's. Scope ``studio`` (or your team's spelling, via the
connection extra ``scopes``) and USE PACKAGE on the Studio package.
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_celonis.operators.knowledge_model import CelonisKnowledgeModelDataOperator

DEFAULT_DIR = "/tmp/celonis-extracts"  # noqa: S108 - a demo default; set the Variable in production


def extract_dir_from_env() -> str:
    """Called while templates render (at run time): the environment's folder or the default."""
    return os.environ.get("CELONIS_EXTRACT_DIR") or DEFAULT_DIR


FOLDER = "{{ var.value.get('celonis_extract_dir', extract_dir_from_env()) }}/knowledge_model/{{ ds }}"


@dag(
    dag_id="knowledge_model_export",
    schedule="30 5 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    user_defined_macros={"extract_dir_from_env": extract_dir_from_env},
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=10)},
    tags=["celonis", "example", "knowledge-model"],
)
def knowledge_model_export() -> None:
    open_orders = CelonisKnowledgeModelDataOperator(
        task_id="open_orders",
        knowledge_model_id="km-order-to-cash",
        record_id="ORDER",
        fields=["id", "customer", "amount", "status", "created"],
        filters=["open_orders"],
        kpis=["order_value_eur"],
        page_size=1000,
        output_path=f"{FOLDER}/open_orders.jsonl",
    )
    customers = CelonisKnowledgeModelDataOperator(
        task_id="customers_by_country",
        knowledge_model_id="km-order-to-cash",
        fields="CUSTOMER.id,CUSTOMER.country",
        page_size=500,
        output_format="csv",
        output_path=f"{FOLDER}/customers.csv",
    )

    @task
    def report(*results: dict[str, Any]) -> None:
        for result in results:
            note = " (CUT at 5,000: split the query)" if result["cut"] else ""
            print(f"DEMO: {result['records']} of {result['total']} rows -> {result['path']}{note}")

    report(open_orders.output, customers.output)


knowledge_model_export()
