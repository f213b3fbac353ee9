"""End-to-end fixtures: one real, distributed Airflow deployment for the whole e2e session.

What the run proved is printed at the end of the pytest output (the stack line, each s3://
object it checked, the timings), also under ``pytest -q`` where prints are captured.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "e2e-artifacts"
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "dags"))  # the e2e DAGs' ids and constants

from e2e_report import LINES, report  # noqa: E402
from stack import AirflowStack  # noqa: E402


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if LINES:
        terminalreporter.section("celonis e2e")
        for line in LINES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def stack(artifacts: Path) -> Iterator[AirflowStack]:
    running = AirflowStack(ROOT / "dags_examples", artifacts)
    started = time.monotonic()
    try:
        running.start()
        report(running.summary)
        report(f"stack up in {time.monotonic() - started:.0f} s")
        yield running
    finally:
        running.stop()
        report(f"stack up to torn down: {time.monotonic() - started:.0f} s")
