"""The event watchers' cursor and verdict (pure): the edges a poll loop over sockets cannot hit
on purpose (one millisecond, 600 runs in one poll, cursors written by an older release)."""

from __future__ import annotations

import json

import pytest

from airflow_provider_celonis.waiting.event_cursor import (
    MAX_SEEN,
    Cursor,
    FinishedRun,
    baseline,
    caught_up,
    decide,
    merged,
    newest_last,
)

ON = ("SUCCESS",)


def done(run_id: str, end: int | None, status: str = "SUCCESS") -> FinishedRun:
    return FinishedRun(run_id, status, None if end is None else end - 10, end, True)


def running(run_id: str, start: int = 1) -> FinishedRun:
    return FinishedRun(run_id, "RUNNING", start, None, False)


def test_a_run_ending_in_the_same_millisecond_as_the_floor_fires_if_it_was_seen_running() -> None:
    cursor = baseline([done("old", 1000), running("live")])
    assert cursor.floor_ms == 1000 and cursor.running == ("live",)
    verdict = decide(cursor, [done("old", 1000), done("live", 1000)], ON)
    assert [r.run_id for r in verdict.fire] == ["live"]
    assert verdict.cursor.running == () and "live" in verdict.cursor.seen
    assert decide(verdict.cursor, [done("old", 1000), done("live", 1000)], ON).fire == []


def test_a_run_seen_running_that_ends_undated_or_in_another_status() -> None:
    cursor = baseline([done("old", 1000), running("a"), running("b")])
    verdict = decide(cursor, [done("a", None), done("b", 2000, "FAIL")], ON)
    assert [r.run_id for r in verdict.fire] == ["a"]  # provably new even without a date
    assert verdict.undated == [] and verdict.cursor.running == ()


def test_an_unseen_run_at_the_floor_that_was_never_seen_running_stays_old() -> None:
    cursor = baseline([done("old", 1000)])
    verdict = decide(cursor, [done("late", 1000), done("older", 900), done("new", 1001)], ON)
    assert [r.run_id for r in verdict.fire] == ["new"]


def test_more_new_runs_than_the_cap_in_one_poll_all_fire_and_none_refires() -> None:
    cursor = baseline([done("old", 1000)])
    burst = [done(f"r{n:04d}", 2000 + n) for n in range(MAX_SEEN + 100)]
    verdict = decide(cursor, burst, ON)
    assert len(verdict.fire) == MAX_SEEN + 100
    assert len(verdict.cursor.seen) == MAX_SEEN
    assert verdict.cursor.floor_ms == 2000 + 99  # the newest dropped time ("old" and r0000..r0099 went)
    again = decide(verdict.cursor, [*burst, done("old", 1000)], ON)
    assert again.fire == []
    fresh = decide(again.cursor, [*burst, done("next", 9999)], ON)
    assert [r.run_id for r in fresh.fire] == ["next"]


def test_the_cap_never_drops_a_run_still_in_progress() -> None:
    cursor = baseline([running("long", start=1)])
    burst = [done(f"r{n:04d}", 2000 + n) for n in range(MAX_SEEN + 5)]
    verdict = decide(cursor, [running("long", start=1), *burst], ON)
    assert verdict.cursor.running == ("long",)
    ended = decide(verdict.cursor, [done("long", 1500)], ON)  # ends "before" the raised floor
    assert [r.run_id for r in ended.fire] == ["long"]


def test_cursor_text_round_trip_and_older_cursors_without_running() -> None:
    cursor = Cursor({"a": 1, "b": None}, 5, ("c",))
    assert Cursor.from_text(cursor.to_text()) == cursor
    assert Cursor.from_text('{"version": 1, "seen": {"a": 1}, "floor_ms": 1}') == Cursor({"a": 1}, 1)
    for bad in ('{"version": 1, "seen": {}, "running": "c"}', '{"version": 1, "seen": {}, "running": [1]}'):
        with pytest.raises(ValueError, match="running"):
            Cursor.from_text(bad)
    assert json.loads(cursor.to_text())["running"] == ["c"]


def test_merged_keeps_everything_either_copy_knows() -> None:
    stale = Cursor({"a": 1}, 1, ("b", "c"))
    newer = Cursor({"a": 1, "b": 3}, 2, ("c",))
    assert merged(stale, newer) == Cursor({"a": 1, "b": 3}, 2, ("c",))
    assert merged(newer, stale) == merged(stale, newer)


def test_caught_up_and_which_end_of_the_history_is_newest() -> None:
    cursor = Cursor({"a": 100}, 100)
    assert caught_up(cursor, [done("x", 300), done("a", 100)])
    assert caught_up(cursor, [done("y", 90)])  # at or before the floor: older history
    assert not caught_up(cursor, [done("x", 300), running("z")])
    assert newest_last([done("p", 100)], [done("q", 500)])
    assert not newest_last([done("q", 500)], [done("p", 100)])
