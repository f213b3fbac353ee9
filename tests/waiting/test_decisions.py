"""Pure decision logic shared by operators and triggers: statuses, deadlines, the new-run rule."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from airflow_provider_celonis.client.timestamps import to_epoch_ms
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook, error_lines, execution_configuration
from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook
from airflow_provider_celonis.waiting.decisions import (
    BLOCKER,
    WATCH,
    JobWait,
    LoadWait,
    judge_job,
    judge_load,
    latest,
    pin_execution,
)
from airflow_provider_celonis.waiting.status import (
    DataJobExecutionStatus,
    DataModelLoadStatus,
    deadline_after,
    deadline_passed,
)


def item(execution_id: str, status: str, start: int | None) -> dict[str, object]:
    return {"id": f"item-{execution_id}", "executionId": execution_id, "status": status, "startDate": start}


@pytest.mark.parametrize(
    ("raw", "progress", "ok", "failed"),
    [
        ("QUEUED", True, False, False),
        ("RUNNING", True, False, False),
        ("SUCCESS", False, True, False),
        ("FAIL", False, False, True),
        ("CANCEL", False, False, True),
        ("SKIPPED", False, False, False),
    ],
)
def test_job_status_helpers(raw: str, progress: bool, ok: bool, failed: bool) -> None:
    status = DataJobExecutionStatus.parse(raw)
    assert status is not None
    assert (status.in_progress, status.succeeded, status.failed) == (progress, ok, failed)


def test_unknown_statuses_parse_to_none() -> None:
    assert DataJobExecutionStatus.parse("PAUSED") is None
    assert DataJobExecutionStatus.parse(None) is None
    assert DataModelLoadStatus.parse("REBUILDING") is None
    assert DataModelLoadStatus.parse("warning") is DataModelLoadStatus.WARNING


def test_load_status_sets() -> None:
    progress = {s for s in DataModelLoadStatus if s.in_progress}
    ok = {s for s in DataModelLoadStatus if s.succeeded}
    bad = {s for s in DataModelLoadStatus if s.failed}
    assert {s.value for s in progress} == {"RUNNING", "LOST_CONNECTION", "CANCELLING"}
    assert {s.value for s in ok} == {"SUCCESS", "WARNING"}
    assert {s.value for s in bad} == {"ERROR", "CANCELED"}


def test_deadline_is_wall_clock_epoch() -> None:
    assert deadline_after(None) is None
    assert deadline_after(10, now=1000.0) == 1010.0
    assert deadline_passed(1010.0, now=1010.0)
    assert not deadline_passed(1010.0, now=1009.9)
    assert not deadline_passed(None)


def test_to_epoch_ms() -> None:
    when = datetime(2025, 11, 1, tzinfo=timezone.utc)
    assert to_epoch_ms(when) == 1761955200000
    assert to_epoch_ms("2025-11-01T00:00:00Z") == 1761955200000
    assert to_epoch_ms(datetime(2025, 11, 1)) == 1761955200000  # naive means UTC
    assert to_epoch_ms(1761955200) == 1761955200000
    assert to_epoch_ms(1761955200000) == 1761955200000
    assert to_epoch_ms(None) is None


def test_ours_is_a_new_id_whatever_the_dates_say() -> None:
    """The reported false success: an older SUCCESS, then a run cancelled while QUEUED (no
    startDate). The old date rule took the older SUCCESS for the new run; ids never do."""
    history = [item("old", "SUCCESS", 1000), {**item("cancelled", "CANCEL", None), "endDate": 2000}]
    wait = JobWait("p", "j", known_ids=("old", "cancelled"))
    assert judge_job(history, wait) is None  # ours is not listed yet: keep polling
    ours = item("ours", "QUEUED", None)
    assert judge_job([*history, ours], wait) is None  # ours is QUEUED
    skewed = item("ours", "SUCCESS", 10)  # Celonis's clock far behind: still ours, by id
    assert judge_job([*history, skewed], wait)["execution_id"] == "ours"  # type: ignore[index]
    assert judge_job([item("old", "SUCCESS", 9_999_999)], wait) is None  # a known id, however late


def test_several_new_runs_fail_closed_with_the_candidates() -> None:
    wait = JobWait("p", "j", known_ids=("old",))
    verdict = judge_job([item("old", "SUCCESS", 1), item("a", "SUCCESS", 5), item("b", "RUNNING", 6)], wait)
    assert verdict is not None and verdict["status"] == "error"
    assert verdict["candidates"] == ["a", "b"] and "cannot prove" in verdict["message"]
    assert pin_execution([item("a", "RUNNING", 5), item("b", "QUEUED", None)], wait) == wait  # not pinned


def test_a_schedule_started_run_is_never_ours() -> None:
    wait = JobWait("p", "j", known_ids=("old",))
    scheduled = {**item("nightly", "SUCCESS", 5), "schedulingId": "s-1"}
    assert judge_job([scheduled], wait) is None
    verdict = judge_job([scheduled, item("ours", "SUCCESS", 4)], wait)
    assert verdict is not None and verdict["execution_id"] == "ours"


def test_pinned_wait_follows_its_id_only() -> None:
    wait = pin_execution([item("ours", "RUNNING", 5)], JobWait("p", "j", known_ids=("old",)))
    assert wait.execution_id == "ours"
    assert judge_job([item("ours", "RUNNING", 5), item("later", "SUCCESS", 9)], wait) is None


def test_blocker_wait_ends_when_nothing_is_in_progress() -> None:
    wait = JobWait("p", "j", role=BLOCKER, deadline=50.0)
    assert judge_job([item("s", "RUNNING", 1), item("q", "QUEUED", None)], wait, now=10.0) is None
    done = judge_job([item("s", "SUCCESS", 1), item("q", "CANCEL", None)], wait, now=10.0)
    assert done is not None and done["status"] == "success" and done["deadline"] == 50.0
    late = judge_job([item("s", "RUNNING", 1)], wait, now=51.0)
    assert late is not None and late["status"] == "timeout" and "s" in late["message"]


def test_sensor_watch_places_a_never_started_run_by_its_end() -> None:
    wait = JobWait("p", "j", role=WATCH, started_after_ms=1000)
    old_cancel = {**item("c", "CANCEL", None), "endDate": 500}
    assert judge_job([item("a", "SUCCESS", 900), old_cancel], wait) is None  # both before the bound
    fresh = item("b", "SUCCESS", 1500)
    assert judge_job([fresh, old_cancel], wait)["execution_id"] == "b"  # type: ignore[index]
    assert latest([fresh, item("q", "QUEUED", None)])["executionId"] == "q"  # type: ignore[index]


def test_judge_job_fails_closed_on_unknown_status() -> None:
    wait = JobWait("p", "j", known_ids=("old",), deadline=None)
    verdict = judge_job([item("old", "SUCCESS", 100), item("new", "WEIRD", 200)], wait)
    assert verdict is not None
    assert verdict["status"] == "error"
    assert "fail closed" in verdict["message"]
    assert judge_job([item("new", "FAIL", 200)], wait)["execution_status"] == "FAIL"  # type: ignore[index]


def test_judge_job_deadlines() -> None:
    running = [item("new", "RUNNING", 200)]
    assert judge_job(running, JobWait("p", "j", deadline=50.0), now=49.0) is None
    assert judge_job(running, JobWait("p", "j", deadline=50.0), now=50.0)["status"] == "timeout"  # type: ignore[index]
    nothing = JobWait("p", "j", known_ids=("old",), appear_deadline=10.0)
    assert judge_job([item("old", "SUCCESS", 100)], nothing, now=11.0)["status"] == "error"  # type: ignore[index]


def test_judge_job_waits_for_exactly_the_reused_execution() -> None:
    wait = JobWait("p", "j", execution_id="mine")
    assert judge_job([item("later", "SUCCESS", 300), item("mine", "RUNNING", 200)], wait) is None
    assert judge_job([item("mine", "SKIPPED", 200)], wait)["status"] == "skipped"  # type: ignore[index]


def test_judge_load() -> None:
    wait = LoadWait("p", "m", known_ids=("L1",))

    def info(load_id: str, status: str, start: int) -> dict[str, object]:
        load = {"dataLoadId": load_id, "loadStatus": status, "startDate": start, "message": "m"}
        return {"loadInfo": {"currentComputeLoad": load}}

    assert judge_load({"loadInfo": {"currentComputeLoad": None}}, wait) is None
    assert judge_load(info("L1", "SUCCESS", 100), wait) is None
    assert judge_load(info("L2", "LOST_CONNECTION", 200), wait) is None
    assert judge_load(info("L2", "CANCELLING", 200), wait) is None
    assert judge_load(info("L2", "WARNING", 200), wait)["status"] == "success"  # type: ignore[index]
    assert judge_load(info("L2", "CANCELED", 200), wait)["status"] == "error"  # type: ignore[index]
    assert judge_load(info("L2", "NEW_STATUS", 200), wait)["status"] == "error"  # type: ignore[index]
    blocker = LoadWait("p", "m", role=BLOCKER)
    for status in ("RUNNING", "LOST_CONNECTION", "CANCELLING"):  # every in-progress state blocks
        assert judge_load(info("L1", status, 100), blocker) is None
    assert judge_load(info("L1", "ERROR", 100), blocker)["status"] == "success"  # type: ignore[index]


def test_serialization_round_trip_and_validation() -> None:
    wait = JobWait("p", "j", known_ids=("a", "b"), execution_id="e", deadline=3.0, appear_deadline=4.0)
    assert JobWait.from_json(json.loads(json.dumps(wait.to_json()))) == wait
    load = LoadWait("p", "m", known_ids=("L",), deadline=3.0)
    assert LoadWait.from_json(json.loads(json.dumps(load.to_json()))) == load
    with pytest.raises(ValueError, match="unknown fields"):
        JobWait.from_json({**wait.to_json(), "marker": {}})  # an outdated or foreign payload
    with pytest.raises(ValueError, match="role"):
        JobWait.from_json({**wait.to_json(), "role": "mine"})
    with pytest.raises(ValueError, match="deadline"):
        JobWait.from_json({**wait.to_json(), "deadline": "soon"})
    with pytest.raises(ValueError, match="data_job_id"):
        JobWait.from_json({**wait.to_json(), "data_job_id": ""})


def test_request_descriptions() -> None:
    v2 = CelonisDataJobHook.start_call("p", "j", "full")
    assert (v2.method, v2.path, v2.kwargs) == (
        "POST",
        "/api/v2/data-pools/p/data-jobs/j/execute",
        {"params": {"mode": "FULL"}},
    )
    internal = CelonisDataJobHook.start_call("p", "j", transformations=[])
    assert internal.path == "/api/pools/p/jobs/j/execute"
    assert internal.kwargs["json"]["executeOnlySubsetOfTransformations"] is True
    assert CelonisDataJobHook.cancel_call("p", "j").idempotent is True
    body = execution_configuration(
        "p", "j", "DELTA", data_models=[{"dataModelExecutionId": "d", "tables": ["t"]}]
    )
    assert body["loadOnlySubsetOfDataModels"] is True
    assert body["executeOnlySubsetOfExtractions"] is False
    partial = CelonisDataModelHook.load_call("p", "m", tables=["t1"])
    assert partial.path.endswith("/load/partial-sync")
    assert partial.kwargs["json"] == ["t1"]
    assert CelonisDataModelHook.load_call("p", "m", full_reload=False).kwargs == {
        "params": {"fullReload": "false"}
    }


def test_error_lines_keep_only_errors() -> None:
    page = {
        "logMessages": [
            {"level": "INFO", "logMessage": "started"},
            {"level": "ERROR", "logMessage": "boom"},
            {"level": "error", "logMessage": "bang"},
        ]
    }
    assert error_lines(page) == ["boom", "bang"]
    assert error_lines(None) == []


def test_a_second_new_run_within_the_start_grace_fails_closed_even_when_pinned() -> None:
    """The run listed first may be another client's created just before ours; ours listed second.
    Within the grace that cannot be told apart; after it, a newly listed run is not ours."""
    wait = JobWait("p", "j", known_ids=("old",), execution_id="first", appear_deadline=100.0)
    both = [item("first", "SUCCESS", 5), item("second", "QUEUED", None)]
    verdict = judge_job(both, wait, now=99.0)
    assert (
        verdict is not None and verdict["status"] == "error" and verdict["candidates"] == ["first", "second"]
    )
    assert judge_job(both, wait, now=100.0)["execution_id"] == "first"  # type: ignore[index]
    adopted = JobWait("p", "j", known_ids=("old",), execution_id="first")  # no grace: identified otherwise
    assert judge_job(both, adopted)["execution_id"] == "first"  # type: ignore[index]


def test_two_new_loads_within_the_grace_fail_closed() -> None:
    wait = LoadWait("p", "m", known_ids=("L1",), appear_deadline=100.0)
    ours = {"dataLoadId": "L2", "loadStatus": "SUCCESS", "startDate": 5}
    other = {"dataLoadId": "L3", "loadStatus": "RUNNING", "startDate": 6}
    info = {"loadInfo": {"currentComputeLoad": ours}, "loadHistory": {"dataLoadHistory": [other, ours]}}
    verdict = judge_load(info, wait, now=99.0)
    assert verdict is not None and verdict["status"] == "error" and verdict["candidates"] == ["L2", "L3"]
    alone = {"loadInfo": {"currentComputeLoad": ours}, "loadHistory": {"dataLoadHistory": [ours]}}
    # One new load that ended within the grace is reported at once (see HOLD_REASON).
    assert judge_load(alone, wait, now=99.0)["status"] == "success"  # type: ignore[index]


HOLD_REASON = (
    "not held: holding every success until start_grace_period ends failed the task whenever "
    "another DAG started the same job right after ours ended (its if_running='wait' does exactly "
    "that), and cost every short run the whole grace. The race it closed (another client's run "
    "created between the history read and the start, listed before ours) is documented as a "
    "known limit in docs/data-jobs.md"
)


@pytest.mark.xfail(strict=True, reason=HOLD_REASON)
def test_a_run_ended_within_the_grace_is_held_until_it_ends() -> None:
    wait = JobWait("p", "j", known_ids=("old",), execution_id="first", appear_deadline=100.0)
    done = [item("first", "SUCCESS", 5)]
    assert judge_job(done, wait, now=99.0) is None
    assert judge_job(done, wait, now=100.0)["status"] == "success"  # type: ignore[index]
    timed_out = JobWait(
        "p", "j", known_ids=("old",), execution_id="first", appear_deadline=100.0, deadline=50.0
    )
    verdict = judge_job(done, timed_out, now=99.0)
    assert verdict is not None and verdict["status"] == "error" and verdict["candidates"] == ["first"]


def test_progress_logs_on_change_and_at_a_steady_cadence() -> None:
    from airflow_provider_celonis.waiting.progress import Progress

    lines: list[str] = []

    class Log:
        def info(self, text: str, *args: object) -> None:
            lines.append(text % args)

    progress = Progress(Log(), every=0.05)
    progress.note("Execution", "e-1", "QUEUED")
    progress.note("Execution", "e-1", "QUEUED")  # nothing new, too soon
    progress.note("Execution", "e-1", "RUNNING")
    assert [line.split(" (")[0] for line in lines] == ["Execution e-1 is QUEUED", "Execution e-1 is RUNNING"]
    time.sleep(0.06)
    progress.note("Execution", "e-1", "RUNNING")  # unchanged, but the cadence is due
    assert len(lines) == 3


def test_every_job_and_load_verdict_is_a_valid_run_event() -> None:
    """The judges build the payloads; RunEvent.from_payload is what the consumers check."""
    from airflow_provider_celonis.waiting.waits import RunEvent

    job = JobWait("p", "j", known_ids=("old",), deadline=50.0, appear_deadline=10.0)
    histories = [
        [item("old", "SUCCESS", 1)],
        [item("new", status, 5) for status in ("SUCCESS",)],
        [item("new", "FAIL", 5)],
        [item("new", "CANCEL", None)],
        [item("new", "SKIPPED", 5)],
        [item("new", "ODD", 5)],
        [item("new", "RUNNING", 5)],
        [item("a", "RUNNING", 5), item("b", "QUEUED", None)],
    ]
    waits = [
        job,
        JobWait("p", "j", role=BLOCKER, deadline=50.0),
        JobWait("p", "j", role=WATCH, started_after_ms=2),
    ]
    verdicts = [judge_job(h, w, now=now) for h in histories for w in waits for now in (1.0, 20.0, 60.0)]
    info = [
        {"loadInfo": {"currentComputeLoad": {"dataLoadId": "L2", "loadStatus": s, "startDate": 3}}}
        for s in ("RUNNING", "SUCCESS", "WARNING", "ERROR", "ODD")
    ]
    loads = [
        LoadWait("p", "m", known_ids=("L1",), deadline=50.0, appear_deadline=10.0),
        LoadWait("p", "m", role=BLOCKER),
    ]
    verdicts += [judge_load(i, w, now=now) for i in [None, *info] for w in loads for now in (1.0, 20.0, 60.0)]
    checked = [RunEvent.from_payload(json.loads(json.dumps(v))) for v in verdicts if v is not None]
    assert len(checked) > 30
    assert {e.status for e in checked} == {"success", "skipped", "error", "timeout"}
    with pytest.raises(ValueError, match="unknown fields"):
        RunEvent.from_payload(
            {"status": "success", "message": "m", "data_pool_id": "p", "job_status": "DONE"}
        )
