"""The run ledger's store on a real Airflow: ``airflow dags test`` runs a task that writes,
reads, pins and deletes its ledger entry through ``airflow.sdk.Variable`` (the Execution
API and the metadata database), with the task instance's own ids. The other ledger tests
stand a JSON file in for the Variables table; this one proves the real calls behave alike."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

DAG = textwrap.dedent(
    """
    import logging
    import pendulum
    from airflow.sdk import dag, task

    @dag(schedule=None, start_date=pendulum.datetime(2025, 1, 1), catchup=False)
    def celonis_ledger_store():
        @task
        def check(**context):
            from airflow_provider_celonis.waiting.run_ledger import RunLedger

            ledger = RunLedger.for_context(context, "data_job", "pool", "job", logging.getLogger("t"))
            assert ledger is not None and ledger.read() is None
            ledger.pending(("a", "b"))
            entry = ledger.read()
            assert entry.run_id is None and entry.known_ids == ("a", "b"), entry
            ledger.pinned("c")
            assert ledger.read().run_id == "c"
            ledger.clear()
            assert ledger.read() is None
            print("LEDGER STORE OK", ledger.key)

        check()

    celonis_ledger_store()
    """
)


def test_the_ledger_round_trips_through_real_airflow_variables(tmp_path: Path) -> None:
    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "ledger_store.py").write_text(DAG)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    run = subprocess.run(
        [airflow, "dags", "test", "celonis_ledger_store"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0 and "LEDGER STORE OK celonis_run_ledger__" in output, output[-3000:]
    assert "state=success" in output, output[-3000:]
