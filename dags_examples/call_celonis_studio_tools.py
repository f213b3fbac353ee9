"""Call tools of a Celonis Studio asset (its MCP server) from a DAG.

``search_customers`` runs the ``search-data`` tool, which only reads, so it is marked
``idempotent=True`` and the hook may retry it after a 5xx or a dropped connection;
``open_orders`` runs ``load-data`` with paging arguments. A tool that changes something must
stay ``idempotent=False`` (the default): after an ambiguous failure it is not sent again. The
results are in XCom.

[guess] The request body is undocumented: the arguments are sent as the JSON body; set
``arguments_key="arguments"`` if your tools expect ``{"arguments": {...}}``. The ids are the
emulator's; the OAuth client needs scope ``intelligence.tools:execute``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_celonis.operators.intelligence import CelonisToolOperator

ASSET_ID = "asset-order-insights"


@dag(
    dag_id="call_celonis_studio_tools",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example", "process-intelligence"],
)
def call_celonis_studio_tools() -> None:
    search = CelonisToolOperator(
        task_id="search_customers",
        asset_id=ASSET_ID,
        tool_id="search-data",
        arguments={"query": "Customer 01"},
        idempotent=True,
    )
    orders = CelonisToolOperator(
        task_id="open_orders",
        asset_id=ASSET_ID,
        tool_id="load-data",
        arguments={"status": "OPEN", "page": 0, "page_size": 5},
        idempotent=True,
    )

    @task
    def report(found: Any, page: dict[str, Any]) -> None:
        print(f"DEMO: {found} {len(page['data_frame_content']['data'])} of {page['total']} open orders read")

    report(search.output, orders.output)


call_celonis_studio_tools()
