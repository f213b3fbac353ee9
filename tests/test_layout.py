"""The package layout rules of the README ("How the code is organised"), checked on the source."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_provider_celonis

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "airflow_provider_celonis"
EMULATOR = PACKAGE / "emulator"


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_at_most_six_modules_at_the_package_root() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(loose) <= 6, loose


def test_every_subpackage_says_what_lives_there() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        tree = ast.parse(init.read_text())
        assert ast.get_docstring(tree), f"{init.relative_to(ROOT)} has no docstring"


def test_the_provider_never_imports_the_emulator() -> None:
    for path in _modules(PACKAGE):
        if EMULATOR in path.parents:
            continue
        bad = {n for n in _imported(path) if n.startswith("airflow_provider_celonis.emulator")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_emulator_never_imports_the_providers_client() -> None:
    for path in _modules(EMULATOR):
        bad = {
            n
            for n in _imported(path)
            if n.startswith("airflow_provider_celonis.")
            and not n.startswith("airflow_provider_celonis.emulator")
            and n != "airflow_provider_celonis.__version__"  # the version it reports, not client code
        }
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_code_and_docs_reference_only_files_of_this_repository() -> None:
    pattern = re.compile(r"\.\./shared|/work/shared|seed-migrating|\bissue #?\d+", re.IGNORECASE)
    files = [
        *_modules(PACKAGE),
        *(ROOT / "docs").glob("*.md"),
        ROOT / "README.md",
        *(ROOT / "dags_examples").glob("*.py"),
    ]
    hits = [f"{p.relative_to(ROOT)}: {m.group(0)}" for p in files for m in pattern.finditer(p.read_text())]
    assert not hits, hits


def test_every_environment_variable_read_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    read = re.compile(r"""(?:environ(?:\.get)?\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    sources = [*_modules(PACKAGE), *(ROOT / "dags_examples").glob("*.py"), *(ROOT / "scripts").glob("*.py")]
    names = {m.group(1) for p in sources for m in read.finditer(p.read_text())}
    names -= {"PYTHONUNBUFFERED"}
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert not missing, f"read but not documented in README.md: {missing}"


@pytest.mark.parametrize("old", sorted(airflow_provider_celonis.MOVED_MODULES))
def test_a_moved_module_still_imports_from_its_old_path_with_a_warning(old: str) -> None:
    new = airflow_provider_celonis.MOVED_MODULES[old]
    public = [
        n for n in dir(__import__(f"airflow_provider_celonis.{new}", fromlist=["x"])) if not n.startswith("_")
    ]
    name = next(
        n
        for n in public
        if not isinstance(getattr(sys.modules[f"airflow_provider_celonis.{new}"], n), type(sys))
    )
    code = (
        "import warnings\n"
        "warnings.simplefilter('error')\n"
        "from airflow.exceptions import AirflowProviderDeprecationWarning\n"
        "try:\n"
        f"    from airflow_provider_celonis.{old} import {name}\n"
        "except AirflowProviderDeprecationWarning as w:\n"
        "    print('warned:', w)\n"
        "warnings.simplefilter('ignore')\n"
        f"from airflow_provider_celonis.{old} import {name} as old\n"
        f"from airflow_provider_celonis.{new} import {name} as new\n"
        "assert old is new\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"moved to airflow_provider_celonis.{new}" in out
