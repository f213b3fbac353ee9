"""The four usage extract operators, run through ``execute`` against the emulator over real HTTP."""

from __future__ import annotations

import csv
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pendulum
import pytest
from usage_support import AUDIT_PATH, END, START, context, iso, key, read_jsonl

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisNotFoundError,
    CelonisServerError,
)
from airflow_provider_celonis.operators.usage import (
    CelonisAuditLogOperator,
    CelonisLoginHistoryOperator,
    CelonisStudioAdoptionOperator,
    CelonisTeamMembersOperator,
)

WINDOWED = [
    (CelonisAuditLogOperator, {}, "audit", 720),
    (CelonisAuditLogOperator, {"api_version": 2}, "audit", 720),
    (CelonisLoginHistoryOperator, {}, "login", 360),
    (CelonisStudioAdoptionOperator, {}, "adoption", 540),
    (CelonisStudioAdoptionOperator, {"api_version": 2}, "adoption", 540),
]


def assert_ordered_unique(records: list[dict[str, Any]], field: str = "timestamp") -> None:
    stamps = [r[field] for r in records]
    assert stamps == sorted(stamps)
    assert len({key(r) for r in records}) == len(records)


@pytest.mark.parametrize(("operator", "kwargs", "stream", "count"), WINDOWED)
def test_default_window_is_the_runs_data_interval(
    emulator: EmulatorProcess, tmp_path: Path, operator: type, kwargs: dict[str, Any], stream: str, count: int
) -> None:
    op = operator(task_id="pull", output_path=str(tmp_path / "out.jsonl"), page_size=90, **kwargs)
    result = op.execute(context())
    assert result == {
        "path": str(tmp_path / "out.jsonl"),
        "records": count,
        "start": iso(START),
        "end": iso(END),
    }
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == count == emulator.usage_count(stream, iso(START), iso(END))
    assert_ordered_unique(records)


def test_explicit_window_overrides_the_interval(emulator: EmulatorProcess, tmp_path: Path) -> None:
    op = CelonisAuditLogOperator(
        task_id="pull",
        output_path=str(tmp_path / "a.jsonl"),
        start="2025-01-01T01:00:00Z",
        end="2025-01-01T02:00:00Z",
    )
    result = op.execute(context())
    assert result["records"] == 120
    assert result["start"] == "2025-01-01T01:00:00+00:00"
    assert all("2025-01-01T01" in r["timestamp"] for r in read_jsonl(tmp_path / "a.jsonl"))


def test_templates_render_output_path_and_window(emulator: EmulatorProcess, tmp_path: Path) -> None:
    op = CelonisLoginHistoryOperator(
        task_id="pull",
        output_path=str(tmp_path) + "/login/{{ ds }}.jsonl",
        start="{{ data_interval_start.add(hours=1).isoformat() }}",
        end="{{ data_interval_end.isoformat() }}",
    )
    ctx = context()
    op.render_template_fields(ctx)
    result = op.execute(ctx)
    assert result["path"] == str(tmp_path / "login" / "2025-01-01.jsonl")
    assert result["records"] == 300
    assert set(CelonisStudioAdoptionOperator.template_fields) >= {
        "output_path",
        "start",
        "end",
        "extra_params",
    }


def test_csv_output(emulator: EmulatorProcess, tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    assert (
        CelonisAuditLogOperator(task_id="p", output_path=str(out), output_format="csv").execute(context())[
            "records"
        ]
        == 720
    )
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 720
    assert list(rows[0])[:4] == ["timestamp", "event", "userId", "userRole"]
    assert json.loads(rows[0]["message"])["assetType"] == "STUDIO_ASSET"
    assert [r["timestamp"] for r in rows] == sorted(r["timestamp"] for r in rows)


def test_parquet_output(emulator: EmulatorProcess, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "login.parquet"
    CelonisLoginHistoryOperator(task_id="p", output_path=str(out), output_format="parquet").execute(context())
    table = pq.read_table(out)
    assert table.num_rows == 360
    assert str(table.schema.field("success").type) == "bool"
    assert table.column("timestamp").to_pylist() == sorted(table.column("timestamp").to_pylist())


def test_members_snapshot_in_every_format(emulator: EmulatorProcess, tmp_path: Path) -> None:
    result = CelonisTeamMembersOperator(task_id="m", output_path=str(tmp_path / "m.jsonl")).execute({})
    assert result == {"path": str(tmp_path / "m.jsonl"), "records": 57, "start": None, "end": None}
    members = read_jsonl(tmp_path / "m.jsonl")
    assert [m["userId"] for m in members] == sorted(m["userId"] for m in members)
    CelonisTeamMembersOperator(task_id="m", output_path=str(tmp_path / "m.csv"), output_format="csv").execute(
        {}
    )
    header = (tmp_path / "m.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("userId,nameAndEmail,status,userRole,lastLogin,lastLoginIso")


def test_object_storage_uri(emulator: EmulatorProcess, tmp_path: Path) -> None:
    uri = f"file://{tmp_path}/remote/audit.jsonl"
    result = CelonisAuditLogOperator(task_id="p", output_path=uri).execute(context())
    assert result["path"] == uri
    assert len(read_jsonl(tmp_path / "remote" / "audit.jsonl")) == 720
    assert [p.name for p in (tmp_path / "remote").iterdir()] == ["audit.jsonl"]


def test_rerun_is_byte_identical_whatever_the_server_order(emulator: EmulatorProcess, tmp_path: Path) -> None:
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    CelonisAuditLogOperator(task_id="p", output_path=str(first), page_size=70).execute(context())
    emulator.configure_usage(newest_first=False)
    CelonisAuditLogOperator(task_id="p", output_path=str(second), page_size=200, api_version=2).execute(
        context()
    )
    assert first.read_bytes() == second.read_bytes()
    CelonisAuditLogOperator(task_id="p", output_path=str(first), page_size=33).execute(context())
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("api_version", [1, 2])
def test_events_arriving_during_pagination_are_neither_lost_nor_duplicated(
    emulator: EmulatorProcess, tmp_path: Path, api_version: int
) -> None:
    out = tmp_path / "a.jsonl"
    # 20 a page: each of the 16 concurrent sub-windows (45 events) spans pages, so arrivals shift them.
    pull = CelonisAuditLogOperator(task_id="p", output_path=str(out), page_size=20, api_version=api_version)
    pull.execute(context())
    before = {key(r) for r in read_jsonl(out)}
    emulator.configure_usage(arrivals_per_request=7)
    result = pull.execute(context())
    records = read_jsonl(out)
    assert before < {key(r) for r in records}
    assert result["records"] == len(records)
    assert_ordered_unique(records)


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "rate_limit", "reset": 0, "times": 2},
        {"kind": "status", "status": 503, "times": 3},
        {"kind": "status", "status": 401, "times": 1},
    ],
    ids=["429", "503", "401-token-refused"],
)
def test_faults_mid_pagination_still_give_the_full_file(
    emulator: EmulatorProcess, tmp_path: Path, fast_retries: dict[str, float], fault: dict[str, Any]
) -> None:
    reference, faulted = tmp_path / "ref.jsonl", tmp_path / "faulted.jsonl"
    CelonisAuditLogOperator(task_id="p", output_path=str(reference), page_size=50).execute(context())
    emulator.add_faults([{"path": AUDIT_PATH, "skip": 5, **fault}])
    CelonisAuditLogOperator(
        task_id="p", output_path=str(faulted), page_size=50, hook_params=fast_retries
    ).execute(context())
    assert emulator.stats()["faults_pending"] == 0
    assert faulted.read_bytes() == reference.read_bytes()


def test_short_token_lifetime_loses_nothing(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """The token's 2 seconds run out while a slow page is served; the rest is pulled with a new one."""
    emulator.configure(token_lifetime=2)
    emulator.add_faults([{"path": AUDIT_PATH, "kind": "delay", "delay": 2.5, "skip": 5, "times": 1}])
    out = tmp_path / "a.jsonl"
    result = CelonisAuditLogOperator(task_id="p", output_path=str(out), page_size=20).execute(context())
    assert result["records"] == 720
    assert emulator.stats()["token_requests"] >= 2


@pytest.mark.parametrize("output_format", ["jsonl", "csv"])
def test_failed_pull_leaves_no_file_and_keeps_the_previous_one(
    emulator: EmulatorProcess, tmp_path: Path, fast_retries: dict[str, float], output_format: str
) -> None:
    out = tmp_path / f"audit.{output_format}"
    emulator.add_faults([{"path": AUDIT_PATH, "status": 503, "skip": 2, "times": -1}])
    op = CelonisAuditLogOperator(
        task_id="p", output_path=str(out), output_format=output_format, page_size=50, hook_params=fast_retries
    )
    with pytest.raises(CelonisServerError):
        op.execute(context())
    assert list(tmp_path.iterdir()) == []

    out.write_text("previous good extract\n")
    with pytest.raises(CelonisServerError):
        op.execute(context())
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    assert out.read_text() == "previous good extract\n"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"start": "2025-01-02T00:00:00Z", "end": "2025-01-01T00:00:00Z"}, "end"),
        ({"output_format": "xlsx"}, "output_format"),
        ({"output_path": "{tmp}/a-file/audit.jsonl"}, "output_path"),
        ({"output_path": "{tmp}"}, "output_path"),
        ({"output_path": "nosuchfs://bucket/audit.jsonl"}, "output_path"),
        ({"output_path": "file://{tmp}/a-file/audit.jsonl"}, "output_path"),
        ({"output_path": "file://{tmp}"}, "output_path"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 500}, "page_size"),
        ({"page_size": True}, "page_size"),
        ({"read_ahead": -1}, "read_ahead"),
        ({"read_ahead": 100}, "read_ahead"),
        ({"read_ahead": True}, "read_ahead"),
        ({"start": "yesterday"}, "start"),
        ({"spill_dir": "{tmp}/no-such-folder"}, "spill_dir"),
        ({"spill_dir": "{tmp}/a-file"}, "spill_dir"),
    ],
)
def test_bad_arguments_fail_before_any_network_call(
    emulator: EmulatorProcess, tmp_path: Path, kwargs: dict[str, Any], field: str
) -> None:
    (tmp_path / "a-file").write_text("a file, not a folder")
    args = {"task_id": "p", "output_path": str(tmp_path / "a.jsonl"), **kwargs}
    args["output_path"] = args["output_path"].replace("{tmp}", str(tmp_path))
    if "spill_dir" in args:
        args["spill_dir"] = args["spill_dir"].replace("{tmp}", str(tmp_path))
    with pytest.raises(CelonisConfigurationError) as caught:
        CelonisAuditLogOperator(**args).execute(context())
    assert caught.value.field == field
    assert "Fix:" in str(caught.value)
    assert emulator.stats()["api_calls"] == 0
    assert emulator.stats()["token_requests"] == 0


@pytest.mark.parametrize(
    ("operator", "kwargs", "field"),
    [
        (CelonisAuditLogOperator, {"api_version": 3}, "api_version"),
        (CelonisAuditLogOperator, {"api_version": "2"}, "api_version"),
        (CelonisStudioAdoptionOperator, {"api_version": 0}, "api_version"),
        (CelonisStudioAdoptionOperator, {"param_names": {"start": "startDate"}}, "param_names"),
        (CelonisStudioAdoptionOperator, {"timestamp_field": ""}, "timestamp_field"),
    ],
)
def test_operator_options_are_checked_even_for_an_empty_window(
    emulator: EmulatorProcess, tmp_path: Path, operator: type, kwargs: dict[str, Any], field: str
) -> None:
    """An explicit empty window makes no call, so a bad option must not hide behind an empty file."""
    out = tmp_path / "a.jsonl"
    op = operator(task_id="p", output_path=str(out), start=iso(START), end=iso(START), **kwargs)
    with pytest.raises(CelonisConfigurationError) as caught:
        op.execute(context())
    assert caught.value.field == field
    assert "Fix:" in str(caught.value)
    assert not out.exists()
    assert emulator.stats()["api_calls"] == 0


def test_an_empty_data_interval_is_an_error_not_an_empty_file(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Airflow 3's default cron timetable gives runs with start == end."""
    moment = pendulum.datetime(2025, 1, 1, tz="UTC")
    op = CelonisAuditLogOperator(task_id="p", output_path=str(tmp_path / "a.jsonl"))
    with pytest.raises(CelonisConfigurationError, match="CronDataIntervalTimetable"):
        op.execute(context(moment, moment))
    with pytest.raises(CelonisConfigurationError, match="no data interval"):
        op.execute({})
    assert emulator.stats()["api_calls"] == 0


def test_hook_params_reach_the_hook(emulator: EmulatorProcess, tmp_path: Path) -> None:
    op = CelonisAuditLogOperator(
        task_id="p",
        output_path=str(tmp_path / "a.jsonl"),
        hook_params={"api_prefixes": {"audit_log": "/nolog"}},
    )
    with pytest.raises(CelonisNotFoundError):
        op.execute(context())
    # Concurrent by default: the first requests in flight (START_LIMIT, 4), then no more.
    assert 1 <= emulator.requests_to("GET", "/nolog/api/external/audit") <= 4
    assert not (tmp_path / "a.jsonl").exists()


def test_operators_do_no_io_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CELONIS_DEFAULT", raising=False)
    op = CelonisAuditLogOperator(
        task_id="p", output_path="/nonexistent/dir/a.jsonl", celonis_conn_id="missing"
    )
    assert op.template_fields == ("output_path", "start", "end")


def test_no_secret_in_logs_or_xcom(
    emulator: EmulatorProcess,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    result = CelonisLoginHistoryOperator(task_id="p", output_path=str(tmp_path / "l.jsonl")).execute(
        context()
    )
    # Airflow's structlog writes the task log to stdout here, not to the logging records.
    log = caplog.text + capsys.readouterr().out
    assert "Wrote 360 records" in log  # the log was captured at all
    assert "demo-secret" not in log
    assert "Bearer" not in log
    assert "demo-secret" not in json.dumps(result)
    assert set(result) == {"path", "records", "start", "end"}


def test_importing_the_operators_stays_light() -> None:
    """DAG files import the operators at parse time: no hook, HTTP client or pyarrow then."""
    code = (
        "import sys; import airflow_provider_celonis.operators.usage; "
        "heavy = {'airflow_provider_celonis.hooks.usage', 'requests', 'pyarrow'} & set(sys.modules); "
        "print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
