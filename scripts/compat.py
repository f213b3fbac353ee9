"""``make compat``: the built wheel on the Airflow releases our users run, each on its own Python.

For every ``PYTHON:AIRFLOW`` pair (default: 3.10 with the newest 3.0, 3.12 with the newest 3.1,
3.13 with the newest 3.3) this creates a fresh venv under ``build/compat/``, installs the wheel
from ``dist/`` with ``apache-airflow`` pinned (pip resolves the rest: Airflow's constraint files
are not used, so this also proves that a plain ``pip install`` resolves), then

1. imports every module of the installed package (from site-packages, never from the checkout),
2. checks that ``airflow providers list`` shows the provider at the wheel's version,
3. runs every example DAG with ``airflow dags test``, deferrable on, against the emulator of
   the installed package, with ``celonis_default`` in the metadata database
   (``airflow connections add``), the store that ``dags test`` once failed on.

Pairs run in parallel (``--jobs``); each writes its log to ``build/compat/<pair>.log`` and prints
one line per step. A Python that is not installed is reported with how to get it, and fails the
run. Exit status 0 only when every pair passed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MATRIX = "3.10:3.0.6 3.12:3.1.8 3.13:3.3.2"
# Pins that Airflow's own constraint file sets and its package metadata leaves open. Airflow 3.0
# with cadwyn 6+ or fastapi 0.118+ refuses every task start (the execution API answers 422), so a
# plain `pip install apache-airflow==3.0.x` without constraints needs these.
CONSTRAINT_PINS = {"3.0": ["cadwyn<6", "fastapi<0.118"]}
PRINT_LOCK = threading.Lock()

IMPORT_EVERY_MODULE = """
import importlib, pkgutil, sys, warnings
import airflow_provider_celonis as pkg
assert "site-packages" in pkg.__file__, f"imported from {pkg.__file__}, not the installed wheel"
failed, names = [], [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
for name in names:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(name)
    except Exception as err:
        failed.append(f"{name}: {type(err).__name__}: {err}")
print(f"imported {len(names) - len(failed)} of {len(names)} modules")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


@dataclass
class Pair:
    python: str
    airflow: str
    log: Path = field(init=False)
    steps: list[str] = field(default_factory=list)
    ok: bool = False

    @property
    def name(self) -> str:
        return f"py{self.python}-airflow{self.airflow}"


def say(pair: Pair, text: str) -> None:
    with PRINT_LOCK:
        print(f"[{pair.name}] {text}", flush=True)
    pair.steps.append(text)


def find_python(version: str) -> tuple[str | None, list[str]]:
    """The newest ``version.*`` interpreter under pyenv, else ``python<version>`` on PATH."""
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    looked = []
    for root in dict.fromkeys(r for r in roots if r):
        versions = Path(root) / "versions"
        looked.append(f"{versions}/{version}.*")
        found = [
            p for p in versions.glob(f"{version}.*") if re.fullmatch(rf"{re.escape(version)}\.\d+", p.name)
        ]
        for candidate in sorted(found, key=lambda p: int(p.name.rsplit(".", 1)[1]), reverse=True):
            if (candidate / "bin" / "python").exists():
                return str(candidate / "bin" / "python"), looked
    looked.append(f"python{version} on PATH")
    return shutil.which(f"python{version}"), looked


def run(pair: Pair, command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> bool:
    with pair.log.open("a") as log:
        log.write(f"\n$ {' '.join(command)}\n")
        log.flush()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    return done.returncode == 0


def check_pair(pair: Pair, wheel: Path, workdir: Path) -> None:
    pair.log = workdir / f"{pair.name}.log"
    pair.log.write_text("")
    interpreter, looked = find_python(pair.python)
    if interpreter is None:
        say(
            pair,
            f"FAILED: Python {pair.python} not found (looked in {', '.join(looked)}); "
            f"install it, e.g. `pyenv install {pair.python}`",
        )
        return
    venv = workdir / pair.name
    shutil.rmtree(venv, ignore_errors=True)
    python = str(venv / "bin" / "python")
    scratch = Path(tempfile.mkdtemp(prefix=f"compat-{pair.name}-"))  # cwd: never the checkout
    try:
        started = time.monotonic()
        if not run(pair, [interpreter, "-m", "venv", str(venv)], cwd=scratch):
            say(pair, f"FAILED: could not create a venv with {interpreter}")
            return
        # The pythons' bundled pips (23.x) backtrack for many minutes over Airflow's tree.
        if not run(pair, [python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], cwd=scratch):
            say(pair, "FAILED: could not upgrade pip in the fresh venv")
            return
        pins = CONSTRAINT_PINS.get(".".join(pair.airflow.split(".")[:2]), [])
        install = [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            f"{wheel}[emulator]",
            f"apache-airflow=={pair.airflow}",
            *pins,
        ]
        if not run(pair, install, cwd=scratch):
            say(pair, f"FAILED: pip could not install the wheel with apache-airflow=={pair.airflow}")
            return
        say(
            pair,
            f"installed the wheel with {' '.join([f'apache-airflow=={pair.airflow}', *pins])} "
            f"in {time.monotonic() - started:.0f} s",
        )

        started = time.monotonic()
        if not run(pair, [python, "-c", IMPORT_EVERY_MODULE], cwd=scratch):
            say(pair, "FAILED: a module does not import (see the log)")
            return
        say(pair, f"every module imports ({time.monotonic() - started:.0f} s)")

        env = {**os.environ, "AIRFLOW_HOME": str(scratch / "airflow-home")}
        env.pop("AIRFLOW_CONN_CELONIS_DEFAULT", None)
        listed = subprocess.run(
            [python, "-m", "airflow", "providers", "list", "-o", "json"],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
        )
        with pair.log.open("a") as log:
            log.write(listed.stdout + listed.stderr)
        version = wheel.name.split("-")[1]
        found = re.search(r"\[\{.*\}\]", listed.stdout, re.S)
        providers = {p["package_name"]: p["version"] for p in json.loads(found.group(0))} if found else {}
        if providers.get("airflow-provider-celonis") != version:
            say(pair, f"FAILED: `airflow providers list` does not show airflow-provider-celonis {version}")
            return
        say(pair, f"`airflow providers list` shows airflow-provider-celonis {version}")

        started = time.monotonic()
        demo = [
            python,
            str(ROOT / "scripts" / "demo.py"),
            "--installed",
            "--connection-store",
            "db",
            "--output",
            str(workdir / f"{pair.name}-output"),
        ]
        if not run(pair, demo, cwd=scratch, env=env):
            say(pair, f"FAILED: an example DAG failed under `airflow dags test` (see {pair.log})")
            return
        say(
            pair,
            f"every example DAG succeeded under `airflow dags test` ({time.monotonic() - started:.0f} s)",
        )
        pair.ok = True
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--matrix", default=os.environ.get("COMPAT_MATRIX") or DEFAULT_MATRIX)
    parser.add_argument("--workdir", type=Path, default=ROOT / "build" / "compat")
    parser.add_argument("--jobs", type=int, default=3, help="pairs checked at the same time")
    args = parser.parse_args(argv)
    args.dist, args.workdir = args.dist.resolve(), args.workdir.resolve()  # steps run elsewhere

    wheels = sorted(args.dist.glob("airflow_provider_celonis-*.whl"))
    if len(wheels) != 1:
        print(f"compat: expected one wheel in {args.dist} (run `make dist`), found {wheels}")
        return 1
    pairs = [Pair(*item.split(":", 1)) for item in args.matrix.split()]
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"compat: {wheels[0].name} on {', '.join(f'Python {p.python} + Airflow {p.airflow}' for p in pairs)}"
    )
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(lambda pair: check_pair(pair, wheels[0], args.workdir), pairs))
    elapsed = time.monotonic() - started
    print(f"\ncompat: {sum(p.ok for p in pairs)} of {len(pairs)} pairs passed in {elapsed:.0f} s")
    for pair in pairs:
        print(f"  {'ok    ' if pair.ok else 'FAILED'} {pair.name}: {pair.steps[-1] if pair.steps else ''}")
        if not pair.ok and hasattr(pair, "log") and pair.log.exists():
            print("".join(pair.log.read_text().splitlines(keepends=True)[-60:]))
    return 0 if all(p.ok for p in pairs) else 1


if __name__ == "__main__":
    sys.exit(main())
