"""The SCIM and Knowledge Model example DAGs: parse without I/O, then run with ``airflow dags test``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_celonis.emulator.client import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
DAGS = {
    "access_review_and_provisioning": ROOT / "dags_examples" / "access_review_and_provisioning.py",
    "knowledge_model_export": ROOT / "dags_examples" / "knowledge_model_export.py",
}


def test_dags_parse_and_resolve_the_folder_at_run_time() -> None:
    from airflow.dag_processing.dagbag import DagBag

    for dag_id, path in DAGS.items():
        bag = DagBag(dag_folder=str(path))
        assert bag.import_errors == {}
        dag = bag.dags[dag_id]
        paths = [getattr(t, "output_path", None) for t in dag.tasks]
        assert any(p and "extract_dir_from_env()" in p and "{{ ds }}" in p for p in paths), paths
    sync = (
        DagBag(dag_folder=str(DAGS["access_review_and_provisioning"]))
        .dags["access_review_and_provisioning"]
        .get_task("provision")
    )
    assert sync.is_dry_run is True  # type: ignore[attr-defined]


def test_dags_run_against_the_emulator(emulator: EmulatorProcess, tmp_path: Path) -> None:
    out = tmp_path / "extracts"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags_examples"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # One key for every process: the DAG folder holds a DAG with an AssetWatcher whose trigger
        # kwargs Airflow stores encrypted, and each process would otherwise make up its own key.
        "AIRFLOW__CORE__FERNET_KEY": "3rqDcNVLsHq_NDEaz9DQ3rbgw2OsRhEjRQx0-0ALcoM=",
        "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
        "CELONIS_EXTRACT_DIR": str(out),
    }
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    logs = ""
    for dag_id in DAGS:
        run = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id, "2025-11-01T00:00:00+00:00"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        logs += run.stdout + run.stderr
    review = out / "scim" / "2025-11-01" / "access_review.jsonl"
    assert len(review.read_text().splitlines()) == 24 + 4
    assert "DEMO: SCIM plan (dry run=True): create 1, update 1, deactivate 1, unchanged 19" in logs
    assert all(
        u["active"] or u["externalId"] in {"hr-1007", "hr-1015", "hr-1023"}
        for u in emulator.scim_state()["users"]
    )
    km = out / "knowledge_model" / "2025-11-01"
    orders = [json.loads(line) for line in (km / "open_orders.jsonl").read_text().splitlines()]
    assert len(orders) == 3000 and set(orders[0]) == {
        "id",
        "customer",
        "amount",
        "status",
        "created",
        "order_value_eur",
    }
    assert len(list(csv.DictReader((km / "customers.csv").open()))) == 250
