"""Review attacks on the late-data tools: settle period edges, the re-check, "since last load".

Each test plays one hostile or boundary case over real HTTP (the emulator, or a server of the
test's own where an exact page content is needed) and states what must hold.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pendulum
import pytest
from usage_attack_server import AttackServer, attack_server_fixture  # noqa: F401 - the fixture
from usage_support import context, read_jsonl

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts import late_data as _late_data
from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

DAY1 = pendulum.datetime(2025, 1, 1, tz="UTC")
DAY2 = DAY1.add(days=1)
DAY3 = DAY2.add(days=1)
AUDIT = "/log/api/external/audit"


class FrozenClock:
    """Time stands still until the operator sleeps: "exactly now - settle" is exact."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)


def run(op: Any, start: pendulum.DateTime, end: pendulum.DateTime, **extra: Any) -> dict[str, Any]:
    ctx = {**context(start, end), **extra}
    op.render_template_fields(ctx)
    return op.execute(ctx)  # type: ignore[no-any-return]


def day_op(tmp_path: Path, **kwargs: Any) -> CelonisAuditLogOperator:
    path = str(tmp_path) + "/audit/{{ data_interval_start.strftime('%Y-%m-%d') }}.jsonl"
    return CelonisAuditLogOperator(task_id="audit_log", output_path=path, **kwargs)


# -- settle period -----------------------------------------------------------------------------
def test_a_window_that_ended_exactly_settle_period_ago_does_not_wait(
    emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FrozenClock(DAY2 + timedelta(seconds=900))
    monkeypatch.setattr(_late_data, "CLOCK", clock)
    run(day_op(tmp_path), DAY1, DAY2)
    assert clock.slept == []
    clock.at = DAY2 + timedelta(seconds=900) - timedelta(microseconds=1)
    run(day_op(tmp_path), DAY1, DAY2)
    assert sum(clock.slept) == pytest.approx(1e-6)


@pytest.mark.parametrize("value", ["-5", -5, True, 10**9, "inf", "15 minutes", [900], {"s": 1}])
def test_a_bad_settle_period_extra_fails_before_any_call(
    emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: Any
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(settle_period=value))
    with pytest.raises(CelonisConfigurationError, match=r"extra\.settle_period") as caught:
        run(day_op(tmp_path), DAY1, DAY2)
    assert "Fix:" in str(caught.value)
    assert emulator.stats()["api_calls"] == 0 and emulator.stats()["token_requests"] == 0


@pytest.mark.parametrize("value", ["900", 900.0, timedelta(minutes=15), "0", timedelta(0)])
def test_settle_period_spellings_are_accepted(value: Any) -> None:
    op = CelonisAuditLogOperator(task_id="a", output_path="/tmp/a.jsonl", settle_period=value)
    assert op.settle_period in (900.0, 0.0)


@pytest.mark.parametrize("value", [timedelta(seconds=-1), timedelta(days=8), -0.5, "-1", float("inf")])
def test_negative_or_huge_settle_periods_are_refused_at_parse_time(value: Any) -> None:
    with pytest.raises(CelonisConfigurationError, match="settle_period"):
        CelonisAuditLogOperator(task_id="a", output_path="/tmp/a.jsonl", settle_period=value)


def test_a_resume_long_after_the_settle_time_pulls_at_once(
    emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The triggerer was down for days: the resumed task pulls, it does not defer again."""
    clock = FrozenClock(DAY2 + timedelta(days=3))
    monkeypatch.setattr(_late_data, "CLOCK", clock)
    op = day_op(tmp_path, deferrable=True)
    ctx = context(DAY1, DAY2)
    op.render_template_fields(ctx)
    result = op.execute_settled(ctx, {"timestamp": "x"})
    assert result["records"] == 2880 and clock.slept == []


# -- re-check ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "template", ["/audit.jsonl", "/{{ run_id }}.jsonl", "/{{ data_interval_start.strftime('%Y-%m') }}.jsonl"]
)
def test_recheck_refuses_a_path_that_does_not_name_the_interval(
    emulator: EmulatorProcess, tmp_path: Path, template: str
) -> None:
    """Re-checking into the file this run just wrote (or one file for several intervals) would
    replace this interval's events with another interval's."""
    op = CelonisAuditLogOperator(
        task_id="audit_log", output_path=str(tmp_path) + template, recheck_intervals=2, settle_period=0
    )
    with pytest.raises(CelonisConfigurationError, match="output_path") as caught:
        run(op, DAY2, DAY3)
    assert "data_interval_start" in str(caught.value)
    assert emulator.stats()["api_calls"] == 0
    assert list(tmp_path.iterdir()) == []


def test_recheck_rewrites_an_interval_whose_events_changed_but_not_their_count(
    emulator: EmulatorProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One event arrived late while another was removed: the count is the same, the file is not."""
    run(day_op(tmp_path, settle_period=0), DAY1, DAY2)
    path = tmp_path / "audit" / "2025-01-01.jsonl"
    complete = path.read_bytes()
    lines = complete.decode().splitlines(keepends=True)
    stale = json.loads(lines[100])
    stale["userId"] = "someone-celonis-no-longer-has"
    lines[100] = json.dumps(stale, sort_keys=True, separators=(",", ":")) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    result = run(day_op(tmp_path, settle_period=0, recheck_intervals=1), DAY2, DAY3)
    assert result["recheck"]["intervals_rewritten"] == 1
    assert path.read_bytes() == complete
    assert "different records" in capsys.readouterr().out


def test_a_recheck_whose_pull_fails_midway_keeps_the_old_file(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    run(day_op(tmp_path, settle_period=0), DAY1, DAY2)
    path = tmp_path / "audit" / "2025-01-01.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:-10]), encoding="utf-8")  # ten events short: will be rewritten
    old = path.read_bytes()
    # Its own interval takes 16 requests (15 pages and the empty one); the re-check fails at its 6th.
    emulator.add_faults([{"path": AUDIT, "status": 500, "skip": 16 + 5, "times": -1}])
    op = day_op(
        tmp_path,
        settle_period=0,
        recheck_intervals=1,
        read_ahead=0,
        max_concurrency=1,
        hook_params={"max_attempts": 1},
    )
    with pytest.raises(Exception, match="500"):
        run(op, DAY2, DAY3)
    assert path.read_bytes() == old
    assert sorted(p.name for p in (tmp_path / "audit").iterdir()) == ["2025-01-01.jsonl", "2025-01-02.jsonl"]


def test_concurrent_reruns_of_a_recheck_leave_one_whole_file(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    run(day_op(tmp_path, settle_period=0), DAY1, DAY2)
    complete = (tmp_path / "audit" / "2025-01-01.jsonl").read_bytes()
    (tmp_path / "audit" / "2025-01-01.jsonl").write_bytes(complete[: len(complete) // 2])
    errors: list[BaseException] = []

    def rerun() -> None:
        try:
            run(day_op(tmp_path, settle_period=0, recheck_intervals=1), DAY2, DAY3)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=rerun) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert (tmp_path / "audit" / "2025-01-01.jsonl").read_bytes() == complete
    assert sorted(p.name for p in (tmp_path / "audit").iterdir()) == ["2025-01-01.jsonl", "2025-01-02.jsonl"]


# -- since last load -----------------------------------------------------------------------------
def ev(ts: str, user: str) -> dict[str, Any]:
    return {"timestamp": ts, "event": "LOGIN", "userId": user}


class Variables:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from airflow.sdk import Variable

        self.values: dict[str, str] = {}
        monkeypatch.setattr(
            Variable, "get", staticmethod(lambda k, default=None: self.values.get(k, default))
        )
        monkeypatch.setattr(Variable, "set", staticmethod(lambda k, v, **_: self.values.__setitem__(k, v)))


def incremental(tmp_path: Path, run_id: str, **kwargs: Any) -> dict[str, Any]:
    op = CelonisAuditLogOperator(
        task_id="audit_log",
        celonis_conn_id="celonis_attack",
        output_path=str(tmp_path) + "/{{ run_id }}.jsonl",
        **{
            "since_last_load": True,
            "high_water_mark_variable": "hwm",
            "overlap": 3600,
            "settle_period": 0,
            "start": "2025-01-01T00:00:00Z",
            **kwargs,
        },
    )
    ctx = {**context(DAY1, DAY1.add(hours=1)), "run_id": run_id}
    op.render_template_fields(ctx)
    return op.execute(ctx)  # type: ignore[no-any-return]


def delivered(tmp_path: Path, *runs: str) -> list[str]:
    return [
        json.dumps(r, sort_keys=True) for run_id in runs for r in read_jsonl(tmp_path / f"{run_id}.jsonl")
    ]


def test_distinct_events_sharing_the_marks_millisecond_are_all_delivered(
    attack_server: AttackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Variables(monkeypatch)
    attack_server.events = [ev("2025-01-01T01:00:00.000Z", "a"), ev("2025-01-01T02:00:00.000Z", "b")]
    incremental(tmp_path, "r1")
    # Two more events of the mark's very millisecond show up late.
    attack_server.events += [ev("2025-01-01T02:00:00.000Z", "c"), ev("2025-01-01T02:00:00.000Z", "d")]
    incremental(tmp_path, "r2")
    assert sorted(delivered(tmp_path, "r1", "r2")) == sorted(
        json.dumps(e, sort_keys=True) for e in attack_server.events
    )


def test_a_late_event_below_a_mark_that_did_not_move_is_delivered_once(
    attack_server: AttackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mark's own event is gone on the next run (deleted), and a late one shows up below it:
    the mark stays, and the late event must be remembered as delivered."""
    Variables(monkeypatch)
    mark_event = ev("2025-01-01T02:00:00.000Z", "m")
    attack_server.events = [ev("2025-01-01T01:00:00.000Z", "a"), mark_event]
    incremental(tmp_path, "r1")
    attack_server.events = [ev("2025-01-01T01:00:00.000Z", "a"), ev("2025-01-01T01:30:00.000Z", "late")]
    incremental(tmp_path, "r2")
    incremental(tmp_path, "r3")
    incremental(tmp_path, "r4")
    got = delivered(tmp_path, "r1", "r2", "r3", "r4")
    assert len(got) == len(set(got)) == 3


def test_a_failed_run_does_not_advance_the_mark(
    attack_server: AttackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variables = Variables(monkeypatch)
    attack_server.events = [ev("2025-01-01T01:00:00.000Z", "a")]
    incremental(tmp_path, "r1")
    before = variables.values["hwm"]
    attack_server.events.append(ev("2025-01-01T02:00:00.000Z", "b"))
    attack_server.pages = {"": {"content": [ev("2025-01-01T02:00:00.000Z", "b")]}, "1": {"data": []}}
    with pytest.raises(Exception, match="content"):
        incremental(tmp_path, "r2")
    assert variables.values["hwm"] == before and not (tmp_path / "r2.jsonl").exists()
    attack_server.pages = {}
    incremental(tmp_path, "r2")  # the retry
    assert sorted(delivered(tmp_path, "r1", "r2")) == sorted(
        json.dumps(e, sort_keys=True) for e in attack_server.events
    )


@pytest.mark.parametrize(
    "garbage",
    [
        "not json",
        "[1, 2]",
        '"a string"',
        '{"mark": "yesterday"}',
        '{"mark": 5}',
        '{"seen": "abc"}',
        '{"until": []}',
    ],
)
def test_a_garbage_variable_fails_naming_it_before_any_call(
    attack_server: AttackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, garbage: str
) -> None:
    Variables(monkeypatch).values["hwm"] = garbage
    with pytest.raises(CelonisConfigurationError) as caught:
        incremental(tmp_path, "r1")
    text = str(caught.value)
    assert "'hwm'" in text and "Fix:" in text
    assert attack_server.requests == []


@pytest.mark.parametrize(
    "mark", ["2025-01-01T04:00:00+02:00", "2025-01-01T02:00:00", "2025-01-01 02:00:00Z", "2025-01-01T02:00Z"]
)
def test_an_edited_mark_with_an_offset_or_no_zone_is_read_as_a_time(
    attack_server: AttackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mark: str
) -> None:
    """Someone set the Variable by hand: 04:00+02:00 is 02:00Z, and the runs after it must neither
    repeat nor skip events (the marks are compared as times, not as strings)."""
    variables = Variables(monkeypatch)
    variables.values["hwm"] = json.dumps({"mark": mark, "seen": []})
    attack_server.events = [ev("2025-01-01T02:00:00.000Z", "x"), ev("2025-01-01T03:00:00.000Z", "a")]
    first = incremental(tmp_path, "r1")
    assert first["start"] == "2025-01-01T01:00:00+00:00"
    assert json.loads(variables.values["hwm"])["mark"] == "2025-01-01T03:00:00.000Z"
    incremental(tmp_path, "r2")
    got = delivered(tmp_path, "r1", "r2")
    assert len(got) == len(set(got)) == 2


def test_first_run_ever_starts_at_start_and_ends_settle_period_ago(
    attack_server: AttackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Variables(monkeypatch)
    clock = FrozenClock(datetime(2025, 1, 1, 5, tzinfo=timezone.utc))
    monkeypatch.setattr(_late_data, "CLOCK", clock)
    attack_server.events = [ev("2025-01-01T04:50:00.000Z", "too-recent"), ev("2025-01-01T01:00:00.000Z", "a")]
    result = incremental(tmp_path, "r1", settle_period=900)
    assert (result["start"], result["end"]) == ("2025-01-01T00:00:00+00:00", "2025-01-01T04:45:00+00:00")
    assert result["records"] == 1 and clock.slept == []
    clock.at += timedelta(hours=1)
    incremental(tmp_path, "r2", settle_period=900)
    assert len(delivered(tmp_path, "r1", "r2")) == 2


@pytest.mark.parametrize("output_format", ["jsonl", "csv", "parquet"])
def test_recheck_of_an_unchanged_interval_rewrites_nothing_in_every_format(
    emulator: EmulatorProcess, tmp_path: Path, output_format: str
) -> None:
    """The same-count comparison is byte for byte: it must not see a change where there is none."""
    pytest.importorskip("pyarrow")
    path = str(tmp_path) + "/{{ ds }}." + output_format
    kwargs = {"output_path": path, "output_format": output_format, "settle_period": 0}
    run(CelonisAuditLogOperator(task_id="a", **kwargs), DAY1, DAY2)
    first = (tmp_path / f"2025-01-01.{output_format}").stat().st_mtime_ns
    result = run(CelonisAuditLogOperator(task_id="a", recheck_intervals=1, **kwargs), DAY2, DAY3)
    assert result["recheck"]["intervals_rewritten"] == 0 and result["recheck"]["intervals_checked"] == 1
    assert (tmp_path / f"2025-01-01.{output_format}").stat().st_mtime_ns == first


def test_two_runs_at_the_same_time_do_not_both_deliver_the_same_events(
    attack_server: AttackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run r2 starts from r1's mark; while it pulls, run r3 (started at the same time, from the
    same mark) saves its state. r2 must not write the events r3 already delivered."""
    variables = Variables(monkeypatch)
    attack_server.events = [ev("2025-01-01T01:00:00.000Z", "a")]
    incremental(tmp_path, "r1")
    attack_server.events.append(ev("2025-01-01T02:00:00.000Z", "b"))
    from airflow.sdk import Variable

    reads: list[str] = []
    real_get = Variable.get

    def get(key: str, default: Any = None) -> Any:
        value = real_get(key, default)
        reads.append(value)
        if len(reads) == 1:  # r3 finishes while r2 pulls
            incremental_r3 = dict(json.loads(value), run_id="r3", mark="2025-01-01T02:00:00.000Z")
            variables.values["hwm"] = json.dumps(incremental_r3)
        return value

    monkeypatch.setattr(Variable, "get", staticmethod(get))
    with pytest.raises(CelonisConfigurationError, match="max_active_runs=1") as caught:
        incremental(tmp_path, "r2")
    assert "'r3'" in str(caught.value)
    assert not (tmp_path / "r2.jsonl").exists()
    assert json.loads(variables.values["hwm"])["run_id"] == "r3"


@pytest.mark.parametrize("max_concurrency", [1, 8])
def test_an_event_with_an_unreadable_timestamp_is_delivered_once(
    attack_server: AttackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_concurrency: int
) -> None:
    """An event whose timestamp does not parse cannot be placed in time: it is kept (never
    dropped), and it must be remembered as delivered like the overlap's other events, or every
    run whose overlap the server still answers it for delivers it again."""
    Variables(monkeypatch)
    odd = ev("2025-01-01T01:30:00.000Zjunk", "odd")  # the server places it; the client cannot
    attack_server.events = [ev("2025-01-01T01:00:00.000Z", "a"), odd, ev("2025-01-01T02:00:00.000Z", "b")]
    for run in ("r1", "r2", "r3"):
        incremental(tmp_path, run, max_concurrency=max_concurrency)
    got = delivered(tmp_path, "r1", "r2", "r3")
    assert sorted(got) == sorted(json.dumps(e, sort_keys=True) for e in attack_server.events)
