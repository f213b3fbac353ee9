"""The event-scheduled example DAG: parses light, is scheduled on an asset watched by the
Celonis event trigger, and its task copes with a run that no event started."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags_examples" / "on_celonis_data_job_success.py"


def test_dag_is_scheduled_on_the_watched_asset() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    dag = bag.dags["on_celonis_data_job_success"]
    assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"
    module = runpy.run_path(str(DAG_FILE))
    (watcher,) = module["JOB_SUCCEEDED"].watchers
    classpath, kwargs = watcher.trigger.serialize()
    assert classpath == "airflow_provider_celonis.triggers.events.CelonisDataJobExecutionEventTrigger"
    assert kwargs["on"] == ["SUCCESS"] and kwargs["cursor"] == "variable"
    assert "secret" not in json.dumps(kwargs).lower()


def test_parsing_imports_no_hook_and_no_http_client() -> None:
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); "
        "print(sorted(m for m in sys.modules if m.startswith(('aiohttp', 'requests', "
        "'airflow_provider_celonis.hooks'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(DAG_FILE)], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_the_task_reads_the_event_payload() -> None:
    from types import SimpleNamespace

    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAG_FILE)).dags["on_celonis_data_job_success"]
    task = dag.get_task("use_the_new_data")
    payload = {"execution_id": "e-1", "status": "SUCCESS", "scheduling_id": "s-1"}
    event = SimpleNamespace(extra={"from_trigger": True, "payload": payload})
    assert task.python_callable(triggering_asset_events={"a": [event]}) == ["e-1"]  # type: ignore[attr-defined]
    assert task.python_callable(triggering_asset_events={}) == []  # type: ignore[attr-defined]
