"""The run ledger for data model reloads: a lost worker's retry never requests a second load.

Same set-up as ``test_data_jobs_attack_ledger``: try 1 in a child process, SIGKILLed while it
waits for the load it requested; try 2 here with the same task instance ids and the same
Variables (a JSON file behind the real ``airflow.sdk.Variable`` calls).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import CelonisJobFailedError
from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from airflow_provider_celonis.waiting.run_ledger import RunLedger
from tests.waiting.test_run_ledger import CHILD, IDS, TI, ledger_values, variables_file

MODEL_CHILD = CHILD.split("from airflow_provider_celonis.operators")[0] + textwrap.dedent(
    """
    from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
    op = CelonisReloadDataModelOperator(
        task_id="reload", data_pool_id={pool!r}, data_model_id={job!r}, poll_interval=0.1,
        timeout=60, start_grace_period=1, deferrable=False,
    )
    op.execute({{"ti": TI()}})
    """
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return variables_file(tmp_path, monkeypatch)


def make_op(**kwargs: Any) -> CelonisReloadDataModelOperator:
    params: dict[str, Any] = {
        "task_id": "reload",
        "data_pool_id": POOL,
        "data_model_id": MODEL,
        "poll_interval": 0.1,
        "timeout": 60,
        "start_grace_period": 2,
        "deferrable": False,
        "hook_params": {"min_wait": 0.01, "max_wait": 0.05, "max_attempts": 4},
    }
    return CelonisReloadDataModelOperator(**{**params, **kwargs})


def loads(emulator: Any) -> list[dict[str, Any]]:
    return list(emulator.data_model_report(POOL, MODEL)["loads"])


def ledger() -> RunLedger:
    return RunLedger(IDS, "data_model", POOL, MODEL, logging.getLogger("test"))


def wait_load(emulator: Any, status: str | None = None) -> str:
    until = time.time() + 10
    while time.time() < until:
        found = loads(emulator)
        if found and (status is None or found[-1]["loadStatus"] == status):
            return str(found[-1]["dataLoadId"])
        time.sleep(0.05)
    raise AssertionError(f"no load reached {status}")


def test_retry_after_a_lost_worker_adopts_the_running_load(
    emulator: Any, store: Path, tmp_path: Path
) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=6, stale_seconds=0)
    script = tmp_path / "try1.py"
    names = {k: v for k, v in IDS.items() if k != "map_index"}
    script.write_text(MODEL_CHILD.format(pool=POOL, job=MODEL, **names))
    child = subprocess.Popen([sys.executable, str(script), str(store)], env=dict(os.environ))
    try:
        until = time.time() + 60
        while time.time() < until:
            pinned = [v for v in ledger_values(store) if v["celonis_run_id"]]
            if pinned and loads(emulator):
                break
            assert child.poll() is None, "try 1 ended before it could be killed"
            time.sleep(0.1)
        else:
            pytest.fail("try 1 never pinned its load")
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    [first] = loads(emulator)
    assert pinned[0]["celonis_run_id"] == first["dataLoadId"]
    assert first["loadStatus"] == "RUNNING"

    assert make_op().execute({"ti": TI()}) == first["dataLoadId"]
    assert [ld["dataLoadId"] for ld in loads(emulator)] == [first["dataLoadId"]], "loaded twice"
    assert ledger_values(store) == []


def test_without_the_ledger_the_retry_loads_twice(emulator: Any, store: Path) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=1, stale_seconds=0)
    CelonisDataModelHook().start_load(POOL, MODEL)  # the dead try's load
    wait_load(emulator)
    make_op(run_ledger=False).execute({"ti": TI()})
    assert len(loads(emulator)) == 2


def test_a_succeeded_load_later_replaced_is_reported_from_the_history(emulator: Any, store: Path) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.2, stale_seconds=0)
    hook = CelonisDataModelHook()
    hook.start_load(POOL, MODEL)
    ours = wait_load(emulator, "SUCCESS")
    ledger().pinned(ours)
    hook.start_load(POOL, MODEL)  # someone else's later load now holds the current slot
    other = wait_load(emulator, "SUCCESS")
    assert other != ours
    assert make_op().execute({"ti": TI()}) == ours
    assert len(loads(emulator)) == 2


def test_a_failed_load_is_requested_again(emulator: Any, store: Path) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.2, stale_seconds=0, outcome="ERROR")
    CelonisDataModelHook().start_load(POOL, MODEL)
    failed = wait_load(emulator, "ERROR")
    ledger().pinned(failed)
    emulator.configure_data_model(POOL, MODEL, outcome="SUCCESS")
    fresh = make_op().execute({"ti": TI()})
    assert fresh != failed
    assert len(loads(emulator)) == 2


def test_an_unlisted_load_id_fails_closed(emulator: Any, store: Path) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=0.2, stale_seconds=0)
    ledger().pinned("no-such-load")
    with pytest.raises(CelonisJobFailedError, match="no-such-load"):
        make_op().execute({"ti": TI()})
    assert loads(emulator) == []


def test_a_pending_ledger_adopts_the_dead_try_s_load(emulator: Any, store: Path) -> None:
    emulator.configure_data_model(POOL, MODEL, load_seconds=1, stale_seconds=0)
    ledger().pending(())
    CelonisDataModelHook().start_load(POOL, MODEL)
    ours = wait_load(emulator)
    assert make_op().execute({"ti": TI()}) == ours
    assert len(loads(emulator)) == 1


async def test_deferrable_retry_adopts_the_load_named_in_the_ledger(emulator: Any, store: Path) -> None:
    from data_pool_helpers import run_deferred

    emulator.configure_data_model(POOL, MODEL, load_seconds=0.6, stale_seconds=0)
    CelonisDataModelHook().start_load(POOL, MODEL)
    ours = wait_load(emulator)
    ledger().pinned(ours)
    assert await run_deferred(make_op(deferrable=True), {"ti": TI()}) == ours
    assert len(loads(emulator)) == 1
    assert ledger_values(store) == []
