"""The event subscription example cleans up only what it created: when ``subscribe`` fails, the
``unsubscribe`` task (which runs whatever happened in between) is skipped instead of deleting
the subscription "None" and failing noisily."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

PATH = Path(__file__).resolve().parents[2] / "dags_examples" / "celonis_event_subscription_lifecycle.py"


class _TaskInstance:
    def __init__(self, pushed: Any) -> None:
        self.pushed = pushed

    def xcom_pull(self, task_ids: str) -> Any:
        assert task_ids == "subscribe"
        return self.pushed


@pytest.fixture(scope="module")
def dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PATH))
    assert bag.import_errors == {}
    return bag.dags["celonis_event_subscription_lifecycle"]


def test_unsubscribe_waits_on_a_guard_that_runs_whatever_happened_before(dag: Any) -> None:
    unsubscribe = dag.get_task("unsubscribe")
    (guard_id,) = unsubscribe.upstream_task_ids
    guard = dag.get_task(guard_id)
    assert guard.trigger_rule == "all_done"  # a failed pause or resume still gets cleaned up
    assert dag.get_task("subscribe").task_id in {t.task_id for t in guard.get_flat_relatives(upstream=True)}


@pytest.mark.parametrize(("pushed", "deletes"), [(None, False), ("", False), ("0b7e5a52-new", True)])
def test_the_guard_lets_unsubscribe_run_only_when_subscribe_returned_an_id(
    dag: Any, pushed: Any, deletes: bool
) -> None:
    guard = dag.get_task(next(iter(dag.get_task("unsubscribe").upstream_task_ids)))
    assert bool(guard.python_callable(ti=_TaskInstance(pushed))) is deletes
