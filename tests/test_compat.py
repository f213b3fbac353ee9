"""One compatibility module for Airflow 3.0-3.3, and deferrable tasks under ``airflow dags test``
whatever store holds the connection.

The matrix itself (the built wheel on Airflow 3.0, 3.1 and 3.3) is ``make compat``; these tests
guard the rules it relies on and reproduce the ``dags test`` failure on the installed Airflow.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis import compat

PACKAGE = Path(compat.__file__).parent
DATA_POOL_ID = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"
DATA_JOB_ID = "7a2d4f6e-9c1b-4d3a-b5e8-6f0a2c4d8e02"

# Names that moved between task SDK 1.0 and 1.3: importing them from the new place breaks 3.0/3.1.
MOVED = [
    re.compile(r"from airflow\.sdk import [^\n]*\bconf\b"),
    re.compile(r"from airflow\.sdk\.exceptions import"),
    re.compile(r"from airflow\.sdk\.io\.fs import"),
]


def test_no_module_imports_a_moved_name_around_compat() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "compat.py":
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(PACKAGE)}: {p.pattern}" for p in MOVED if p.search(text)]
    assert not offenders, f"import these through airflow_provider_celonis.compat: {offenders}"


def test_compat_gives_the_classes_the_task_runner_handles() -> None:
    import warnings

    import airflow.exceptions

    # On the installed (newest) Airflow the SDK classes; core re-exports the same objects, which
    # is what makes the old-release fallback behave alike.
    for name in ("AirflowSkipException", "AirflowSensorTimeout", "TaskDeferred", "AirflowNotFoundException"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # core's names are deprecated aliases on 3.2+
            assert getattr(compat, name) is getattr(airflow.exceptions, name), name
    assert compat.conf.getboolean("operators", "default_deferrable", fallback=False) in (True, False)
    assert compat.has_fs("file") and not compat.has_fs("no-such-scheme")


class _Hook:
    """Stands in for BaseHook's two lookups: no HTTP involved, only which lookup answers."""

    def __init__(self, async_answer: Any, sync_answer: Any) -> None:
        self.async_answer, self.sync_answer = async_answer, sync_answer
        self.calls: list[str] = []

    async def aget_connection(self, conn_id: str) -> Any:
        self.calls.append("async")
        if isinstance(self.async_answer, BaseException):
            raise self.async_answer
        return self.async_answer

    def get_connection(self, conn_id: str) -> Any:
        self.calls.append("sync")
        if isinstance(self.sync_answer, BaseException):
            raise self.sync_answer
        return self.sync_answer


def test_async_lookup_answers_first() -> None:
    hook = _Hook("from-async", "from-sync")
    assert asyncio.run(compat.aget_connection(hook, "celonis_default")) == "from-async"
    assert hook.calls == ["async"]


def test_not_found_asynchronously_is_asked_once_synchronously() -> None:
    hook = _Hook(compat.AirflowNotFoundException("not defined"), "from-sync")
    assert asyncio.run(compat.aget_connection(hook, "celonis_default")) == "from-sync"
    assert hook.calls == ["async", "sync"]


def test_a_connection_missing_everywhere_stays_missing() -> None:
    hook = _Hook(compat.AirflowNotFoundException("a"), compat.AirflowNotFoundException("b"))
    with pytest.raises(compat.AirflowNotFoundException):
        asyncio.run(compat.aget_connection(hook, "celonis_default"))
    assert hook.calls == ["async", "sync"]


def test_other_lookup_errors_are_not_retried() -> None:
    hook = _Hook(PermissionError("denied by the secrets backend"), "from-sync")
    with pytest.raises(PermissionError):
        asyncio.run(compat.aget_connection(hook, "celonis_default"))
    assert hook.calls == ["async"]


DAG_FILE = f'''
import pendulum
from airflow.sdk import dag

from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator


@dag(dag_id="compat_deferred_job", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"))
def compat_deferred_job():
    CelonisExecuteDataJobOperator(
        task_id="run_data_job",
        data_pool_id="{DATA_POOL_ID}",
        data_job_id="{DATA_JOB_ID}",
        deferrable=True,
        poll_interval=1,
    )


compat_deferred_job()
'''


def _airflow(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One migrated metadata database for the module (a migration takes tens of seconds)."""
    tmp_path = tmp_path_factory.mktemp("dags-test")
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "compat_deferred_job.py").write_text(textwrap.dedent(DAG_FILE))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env |= {
        "AIRFLOW_HOME": str(tmp_path / "home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "PYTHONPATH": str(PACKAGE.parent),
    }
    run = _airflow(["db", "migrate"], env, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    return env


def test_dags_test_runs_a_deferred_wait_with_a_metadata_db_connection(
    emulator: Any, airflow_home: dict[str, str], tmp_path: Path
) -> None:
    """``airflow connections add`` then ``airflow dags test``: the in-process trigger finds the
    connection (Airflow 3.3's async lookup alone reports it undefined after the job started)."""
    conn = json.loads(emulator.connection_json())
    added = _airflow(
        ["connections", "add", "celonis_default", "--conn-json", json.dumps(conn)], airflow_home, tmp_path
    )
    assert added.returncode == 0, added.stderr[-2000:]
    try:
        _check_deferred_run(emulator, airflow_home, tmp_path, conn["password"])
    finally:
        _airflow(["connections", "delete", "celonis_default"], airflow_home, tmp_path)


def _check_deferred_run(emulator: Any, airflow_home: dict[str, str], tmp_path: Path, secret: str) -> None:
    emulator.configure_data_job(DATA_POOL_ID, DATA_JOB_ID, queued_seconds=0, running_seconds=2)

    run = _airflow(["dags", "test", "compat_deferred_job", "2025-11-01"], airflow_home, tmp_path)

    text = run.stdout + run.stderr
    assert "running trigger in line" in text  # the wait really was deferred
    assert "isn't defined" not in text
    assert run.returncode == 0 and "state=success" in text, text[-4000:]
    assert emulator.data_job_report(DATA_POOL_ID, DATA_JOB_ID)["executions"] == 1
    assert secret not in text


def test_dags_test_runs_a_deferred_wait_with_a_secrets_backend_connection(
    emulator: Any, airflow_home: dict[str, str], tmp_path: Path
) -> None:
    """The connection only in a secrets backend (a connections file), as on managed Airflow."""
    conn = json.loads(emulator.connection_json())
    secrets = tmp_path / "connections.json"
    secrets.write_text(json.dumps({"celonis_default": conn}))
    env = {
        **airflow_home,
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(secrets)}),
    }
    _airflow(["connections", "delete", "celonis_default"], airflow_home, tmp_path)  # not in the DB
    _check_deferred_run(emulator, env, tmp_path, conn["password"])


def test_dags_test_without_any_connection_fails_before_celonis_is_touched(
    emulator: Any, airflow_home: dict[str, str], tmp_path: Path
) -> None:
    _airflow(["connections", "delete", "celonis_default"], airflow_home, tmp_path)  # may not exist
    run = _airflow(["dags", "test", "compat_deferred_job", "2025-11-01"], airflow_home, tmp_path)

    text = run.stdout + run.stderr
    assert "state=success" not in text
    assert "celonis_default" in text and "isn't defined" in text
    assert emulator.data_job_report(DATA_POOL_ID, DATA_JOB_ID)["executions"] == 0
    assert emulator.stats()["token_requests"] == 0
