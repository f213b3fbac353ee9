"""The push-then-transform example DAG: parses without I/O, runs with ``airflow dags test``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID
from airflow_provider_celonis.emulator.client import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags_examples" / "push_then_transform.py"
DAG_ID = "celonis_push_then_transform"


def test_dag_parses() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags[DAG_ID]
    assert [t.task_id for t in dag.topological_sort()][:2] == ["write_orders", "push_orders"]


def test_dag_runs_deferred_against_the_emulator(emulator: EmulatorProcess, tmp_path: Path) -> None:
    emulator.configure_data_push(queued_seconds=0.2, running_seconds=0.5)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
        "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
        "CELONIS_EXTRACT_DIR": str(tmp_path),
    }
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    run = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", DAG_ID, "2025-11-01T00:00:00+00:00"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    logs = run.stdout + run.stderr
    assert run.returncode == 0, logs[-3000:]
    assert "DEMO: pushed 5000 rows in 1 chunk(s)" in logs, logs[-3000:]
    table = emulator.push_table(DEFAULT_POOL_ID, "orders")
    assert table["row_count"] == 5000
    assert table["columns"] == ["order_id", "customer", "amount", "created_at"]
    assert emulator.push_report()["executions"] == 1
    assert (tmp_path / "data_push" / "orders.csv").exists()
