"""OpenLineage events and Asset events of the example DAGs under ``airflow dags test``.

The OpenLineage provider writes its events with its file transport (one JSON event per line),
so the test reads exactly what a lineage backend would receive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess

pytest.importorskip("airflow.providers.openlineage")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "dags_examples"


def _env(emulator: EmulatorProcess, tmp_path: Path, dags: Path, events: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
        "CELONIS_EXTRACT_DIR": str(tmp_path / "out"),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "celonis-tests",
    }


def _airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return run


def _events(path: Path) -> list[dict[str, Any]]:
    assert path.exists(), "the OpenLineage file transport wrote no event"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _complete(events: list[dict[str, Any]], job_suffix: str) -> dict[str, Any]:
    found = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith(job_suffix)]
    assert len(found) == 1, [(e["eventType"], e["job"]["name"]) for e in events]
    return found[0]


def _team_namespace(emulator: EmulatorProcess) -> str:
    from urllib.parse import urlsplit

    return f"celonis://{urlsplit(json.loads(emulator.connection_json())['host']).netloc}"


def test_nightly_extract_reports_the_final_files(emulator: EmulatorProcess, tmp_path: Path) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    env = _env(emulator, tmp_path, EXAMPLES / "nightly_audit_pull.py", events_file)
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "test", "nightly_audit_pull", "2025-11-01T00:00:00+00:00")
    events = _events(events_file)
    out = tmp_path / "out"
    team = _team_namespace(emulator)
    expected = {
        "audit_log": ("audit-log", 2880),
        "login_history": ("login-history", 1440),
        "studio_adoption": ("studio-adoption", 2160),
        "team_members": ("team-members", 57),
    }
    for task_id, (api, records) in expected.items():
        event = _complete(events, f".{task_id}")
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [(team, api)]
        [output] = event["outputs"]
        final = out / task_id / "2025-10-31.jsonl"
        assert (output["namespace"], output["name"]) == ("file", str(final))
        assert final.exists()
        assert output["outputFacets"]["outputStatistics"]["rowCount"] == records

    text = events_file.read_text()
    assert ".tmp" not in text  # never the temporary file the write goes through
    assert "client_secret" not in text and "secret" not in json.dumps([e["inputs"] for e in events])
