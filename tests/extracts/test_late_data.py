"""No event left behind: settle period, re-check of recent intervals, against a lagging emulator.

The emulator's ``visibility_delay`` makes an event queryable only some minutes after its
timestamp, as Celonis's asynchronous ingestion does. The operators' clock follows the
emulator's (``EmulatorClock``), so "a run at 00:00:05" and "a 15-minute settle" are exact
and take no real time.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
import pytest
from data_pool_helpers import fresh_instance, run_trigger
from usage_support import EmulatorClock, context, iso, read_jsonl

from airflow_provider_celonis.compat import TaskDeferred
from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts import late_data as _late_data
from airflow_provider_celonis.extracts import pull as _pull
from airflow_provider_celonis.operators.usage import (
    CelonisAuditLogOperator,
    CelonisLoginHistoryOperator,
    CelonisTeamMembersOperator,
)

DAY1 = pendulum.datetime(2025, 1, 1, tz="UTC")
DAY2 = DAY1.add(days=1)
DAY3 = DAY2.add(days=1)
LAG = 300  # events become queryable five minutes after their timestamp


@pytest.fixture
def clock(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> EmulatorClock:
    """Celonis lags by LAG seconds; the run starts five seconds after DAY2 (a nightly at 00:00)."""
    emulator.configure_usage(visibility_delay=LAG)
    fake = EmulatorClock(emulator, DAY2.add(seconds=5))
    monkeypatch.setattr(_late_data, "CLOCK", fake)
    return fake


def audit(tmp_path: Path, **kwargs: Any) -> CelonisAuditLogOperator:
    path = str(tmp_path) + "/audit/{{ data_interval_start.strftime('%Y-%m-%d') }}.jsonl"
    return CelonisAuditLogOperator(task_id="audit_log", output_path=path, page_size=100, **kwargs)


def run(op: Any, start: pendulum.DateTime, end: pendulum.DateTime) -> dict[str, Any]:
    ctx = context(start, end)
    op.render_template_fields(ctx)
    return op.execute(ctx)  # type: ignore[no-any-return]


def day_file(tmp_path: Path, day: pendulum.DateTime) -> Path:
    return tmp_path / "audit" / f"{day.to_date_string()}.jsonl"


def test_without_settle_a_pull_at_midnight_loses_the_last_minutes(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path
) -> None:
    """The problem: the night's run asks at 00:00:05 for events up to 00:00, some not queryable yet."""
    result = run(audit(tmp_path, settle_period=0), DAY1, DAY2)
    truth = emulator.usage_count("audit", iso(DAY1), iso(DAY2))
    assert truth == 2880
    assert result["records"] < truth  # the events of the last five minutes are missing
    assert truth - result["records"] == pytest.approx(10, abs=3)  # 120 an hour
    assert clock.slept == []


def test_default_settle_period_waits_then_loses_nothing(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(audit(tmp_path), DAY1, DAY2)  # defaults: settle_period 15 minutes, sync
    assert result["records"] == emulator.usage_count("audit", iso(DAY1), iso(DAY2)) == 2880
    assert sum(clock.slept) == pytest.approx(900 - 5, abs=1)
    assert max(clock.slept) <= _late_data.PROGRESS_EVERY  # progress logged at a steady cadence
    log = capsys.readouterr().out  # the task log (Airflow's structlog writes to stdout here)
    assert "less than settle_period=900s ago" in log
    assert log.count("Waiting") == len(clock.slept)
    first = day_file(tmp_path, DAY1).read_bytes()
    again = run(audit(tmp_path), DAY1, DAY2)  # a second run of the same interval
    assert again["records"] == result["records"]
    assert day_file(tmp_path, DAY1).read_bytes() == first


def test_a_backfill_of_an_old_interval_does_not_wait(clock: EmulatorClock, tmp_path: Path) -> None:
    op = audit(tmp_path, deferrable=True)
    result = run(op, DAY1.subtract(days=3), DAY1.subtract(days=2))
    assert result["records"] == 2880
    assert clock.slept == []


def test_deferrable_settle_holds_no_worker_and_makes_no_call(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path
) -> None:
    op = audit(tmp_path, deferrable=True, settle_period=timedelta(minutes=10))
    ctx = context(DAY1, DAY2)
    op.render_template_fields(ctx)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    trigger = deferred.value.trigger
    assert type(trigger).__name__ == "DateTimeTrigger"
    assert trigger.moment == DAY2.add(minutes=10)
    assert deferred.value.method_name == "execute_settled"
    assert emulator.stats()["api_calls"] == 0 and emulator.stats()["token_requests"] == 0
    assert not day_file(tmp_path, DAY1).exists()
    clock.advance(600)  # the triggerer's wait
    import asyncio

    classpath, kwargs = trigger.serialize()  # Airflow's serde stores the datetime; rebuild it
    assert classpath.endswith("DateTimeTrigger") and kwargs["moment"] == DAY2.add(minutes=10)
    events = asyncio.run(run_trigger(type(trigger)(**kwargs)))  # that moment is in the real past
    resumed = fresh_instance(op)
    resumed.render_template_fields(ctx)
    result = resumed.execute_settled(ctx, events[0])
    assert result["records"] == emulator.usage_count("audit", iso(DAY1), iso(DAY2))


def test_connection_extra_sets_the_default_and_the_argument_wins(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(settle_period=420))
    run(audit(tmp_path), DAY1, DAY2)
    assert sum(clock.slept) == pytest.approx(415, abs=1)
    clock.slept.clear()
    run(audit(tmp_path, settle_period=0), DAY1, DAY2)
    assert clock.slept == []
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(settle_period="soon"))
    calls = emulator.stats()["api_calls"]
    with pytest.raises(CelonisConfigurationError, match=r"extra\.settle_period"):
        run(audit(tmp_path), DAY1, DAY2)
    assert emulator.stats()["api_calls"] == calls


def test_recheck_finds_late_events_and_rewrites_the_file_in_place(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Night 1 ran without a settle period and lost the last minutes; night 2 re-checks night 1."""
    early = run(audit(tmp_path, settle_period=0), DAY1, DAY2)
    missed = emulator.usage_count("audit", iso(DAY1), iso(DAY2)) - early["records"]
    assert missed > 0
    clock.advance(86400)  # the next night, 00:00:05 + the default settle
    second = run(audit(tmp_path, recheck_intervals=2), DAY2, DAY3)
    assert second["recheck"] == {
        "intervals_checked": 1,
        "intervals_rewritten": 1,
        "late_events": missed,
        "intervals_missing": [str(tmp_path / "audit" / "2024-12-31.jsonl")],
        "intervals_shrunk": [],
    }
    assert (
        f"Re-checked 1 earlier intervals: 1 rewritten, {missed} late events found" in capsys.readouterr().out
    )
    # The rewritten file is exactly what a complete pull of night 1 writes: same name, same order.
    rewritten = day_file(tmp_path, DAY1).read_bytes()
    reference = tmp_path / "reference.jsonl"
    CelonisAuditLogOperator(task_id="r", output_path=str(reference), settle_period=0).execute(
        context(DAY1, DAY2)
    )
    assert rewritten == reference.read_bytes()
    assert len(read_jsonl(day_file(tmp_path, DAY1))) == 2880
    # Nothing late any more: a re-run re-checks and rewrites nothing, byte for byte.
    third = run(audit(tmp_path, recheck_intervals=1), DAY2, DAY3)
    assert third["recheck"]["intervals_rewritten"] == 0 and third["recheck"]["late_events"] == 0
    assert day_file(tmp_path, DAY1).read_bytes() == rewritten


@pytest.mark.parametrize("output_format", ["csv", "parquet"])
def test_recheck_counts_csv_and_parquet_files(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path, output_format: str
) -> None:
    pytest.importorskip("pyarrow")
    path = str(tmp_path) + "/{{ ds }}." + output_format
    first = CelonisLoginHistoryOperator(
        task_id="l", output_path=path, output_format=output_format, settle_period=0
    )
    run(first, DAY1, DAY2)
    clock.advance(86400)
    again = CelonisLoginHistoryOperator(
        task_id="l", output_path=path, output_format=output_format, recheck_intervals=1
    )
    result = run(again, DAY2, DAY3)
    assert result["recheck"]["intervals_rewritten"] == 1
    assert result["recheck"]["late_events"] == pytest.approx(5, abs=2)  # 60 logins an hour


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"settle_period": -1}, "settle_period"),
        ({"settle_period": "soon"}, "settle_period"),
        ({"settle_period": True}, "settle_period"),
        ({"settle_period": float("nan")}, "settle_period"),
        ({"settle_period": timedelta(days=8)}, "settle_period"),
        ({"overlap": -5}, "overlap"),
        ({"recheck_intervals": -1}, "recheck_intervals"),
        ({"recheck_intervals": 2.0}, "recheck_intervals"),
        ({"recheck_intervals": 1000}, "recheck_intervals"),
        ({"recheck_intervals": 1, "since_last_load": True}, "recheck_intervals"),
        ({"page_size": 0}, "page_size"),
        ({"since_last_load": "yes"}, "since_last_load"),
        ({"since_last_load": True, "high_water_mark_variable": 5}, "high_water_mark_variable"),
    ],
)
def test_bad_late_data_arguments_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(CelonisConfigurationError) as caught:
        CelonisAuditLogOperator(task_id="p", output_path="/tmp/x.jsonl", **kwargs)
    assert caught.value.field == field
    assert "Fix:" in str(caught.value)


def test_a_snapshot_has_no_interval_to_recheck() -> None:
    with pytest.raises(CelonisConfigurationError, match="snapshot"):
        CelonisTeamMembersOperator(task_id="m", output_path="/tmp/m.jsonl", recheck_intervals=1)


def test_recheck_never_shrinks_a_delivered_file(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Celonis answering fewer events than a file holds (deletion, a short answer) keeps the file."""
    run(audit(tmp_path), DAY1, DAY2)
    kept = day_file(tmp_path, DAY1).read_bytes()
    clock.advance(86400)
    emulator.configure_usage(audit_per_hour=60)  # half the events are gone
    result = run(audit(tmp_path, recheck_intervals=1), DAY2, DAY3)
    assert result["recheck"]["intervals_shrunk"] == [str(day_file(tmp_path, DAY1))]
    assert result["recheck"]["intervals_rewritten"] == 0
    assert day_file(tmp_path, DAY1).read_bytes() == kept
    assert "1440 fewer than" in capsys.readouterr().out


def test_a_long_pull_logs_its_progress(
    emulator: EmulatorProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(_pull, "PROGRESS_EVERY", 0.0)  # every 5,000 records, whatever the speed
    emulator.configure_usage(audit_per_hour=12_000)
    result = CelonisAuditLogOperator(
        task_id="p", output_path=str(tmp_path / "a.jsonl"), settle_period=0
    ).execute(context(DAY1, DAY1.add(hours=1)))
    assert result["records"] == 12_000
    assert capsys.readouterr().out.count("Pulled ") == 2  # at 5,000 and 10,000
