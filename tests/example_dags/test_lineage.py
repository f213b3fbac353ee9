"""OpenLineage events and Asset events of the example DAGs under ``airflow dags test``.

The OpenLineage provider writes its events with its file transport (one JSON event per line),
so the test reads exactly what a lineage backend would receive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess

pytest.importorskip("airflow.providers.openlineage")

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "dags_examples"
FERNET_KEY = "3rqDcNVLsHq_NDEaz9DQ3rbgw2OsRhEjRQx0-0ALcoM="  # a test key, fixed: nothing secret here


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
        # One key for every process: without it each run encrypts Variables with its own.
        "AIRFLOW__CORE__FERNET_KEY": FERNET_KEY,
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


ASSET_QUERY = """
import json
from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session

with create_session() as session:
    events = (
        session.query(AssetModel.uri, AssetEvent.source_dag_id, AssetEvent.source_task_id)
        .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
        .all()
    )
    queued = [row[0] for row in session.query(AssetDagRunQueue.target_dag_id).all()]
    runs = [(r.dag_id, str(r.run_type)) for r in session.query(DagRun).all()]
print(json.dumps({"events": [list(e) for e in events], "queued": queued, "runs": runs}))
"""


def _asset_state(env: dict[str, str]) -> dict[str, Any]:
    run = _airflow_python(env, ASSET_QUERY)
    return json.loads(run.stdout.strip().splitlines()[-1])


def _airflow_python(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    return run


def test_push_records_its_asset_and_reports_its_table(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """The push of ``push_then_asset_consumer`` (not deferred: the resolved file is reported):
    an Asset event for its table, the consumer DAG queued by it, and OpenLineage events that name
    the source file and the pool table with the rows pushed."""
    from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID

    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        **_env(emulator, tmp_path, EXAMPLES / "push_then_asset_consumer.py", events_file),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "False",
    }
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "reserialize")  # the consumer DAG is known, with its Asset schedule
    _airflow(env, "dags", "test", "celonis_push_orders", "2025-11-01T00:00:00+00:00")
    assert emulator.push_table(DEFAULT_POOL_ID, "orders_by_asset")["row_count"] == 100

    asset = f"x-celonis://data-pools/{DEFAULT_POOL_ID}/tables/orders_by_asset"
    state = _asset_state(env)
    assert state["events"] == [[asset, "celonis_push_orders", "push_orders"]]
    assert state["queued"] == ["celonis_orders_consumer"]
    # The scheduler turns the queue into the consumer's run (a few loops; nothing executes it).
    # It runs until that run exists, then is stopped: `--num-runs` once hung on exit for minutes
    # (LocalExecutor shutdown) on a fresh CI machine, which says nothing about the asset.
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "airflow", "scheduler"],
        env={**env, "AIRFLOW__CORE__EXECUTOR": "LocalExecutor"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    consumer_runs: list[Any] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and scheduler.poll() is None:
            state = _asset_state(env)
            consumer_runs = [r for r in state["runs"] if r[0] == "celonis_orders_consumer"]
            if consumer_runs:
                break
            time.sleep(2)
    finally:
        scheduler.terminate()
        try:
            output, _ = scheduler.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            output, _ = scheduler.communicate()
    assert consumer_runs == [["celonis_orders_consumer", "asset_triggered"]], output[-4000:]

    event = _complete(_events(events_file), ".push_orders")
    source = tmp_path / "out" / "asset_push" / "orders.csv"
    assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [("file", str(source))]
    [output] = event["outputs"]
    assert (output["namespace"], output["name"]) == (
        _team_namespace(emulator),
        f"{DEFAULT_POOL_ID}.orders_by_asset",
    )
    stats = output["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == 100
    assert stats["size"] == source.stat().st_size
    job_id = event["run"]["facets"]["externalQuery"]["externalQueryId"]
    assert job_id and event["run"]["facets"]["externalQuery"]["source"] == _team_namespace(emulator)


def test_deferred_pipeline_reports_push_job_and_model(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """``push_then_transform`` with every wait deferred: each task resumes in a fresh operator,
    which still reports its datasets (the push its source argument, a concrete file here)."""
    from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID

    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        **_env(emulator, tmp_path, EXAMPLES / "push_then_transform.py", events_file),
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
    }
    _airflow(env, "db", "migrate")
    _airflow(env, "dags", "test", "celonis_push_then_transform", "2025-11-01T00:00:00+00:00")
    events = _events(events_file)
    team = _team_namespace(emulator)

    push = _complete(events, ".push_orders")
    source = tmp_path / "out" / "data_push" / "orders.csv"
    assert [(d["namespace"], d["name"]) for d in push["inputs"]] == [("file", str(source))]
    assert [(d["namespace"], d["name"]) for d in push["outputs"]] == [(team, f"{DEFAULT_POOL_ID}.orders")]
    assert push["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 5000

    job = _complete(events, ".run_data_job")
    assert [(d["namespace"], d["name"]) for d in job["inputs"]] == [(team, DEFAULT_POOL_ID)]
    assert [(d["namespace"], d["name"]) for d in job["outputs"]] == [(team, DEFAULT_POOL_ID)]
    run = job["run"]["facets"]["externalQuery"]  # the execution the resumed operator was told of
    assert run["externalQueryId"] and run["source"] == team

    model = _complete(events, ".reload_data_model")
    assert [(d["namespace"], d["name"]) for d in model["inputs"]] == [(team, DEFAULT_POOL_ID)]
    [out] = model["outputs"]
    assert out["namespace"] == team and out["name"].startswith("data-models/")
    assert model["run"]["facets"]["externalQuery"]["externalQueryId"]  # the data load id


def test_scim_and_knowledge_model_exports_report_their_files(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    env = _env(emulator, tmp_path, EXAMPLES, events_file)
    _airflow(env, "db", "migrate")
    for dag_id in ("access_review_and_provisioning", "knowledge_model_export"):
        _airflow(env, "dags", "test", dag_id, "2025-11-01T00:00:00+00:00")
    events = _events(events_file)
    team = _team_namespace(emulator)
    out = tmp_path / "out"

    review = _complete(events, ".access_review")
    assert [(d["namespace"], d["name"]) for d in review["inputs"]] == [
        (team, "scim/Users"),
        (team, "scim/Groups"),
    ]
    [output] = review["outputs"]
    assert output["name"] == str(out / "scim" / "2025-11-01" / "access_review.jsonl")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 24 + 4

    orders = _complete(events, ".open_orders")
    assert [(d["namespace"], d["name"]) for d in orders["inputs"]] == [
        (team, "knowledge-models/km-order-to-cash/records/ORDER")
    ]
    [output] = orders["outputs"]
    assert output["name"] == str(out / "knowledge_model" / "2025-11-01" / "open_orders.jsonl")
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 3000
