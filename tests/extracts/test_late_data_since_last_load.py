"""The "since last load" mode across consecutive runs, against an emulator whose events show up late.

Each run starts at the previous run's high-water mark minus the overlap; records of the
overlap that an earlier run delivered are dropped by digest. Over several runs the files
together hold every event exactly once, re-running a run rewrites the same bytes, and the
state lives in XCom (this task's previous run) or in a Variable the user names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pendulum
import pytest
from usage_support import EmulatorClock, context, iso, key, read_jsonl

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts import late_data as _late_data
from airflow_provider_celonis.hooks.usage import iso_ms
from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

DAY1 = pendulum.datetime(2025, 1, 1, tz="UTC")
DELAY, JITTER = 60, 480
"""Events show up one to nine minutes late, out of order; the overlap (600 s) covers that."""


class XComStore:
    """This task's XComs across runs, as Airflow keeps them: a run's own are cleared when it
    (re)starts, and ``include_prior_dates`` gives the newest value of the runs so far."""

    def __init__(self) -> None:
        self.by_run: dict[str, dict[str, Any]] = {}

    def ti(self, run_id: str) -> Any:
        store = self
        store.by_run.pop(run_id, None)

        class TI:
            def xcom_push(self, key: str, value: Any) -> None:
                store.by_run.setdefault(run_id, {})[key] = json.loads(json.dumps(value))

            map_index = -1

            def xcom_pull(
                self, task_ids: str, key: str, include_prior_dates: bool = False, map_indexes: Any = None
            ) -> Any:
                assert include_prior_dates and task_ids == "audit_log" and map_indexes == -1
                values = [v[key] for v in store.by_run.values() if key in v]
                return values[-1] if values else None

        return TI()


def assert_same_run_later(
    again: dict[str, Any], first: dict[str, Any], rewritten: bytes, written: bytes
) -> None:
    """A run re-run a moment later: it starts where it started, and writes what it wrote plus only
    what became visible in between (the emulator's clock runs with real time, and events keep
    showing up late; at the same moment the bytes would be the same)."""
    moving = {"end": None, "records": None, "high_water_mark": None}  # may grow with new events
    assert {**again, **moving} == {**first, **moving}
    assert again["records"] >= first["records"]
    assert again.get("high_water_mark", "") >= first.get("high_water_mark", "")
    new_lines = set(rewritten.splitlines())
    assert all(line in new_lines for line in written.splitlines())
    assert len(rewritten.splitlines()) == again["records"]


@pytest.fixture
def clock(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> EmulatorClock:
    emulator.configure_usage(visibility_delay=DELAY, visibility_jitter=JITTER, audit_per_hour=600)
    fake = EmulatorClock(emulator, DAY1.add(hours=2))
    monkeypatch.setattr(_late_data, "CLOCK", fake)
    return fake


def pull(tmp_path: Path, run_id: str, ti: Any, **kwargs: Any) -> dict[str, Any]:
    op = CelonisAuditLogOperator(
        task_id="audit_log",
        output_path=str(tmp_path) + "/{{ run_id }}.jsonl",
        **{"since_last_load": True, "overlap": 600, "settle_period": 0, **kwargs},
    )
    # A manual or hourly run: the interval's start is where the very first run begins.
    ctx = {**context(DAY1, DAY1.add(hours=1)), "run_id": run_id, "ti": ti}
    op.render_template_fields(ctx)
    return op.execute(ctx)  # type: ignore[no-any-return]


def test_four_runs_with_late_events_deliver_every_event_exactly_once(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = XComStore()
    results = []
    for n in range(1, 5):
        results.append(pull(tmp_path, f"run{n}", store.ti(f"run{n}")))
        clock.advance(3600 + 17 * n)  # hourly, not on the minute
    marks = [r["high_water_mark"] for r in results]
    assert marks == sorted(marks) and len(set(marks)) == 4
    log = capsys.readouterr().out
    assert "delivered by an earlier run" in log
    assert "high-water mark (none: first run)" in log
    # Each later run re-read its overlap and dropped what an earlier run had written.
    delivered = [record for n in range(1, 5) for record in read_jsonl(tmp_path / f"run{n}.jsonl")]
    assert len({key(r) for r in delivered}) == len(delivered)  # nothing twice
    # Nothing missed: every event that had surely shown up by the last run (older than its end
    # minus the longest lag) is in the files, the late ones included.
    cutoff = pendulum.parse(results[-1]["end"]).subtract(seconds=DELAY + JITTER)
    delivered_before = sorted(key(r) for r in delivered if r["timestamp"] < iso_ms(cutoff))
    assert len(delivered_before) == emulator.usage_count("audit", iso(DAY1), iso(cutoff)) > 2000
    reference = tmp_path / "reference.jsonl"
    CelonisAuditLogOperator(
        task_id="r", output_path=str(reference), start=iso(DAY1), end=iso(cutoff), settle_period=0
    ).execute(context())
    assert delivered_before == sorted(key(r) for r in read_jsonl(reference))


def test_rerunning_a_run_rewrites_the_same_bytes(clock: EmulatorClock, tmp_path: Path) -> None:
    store = XComStore()
    pull(tmp_path, "run1", store.ti("run1"))
    clock.advance(3600)
    second = pull(tmp_path, "run2", store.ti("run2"))
    written = (tmp_path / "run2.jsonl").read_bytes()
    assert second["records"] > 0
    again = pull(tmp_path, "run2", store.ti("run2"))  # cleared and run again, a moment later
    assert_same_run_later(again, second, (tmp_path / "run2.jsonl").read_bytes(), written)


def test_variable_keeps_the_state_and_a_rerun_starts_where_it_started(
    clock: EmulatorClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import Variable

    variables: dict[str, str] = {}
    monkeypatch.setattr(Variable, "get", staticmethod(lambda k, default=None: variables.get(k, default)))
    monkeypatch.setattr(Variable, "set", staticmethod(lambda k, v, **_: variables.__setitem__(k, v)))
    first = pull(tmp_path, "a", None, high_water_mark_variable="audit_hwm")
    state = json.loads(variables["audit_hwm"])
    assert state["mark"] == first["high_water_mark"] and state["run_id"] == "a" and state["seen"]
    clock.advance(3600)
    second = pull(tmp_path, "b", None, high_water_mark_variable="audit_hwm")
    written = (tmp_path / "b.jsonl").read_bytes()
    # The Variable now holds run b's mark; re-running b must not start from it.
    again = pull(tmp_path, "b", None, high_water_mark_variable="audit_hwm")
    assert_same_run_later(again, second, (tmp_path / "b.jsonl").read_bytes(), written)
    variables["audit_hwm"] = "not json"
    with pytest.raises(CelonisConfigurationError, match="high_water_mark"):
        pull(tmp_path, "c", None, high_water_mark_variable="audit_hwm")


def test_runs_without_events_keep_their_place(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path
) -> None:
    """No event yet: the next run resumes where the last window ended, not at its own interval."""
    store = XComStore()
    emulator.configure_usage(audit_per_hour=1)  # one event an hour... at the full hour
    result = pull(tmp_path, "q1", store.ti("q1"), start=iso(DAY1.add(minutes=1)))
    assert result["records"] == 0 and result["high_water_mark"] is None
    assert store.by_run["q1"][_late_data.STATE_KEY]["until"] is not None
    clock.advance(7200)
    later = pull(tmp_path, "q2", store.ti("q2"), start=iso(DAY1.add(minutes=1)))
    assert later["start"] < iso(DAY1.add(hours=2))  # resumed from q1's end minus the overlap
    assert later["records"] >= 1


def test_an_overlap_shorter_than_the_lag_loses_events(
    emulator: EmulatorProcess, clock: EmulatorClock, tmp_path: Path
) -> None:
    """Why the overlap exists: with one minute of overlap and up to nine of lag, events are lost."""
    store = XComStore()
    for n in range(1, 4):
        last = pull(tmp_path, f"run{n}", store.ti(f"run{n}"), overlap=60)["high_water_mark"]
        clock.advance(3600)
    delivered = [
        r for n in range(1, 4) for r in read_jsonl(tmp_path / f"run{n}.jsonl") if r["timestamp"] < last
    ]
    assert len(delivered) < emulator.usage_count("audit", iso(DAY1), last)
