"""``make demo``: run every example DAG with ``airflow dags test`` against a local Celonis emulator.

Everything happens in a throwaway AIRFLOW_HOME; the emulator is stopped at the end, even on
failure. Output files of the example DAGs land in ``demo-output/``. Exit status is non-zero
when any DAG run fails.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAGS = ROOT / "dags_examples"
LOGICAL_DATE = "2025-11-01T00:00:00+00:00"


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


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from airflow_provider_celonis.emulator.client import start_emulator

    output = ROOT / "demo-output"
    output.mkdir(exist_ok=True)
    failures = []
    with tempfile.TemporaryDirectory(prefix="celonis-demo-") as home, start_emulator() as emulator:
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
            "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
            "CELONIS_EXTRACT_DIR": str(output),
        }
        print(f"Celonis emulator at {emulator.base_url}; AIRFLOW_HOME={home}")
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL
        )
        for path in sorted(DAGS.glob("*.py")):
            for dag_id in dag_ids(path):
                print(f"\n=== airflow dags test {dag_id} {LOGICAL_DATE}")
                run = subprocess.run(
                    [sys.executable, "-m", "airflow", "dags", "test", dag_id, LOGICAL_DATE],
                    env=env,
                    capture_output=True,
                    text=True,
                )
                text = run.stdout + run.stderr
                for line in text.splitlines():
                    if "DEMO:" in line:
                        print("   ", line[line.index("DEMO:") :])
                ok = run.returncode == 0 and "state=success" in text.replace(
                    "state=DagRunState.SUCCESS", "state=success"
                )
                print(f"    result: {'success' if ok else 'FAILED'}")
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
