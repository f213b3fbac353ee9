"""``make dist`` check: the sdist and wheel in DIR hold what a published provider must.

One wheel and one sdist of the package's version; the wheel has the LICENSE, ``py.typed``, the
``apache_airflow_provider`` entry point, an SPDX ``License-Expression``, a classifier per supported
Python, every declared runtime dependency (``msgspec`` included) and no test code or development
extras. ``twine check --strict`` (run by the Makefile) covers the rendering of the description.
Exit status 1 with one line per problem.
"""

from __future__ import annotations

import ast
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHONS = ("3.10", "3.11", "3.12", "3.13")
RUNTIME = ("apache-airflow", "apache-airflow-providers-http", "requests", "tenacity", "aiohttp", "msgspec")


def package_version() -> str:
    tree = ast.parse((ROOT / "airflow_provider_celonis" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "__version__":
            return str(ast.literal_eval(node.value))
    raise SystemExit("airflow_provider_celonis/__init__.py has no __version__")


def check_wheel(path: Path, version: str) -> list[str]:
    problems = []
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        info = f"airflow_provider_celonis-{version}.dist-info"
        meta = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    for needed in (
        "airflow_provider_celonis/__init__.py",
        "airflow_provider_celonis/py.typed",
        "airflow_provider_celonis/compat.py",
        "airflow_provider_celonis/emulator/__main__.py",
        f"{info}/licenses/LICENSE",
    ):
        if needed not in names:
            problems.append(f"{path.name}: missing {needed}")
    if stray := [n for n in names if n.startswith(("tests/", "tests_e2e/", "scripts/", "bench/"))]:
        problems.append(f"{path.name}: ships non-package files {stray[:3]}")
    if "[apache_airflow_provider]" not in entry_points or "get_provider_info" not in entry_points:
        problems.append(f"{path.name}: no apache_airflow_provider entry point")
    if meta["Version"] != version:
        problems.append(f"{path.name}: Version {meta['Version']} != __version__ {version}")
    if meta["License-Expression"] != "Apache-2.0":
        problems.append(f"{path.name}: License-Expression is {meta['License-Expression']!r}")
    classifiers = meta.get_all("Classifier") or []
    for python in PYTHONS:
        if f"Programming Language :: Python :: {python}" not in classifiers:
            problems.append(f"{path.name}: no classifier for Python {python}")
    if any(c.startswith("License ::") for c in classifiers):
        problems.append(f"{path.name}: a License classifier next to the SPDX expression")
    requires = [
        r.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip()
        for r in meta.get_all("Requires-Dist") or []
    ]
    for dependency in RUNTIME:
        if dependency not in requires:
            problems.append(f"{path.name}: does not require {dependency}")
    extras = set(meta.get_all("Provides-Extra") or [])
    if extras & {"test", "e2e"}:
        problems.append(f"{path.name}: publishes development extras {sorted(extras & {'test', 'e2e'})}")
    if not meta.get_all("Project-URL"):
        problems.append(f"{path.name}: no project URLs")
    return problems


def check_sdist(path: Path, version: str) -> list[str]:
    prefix = f"airflow_provider_celonis-{version}/"
    with tarfile.open(path) as sdist:
        names = set(sdist.getnames())
    return [
        f"{path.name}: missing {name}"
        for name in ("LICENSE", "README.md", "pyproject.toml", "airflow_provider_celonis/compat.py")
        if prefix + name not in names
    ]


def main(argv: list[str]) -> int:
    dist = Path(argv[1] if len(argv) > 1 else ROOT / "dist")
    version = package_version()
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    problems = []
    if len(wheels) != 1 or len(sdists) != 1:
        problems.append(f"{dist}: expected one wheel and one sdist, found {wheels + sdists}")
    for wheel in wheels:
        problems += check_wheel(wheel, version)
    for sdist in sdists:
        problems += check_sdist(sdist, version)
    for problem in problems:
        print(f"check_dist: {problem}")
    if not problems:
        print(f"check_dist: {', '.join(p.name for p in wheels + sdists)} look like a published provider")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
