"""DAG parse time: importing any operator or sensor module, and building its classes, stays light.

Every module of ``operators/`` and ``sensors/`` is found by listing the packages (a new module
is covered without editing this file). Each is imported in a fresh interpreter, every operator
or sensor class it defines is built with minimal arguments, and then none of ``requests``,
``aiohttp``, ``airflow_provider_celonis.hooks.*`` or ``airflow_provider_celonis.triggers.*``
may be loaded, and no Airflow connection may have been looked up: the scheduler's DAG
processor parses every DAG file again and again, and would pay for each.

The check itself is proved able to fail on a module written like the mistake it guards
against (a hook imported at the top).
"""

from __future__ import annotations

import json
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import airflow_provider_celonis.operators as operators_pkg
import airflow_provider_celonis.sensors as sensors_pkg

HEAVY = ("requests", "aiohttp", "airflow_provider_celonis.hooks", "airflow_provider_celonis.triggers")

CHECK = textwrap.dedent(
    """
    import importlib, inspect, json, re, sys

    from airflow.sdk import BaseHook, BaseOperator, Connection

    lookups = []

    def _lookup(*args, **kwargs):
        lookups.append(repr(args[1:] or kwargs))
        raise RuntimeError("connection lookup at DAG parse time")

    Connection.get = classmethod(_lookup)
    BaseHook.get_connection = classmethod(_lookup)

    # Minimal values for required arguments, by name; anything else gets a string.
    VALUES = {
        "source": "/tmp/celonis-import-light/rows.csv",
        "output_path": "/tmp/celonis-import-light/out.jsonl",
        "action": "create",
        "message": "hello",
    }
    # Airflow: "missing keyword argument(s) 'x', 'y'"; Python: "missing 2 required ... arguments:
    # 'x', 'y'"; the provider's own check: "'x' is missing (and so is 'x_name')".
    MISSING = re.compile(r"missing (?:keyword arguments?|\\d+ required .*?arguments?:) (.*)")
    OURS = re.compile(r"'(\\w+)' is missing")

    name = sys.argv[1]
    module = importlib.import_module(name)
    built = []
    for attr, cls in sorted(vars(module).items()):
        if not (inspect.isclass(cls) and issubclass(cls, BaseOperator) and cls.__module__ == name):
            continue
        kwargs = {"task_id": "t_" + attr.lower()}
        for _ in range(10):
            try:
                cls(**kwargs)
                break
            except Exception as err:
                found = MISSING.search(str(err))
                names = re.findall(r"'(\\w+)'", found.group(1)) if found else OURS.findall(str(err))[:1]
                if not names or all(n in kwargs for n in names):
                    raise
                for arg in names:
                    kwargs[arg] = VALUES.get(arg, "x")
        else:
            raise AssertionError(f"could not build {attr} with minimal arguments")
        built.append(attr)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("requests", "aiohttp")
                   or m.startswith(("airflow_provider_celonis.hooks", "airflow_provider_celonis.triggers")))
    print(json.dumps({"built": built, "heavy": heavy, "lookups": lookups}))
    """
)


def modules() -> list[str]:
    """Every module of the operators and sensors packages, private ones included."""
    found = []
    for package in (operators_pkg, sensors_pkg):
        for info in pkgutil.iter_modules(package.__path__):
            found.append(f"{package.__name__}.{info.name}")
    return sorted(found)


def check(module: str, extra_path: Path | None = None) -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra_path), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", CHECK, module], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, list[str]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_every_operator_and_sensor_module_is_listed() -> None:
    names = modules()
    assert "airflow_provider_celonis.operators.data_jobs" in names
    assert "airflow_provider_celonis.sensors.data_models" in names
    assert len(names) >= 10


@pytest.mark.parametrize("module", modules())
def test_module_import_and_construction_are_light(module: str) -> None:
    result = check(module)
    assert result["heavy"] == [], f"{module} imports {result['heavy']} at DAG parse time"
    assert result["lookups"] == [], f"{module} looks up a connection at DAG parse time"
    if not module.rsplit(".", 1)[1].startswith("_"):  # a public module defines at least one class
        assert result["built"], f"{module}: no operator or sensor class built"


def test_the_check_catches_a_top_level_hook_import(tmp_path: Path) -> None:
    """The mistake it guards against, written out: the check must report it."""
    package = tmp_path / "heavy_dag_operators"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text(
        textwrap.dedent(
            """
            from airflow.sdk import BaseOperator

            from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook


            class BadOperator(BaseOperator):
                def __init__(self, *, data_pool_id: str, **kwargs):
                    super().__init__(**kwargs)
                    self.hook = CelonisDataJobHook()
            """
        )
    )
    result = check("heavy_dag_operators.bad", extra_path=tmp_path)
    assert result["built"] == ["BadOperator"]
    assert "airflow_provider_celonis.hooks.data_jobs" in result["heavy"]
    assert "requests" in result["heavy"]


def test_the_check_catches_a_connection_lookup_in_init(tmp_path: Path) -> None:
    package = tmp_path / "lookup_dag_operators"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text(
        textwrap.dedent(
            """
            from airflow.sdk import BaseOperator, Connection


            class LookupOperator(BaseOperator):
                def __init__(self, **kwargs):
                    super().__init__(**kwargs)
                    try:
                        Connection.get("celonis_default")
                    except RuntimeError:
                        pass
            """
        )
    )
    result = check("lookup_dag_operators.bad", extra_path=tmp_path)
    assert result["built"] == ["LookupOperator"]
    assert result["lookups"] != []
