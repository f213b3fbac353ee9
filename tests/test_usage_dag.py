"""The nightly example DAG: parses without I/O, has real data intervals, and runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from usage_support import read_jsonl

from airflow_provider_celonis.emulator.client import EmulatorProcess

ROOT = Path(__file__).resolve().parent.parent
DAG_FILE = ROOT / "dags_examples" / "nightly_audit_pull.py"


def test_dag_parses_with_interval_schedule_and_run_time_folder() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags.get("nightly_audit_pull")
    assert dag is not None
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert {t.task_id for t in dag.tasks} >= {"audit_log", "login_history", "studio_adoption", "team_members"}
    path = dag.get_task("audit_log").output_path  # type: ignore[attr-defined]
    assert "var.value.get('celonis_extract_dir'" in path
    assert "extract_dir_from_env()" in path
    assert "data_interval_start" in path


def test_dag_run_writes_one_file_per_api(emulator: EmulatorProcess, tmp_path: Path) -> None:
    home = tmp_path / "airflow-home"
    out = tmp_path / "extracts"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
        "CELONIS_EXTRACT_DIR": str(out),
    }
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    run = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "nightly_audit_pull", "2025-11-01T00:00:00+00:00"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    counts = {p.parent.name: len(read_jsonl(p)) for p in out.glob("*/*.jsonl")}
    assert counts == {"audit_log": 2880, "login_history": 1440, "studio_adoption": 2160, "team_members": 57}
    assert sorted(p.name for p in out.glob("*/*")) == ["2025-10-31.jsonl"] * 4
    assert "DEMO: 2880 records -> " in run.stdout + run.stderr


def test_since_last_load_example_parses_without_io() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags_examples" / "audit_since_last_load.py"))
    assert bag.import_errors == {}
    dag = bag.dags["audit_since_last_load"]
    task = dag.get_task("audit_log")
    assert task.since_last_load is True  # type: ignore[attr-defined]
    assert task.high_water_mark_variable == "celonis_audit_high_water_mark"  # type: ignore[attr-defined]
    assert task.overlap == 3600  # type: ignore[attr-defined]
    nightly = DagBag(dag_folder=str(DAG_FILE)).dags["nightly_audit_pull"]
    assert nightly.get_task("audit_log").recheck_intervals == 3  # type: ignore[attr-defined]
