"""``make demo``: run every example DAG with ``airflow dags test`` against a local Celonis emulator.

Everything happens in a throwaway AIRFLOW_HOME; the emulator is stopped at the end, even on
failure. Output files of the example DAGs land in ``demo-output/`` (or ``--output``). Exit status
is non-zero when any DAG run fails. Deferrable mode is on for every operator and sensor.

``--connection-store`` says where the ``celonis_default`` connection lives: ``env`` (an
``AIRFLOW_CONN_CELONIS_DEFAULT`` variable, the default) or ``db`` (``airflow connections add``
into the metadata database). ``make compat`` runs this script with ``--installed`` inside a venv
that holds the built wheel, so the provider is imported from the wheel, never from the checkout.
``--only DAG_ID`` (repeatable) runs just those DAGs.

Some DAGs wait for runs someone else starts: before each of them, :func:`prepare` plays that
someone in the emulator (a Celonis schedule starts the data job, another client a model load).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags_examples"
LOGICAL_DATE = "2025-11-01T00:00:00+00:00"
# DAGs whose window ends "now" rather than at their data interval's end: a run dated a year ago
# would pull a year of events on its first run. They run for the previous full hour instead.
RECENT_DAGS = frozenset({"audit_since_last_load"})


def prepare(dag_id: str, emulator: Any) -> None:
    """Start, in the emulator, the Celonis runs a DAG waits for without starting them itself."""
    if dag_id != "wait_for_scheduled_celonis_runs":
        return
    from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID, DEFAULT_POOL_ID
    from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID
    from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook

    execution = emulator.seed_execution(DEFAULT_POOL_ID, DEFAULT_JOB_ID, "RUNNING", running_seconds=4)
    os.environ["AIRFLOW_CONN_CELONIS_DEMO_OTHER_CLIENT"] = emulator.connection_json()
    CelonisDataModelHook("celonis_demo_other_client").start_load(DEFAULT_POOL_ID, DEFAULT_DATA_MODEL_ID)
    print(f"    (a Celonis schedule started execution {execution}; another client a model load)", flush=True)


def logical_date(dag_id: str) -> str:
    if dag_id not in RECENT_DAGS:
        return LOGICAL_DATE
    hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    return (hour - timedelta(hours=2)).isoformat()


def dag_ids(path: Path) -> list[str]:
    """DAG ids in a file, read without importing it: ``dag_id="..."`` literals, ``DAG("...")``
    and ``@dag``-decorated functions without an explicit id."""
    ids = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.keyword) and node.arg == "dag_id" and isinstance(node.value, ast.Constant):
            ids.append(str(node.value.value))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "DAG"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            ids.append(str(node.args[0].value))
        elif isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                call = deco if isinstance(deco, ast.Call) else None
                name = getattr(call.func if call else deco, "id", None)
                if name == "dag" and not (call and any(k.arg == "dag_id" for k in call.keywords)):
                    ids.append(node.name)
    return list(dict.fromkeys(ids))


def airflow(
    args: list[str], env: dict[str, str], cwd: str, **kwargs: Any
) -> subprocess.CompletedProcess[Any]:
    """``python -m airflow ...`` with this interpreter, from ``cwd`` (never the checkout when
    ``--installed``: the working directory is on ``sys.path`` of ``python -m``)."""
    return subprocess.run([sys.executable, "-m", "airflow", *args], env=env, cwd=cwd, **kwargs)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connection-store", choices=("env", "db"), default="env")
    parser.add_argument("--output", type=Path, default=ROOT / "demo-output")
    parser.add_argument("--only", action="append", default=[], metavar="DAG_ID", help="run only this DAG")
    parser.add_argument(
        "--installed",
        action="store_true",
        help="import the provider from the installed package, not from this checkout",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.installed:
        sys.path.insert(0, str(ROOT))
    from airflow_provider_celonis.emulator.client import start_emulator

    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    failures = []
    with tempfile.TemporaryDirectory(prefix="celonis-demo-") as home, start_emulator() as emulator:
        cwd = home if args.installed else str(ROOT)
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
            "CELONIS_EXTRACT_DIR": str(output),
        }
        env.pop("AIRFLOW_CONN_CELONIS_DEFAULT", None)
        if args.connection_store == "env":
            env["AIRFLOW_CONN_CELONIS_DEFAULT"] = emulator.connection_json()
        print(f"Celonis emulator at {emulator.base_url}; AIRFLOW_HOME={home}", flush=True)
        print("Creating the Airflow metadata database (airflow db migrate)...", flush=True)
        airflow(["db", "migrate"], env, cwd, check=True, stdout=subprocess.DEVNULL)
        if args.connection_store == "db":
            print("Adding celonis_default to the metadata database (airflow connections add)", flush=True)
            conn = json.loads(emulator.connection_json())
            airflow(
                ["connections", "add", "celonis_default", "--conn-json", json.dumps(conn)],
                env,
                cwd,
                check=True,
                stdout=subprocess.DEVNULL,
            )
        else:
            print("Connection celonis_default from AIRFLOW_CONN_CELONIS_DEFAULT", flush=True)
        for path in sorted(DAGS.glob("*.py")):
            for dag_id in dag_ids(path):
                if args.only and dag_id not in args.only:
                    continue
                when = logical_date(dag_id)
                print(f"\n=== airflow dags test {dag_id} {when}", flush=True)
                prepare(dag_id, emulator)
                started = time.monotonic()
                run = airflow(["dags", "test", dag_id, when], env, cwd, capture_output=True, text=True)
                text = run.stdout + run.stderr
                for line in text.splitlines():
                    if "DEMO:" in line:
                        print("   ", line[line.index("DEMO:") :])
                ok = run.returncode == 0 and "state=success" in text.replace(
                    "state=DagRunState.SUCCESS", "state=success"
                )
                print(f"    result: {'success' if ok else 'FAILED'} ({time.monotonic() - started:.0f} s)")
                if not ok:
                    failures.append(dag_id)
                    print(text[-4000:])
        stats = emulator.stats()
        print(f"\nEmulator saw {stats['api_calls']} API calls and {stats['token_requests']} token requests.")
    if failures:
        print(f"Failed DAGs: {', '.join(failures)}")
        return 1
    print(f"All example DAGs succeeded; output files are in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
