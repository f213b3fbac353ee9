"""The nightly example DAG: parses without I/O, has real data intervals, and runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from usage_support import read_jsonl

from airflow_provider_celonis.emulator.client import EmulatorProcess

ROOT = Path(__file__).resolve().parents[2]
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
    # The re-check rendered the path of each earlier day (Variable, user macro and all) and,
    # finding no file there, created none.
    recheck = f"{out}/audit_log/2025-10-28.jsonl"
    assert "'intervals_checked': 0" in run.stdout and recheck in run.stdout, run.stdout[-2000:]


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


XCOM_DAG = """
from datetime import timedelta
import pendulum
from airflow.sdk import dag
from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

@dag(dag_id="hwm_xcom", schedule=timedelta(hours=1), start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
     catchup=False)
def hwm_xcom():
    CelonisAuditLogOperator(
        task_id="audit_log",
        output_path="{{ var.value.out_dir }}/{{ ts_nodash }}.jsonl",
        since_last_load=True,
        overlap=600,
        start="{{ data_interval_start.isoformat() }}",
    )

hwm_xcom()
"""


def test_since_last_load_state_survives_real_airflow_runs(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """Three ``airflow dags test`` runs in one metadata database: the mark travels through real
    XCom (``include_prior_dates``) and through a real Variable, and no event is written twice."""
    import datetime as dt
    import json

    from cryptography.fernet import Fernet

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "hwm_xcom.py").write_text(XCOM_DAG)
    (dags / "audit_since_last_load.py").write_text(
        (ROOT / "dags_examples" / "audit_since_last_load.py").read_text()
    )
    out = tmp_path / "out"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
        "AIRFLOW_VAR_OUT_DIR": str(out / "xcom"),
        "CELONIS_EXTRACT_DIR": str(out / "variable"),
        # One key for every process: without it each run encrypts the Variable with its own.
        "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
    }
    emulator.configure_usage(audit_per_hour=3600)
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    hour = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    for k in range(3):
        when = (hour - dt.timedelta(hours=2 - k)).isoformat()
        for dag_id in ("hwm_xcom", "audit_since_last_load"):
            run = subprocess.run(
                [*airflow, "dags", "test", dag_id, when], env=env, capture_output=True, text=True, timeout=300
            )
            errors = [line for line in run.stdout.splitlines() if "rror" in line]
            assert run.returncode == 0, "\n".join(errors[-15:])[-4000:]
    for folder in (out / "xcom", out / "variable" / "audit_log_incremental"):
        files = sorted(folder.glob("*.jsonl"))
        assert len(files) == 3, files
        records = [r for f in files for r in read_jsonl(f)]
        stamps = sorted(r["timestamp"] for r in records)
        assert len({json.dumps(r, sort_keys=True) for r in records}) == len(records) > 0  # none twice
        # Every event from the first one written to the last one is there: no gap between runs.
        assert len(records) == emulator.usage_count("audit", stamps[0], stamps[-1]) + stamps.count(stamps[-1])
    variable = subprocess.run(
        [*airflow, "variables", "get", "celonis_audit_high_water_mark"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert json.loads(variable.stdout.strip().splitlines()[-1])["mark"] is not None


SETTLE_DAG = """
import os
import pendulum
from airflow.sdk import dag
from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

START = pendulum.datetime(2025, 1, 1, tz="UTC")

@dag(dag_id="settle_deferred", schedule=None, start_date=START, catchup=False)
def settle_deferred():
    CelonisAuditLogOperator(
        task_id="audit_log",
        output_path=os.environ["SETTLE_OUT"],
        start=os.environ["SETTLE_START"],
        end=os.environ["SETTLE_END"],
        settle_period=20,
        deferrable=True,
    )

settle_deferred()
"""


def test_deferred_settle_resumes_in_a_real_run(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """A window that ended a moment ago: the task defers on DateTimeTrigger, resumes in
    execute_settled, and then finds the events that Celonis showed only after the window ended."""
    import datetime as dt

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "settle_deferred.py").write_text(SETTLE_DAG)
    out = tmp_path / "audit.jsonl"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
        "SETTLE_OUT": str(out),
    }
    emulator.configure_usage(audit_per_hour=36_000, burst=1, visibility_delay=5)
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    start, end = (now - dt.timedelta(seconds=60)).isoformat(), now.isoformat()
    env.update(SETTLE_START=start, SETTLE_END=end)
    run = subprocess.run(
        [*airflow, "dags", "test", "settle_deferred"], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-3000:]
    logs = run.stdout + "".join(p.read_text() for p in (tmp_path / "airflow-home").rglob("*.log"))
    assert "deferred, no worker slot held" in logs, logs[-3000:]
    assert len(read_jsonl(out)) == emulator.usage_count("audit", start, end) == 600
