"""Data-aware Celonis: a push updates an Asset, and a second DAG runs because of it.

``celonis_push_orders`` writes a CSV and pushes it into table ``orders_by_asset`` of the data
pool. ``CelonisDataPushOperator`` declares the table as its outlet Asset
``x-celonis://data-pools/<pool id>/tables/<table>``, derived from its arguments when the DAG
is parsed (no connection lookup), so its success records an event for that Asset.

``celonis_orders_consumer`` is scheduled on that Asset: Airflow runs it after each successful
push, and it lists the events that triggered it. No sensor polls Celonis, no
``TriggerDagRunOperator`` couples the two DAGs: the consumer only names the data it needs.

The ids must be literal for the Asset to be derived: a templated ``data_pool_id`` (e.g.
``"{{ params.pool }}"``) has no value at parse time, then pass ``outlets=[Asset(...)]``
yourself. ``outlets=[]`` turns the Asset off. With the extra ``[openlineage]`` both tasks also
report OpenLineage datasets (see docs/lineage.md).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator

DATA_POOL_ID = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"  # the pool the emulator seeds
TABLE = "orders_by_asset"
ORDERS = Asset(f"x-celonis://data-pools/{DATA_POOL_ID}/tables/{TABLE}")
"""The Asset the push declares: the same URI, written out, is what a consumer schedules on."""


@dag(
    dag_id="celonis_push_orders",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example", "assets"],
)
def celonis_push_orders() -> None:
    @task
    def write_orders() -> str:
        """Stands in for the upstream export."""
        import os
        import tempfile

        folder = os.environ.get("CELONIS_EXTRACT_DIR") or tempfile.mkdtemp(prefix="celonis-push-")
        os.makedirs(os.path.join(folder, "asset_push"), exist_ok=True)
        path = os.path.join(folder, "asset_push", "orders.csv")
        with open(path, "w", newline="") as handle:
            handle.write("order_id,amount\n")
            for i in range(100):
                handle.write(f"{i},{i * 3}.25\n")
        return path

    CelonisDataPushOperator(
        task_id="push_orders",
        data_pool_id=DATA_POOL_ID,
        target_table=TABLE,
        source="{{ ti.xcom_pull(task_ids='write_orders') }}",
        mode="REPLACE",
        poll_interval=2,
        timeout=pendulum.duration(hours=1),
    ).set_upstream(write_orders())


@dag(
    dag_id="celonis_orders_consumer",
    schedule=[ORDERS],
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example", "assets"],
)
def celonis_orders_consumer() -> None:
    @task
    def use_orders(triggering_asset_events: object = None) -> None:
        """Runs after each push of the table; the events say which push run produced it."""
        for asset, events in dict(triggering_asset_events or {}).items():  # type: ignore[call-overload]
            for event in events:
                print(f"DEMO: {asset} updated by {event.source_dag_id}.{event.source_task_id}")

    use_orders()


celonis_push_orders()
celonis_orders_consumer()
