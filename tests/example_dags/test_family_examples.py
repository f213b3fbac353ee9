"""The example DAGs of the sensors, event subscriptions, agent chat and Studio tools: each parses
without import errors and without importing a hook or an HTTP client, has a docstring, and
wires the operators it documents. (``make demo`` runs them against the emulator.)"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "wait_for_scheduled_celonis_runs": {
        "wait_for_scheduled_data_job": "CelonisDataJobSensor",
        "wait_for_data_model_load": "CelonisDataModelLoadSensor",
    },
    "celonis_event_subscription_lifecycle": {
        "subscribe": "CelonisEventSubscriptionOperator",
        "pause": "CelonisEventSubscriptionOperator",
        "resume_from_latest": "CelonisEventSubscriptionOperator",
        "unsubscribe": "CelonisEventSubscriptionOperator",
        "save_failed_events": "CelonisSubscriptionFailedEventsOperator",
    },
    "ask_celonis_agent": {"ask": "CelonisAgentChatOperator", "follow_up": "CelonisAgentChatOperator"},
    "call_celonis_studio_tools": {
        "search_customers": "CelonisToolOperator",
        "open_orders": "CelonisToolOperator",
    },
}


@pytest.mark.parametrize("dag_id", sorted(EXAMPLES))
def test_example_parses_with_its_operators(dag_id: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    path = ROOT / "dags_examples" / f"{dag_id}.py"
    assert ast.get_docstring(ast.parse(path.read_text()))
    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    dag = bag.dags[dag_id]
    operators = {t.task_id: type(t).__name__ for t in dag.tasks if t.task_id in EXAMPLES[dag_id]}
    assert operators == EXAMPLES[dag_id]
    assert "report" in dag.task_ids


def test_parsing_imports_no_hook_and_no_http_client() -> None:
    files = [str(ROOT / "dags_examples" / f"{d}.py") for d in sorted(EXAMPLES)]
    code = (
        "import runpy, sys\n"
        "for f in sys.argv[1:]: runpy.run_path(f)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('aiohttp', 'requests', "
        "'airflow_provider_celonis.hooks'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *files], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_the_sensors_wait_for_runs_they_did_not_start() -> None:
    from airflow.dag_processing.dagbag import DagBag

    path = ROOT / "dags_examples" / "wait_for_scheduled_celonis_runs.py"
    dag = DagBag(dag_folder=str(path)).dags["wait_for_scheduled_celonis_runs"]
    for task_id in ("wait_for_scheduled_data_job", "wait_for_data_model_load"):
        sensor = dag.get_task(task_id)
        assert sensor.started_after == "{{ data_interval_start }}"  # type: ignore[attr-defined]
        assert sensor.deferrable is True  # type: ignore[attr-defined]
