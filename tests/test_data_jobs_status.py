"""Pure decision logic shared by operators and triggers: statuses, deadlines, the new-run rule."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_celonis.decisions import JobWait, LoadWait, judge_job, judge_load
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook, error_lines, execution_configuration
from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook
from airflow_provider_celonis.status import (
    DataJobExecutionStatus,
    DataModelLoadStatus,
    RunMarker,
    belongs_to_new_run,
    deadline_after,
    deadline_passed,
    newest,
    to_epoch_ms,
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


def test_new_run_rule() -> None:
    marker = RunMarker("old", 5000)
    assert not belongs_to_new_run("old", 5000, marker)
    assert not belongs_to_new_run("other", 4000, marker)  # started before the recorded run
    assert belongs_to_new_run("new", 6000, marker)
    assert belongs_to_new_run("new", None, marker)  # QUEUED: no start yet
    assert not belongs_to_new_run("x", 999, RunMarker(started_after_ms=1000))
    assert belongs_to_new_run("x", 1000, RunMarker(started_after_ms=1000))


def test_newest_never_trusts_list_order() -> None:
    items = [item("a", "SUCCESS", 1), item("c", "QUEUED", None), item("b", "SUCCESS", 3)]
    assert newest(items) == items[1]
    assert newest(items[::2]) == items[2]
    assert newest([]) is None


def test_judge_job_ignores_the_previous_success_and_fails_closed() -> None:
    wait = JobWait("p", "j", RunMarker("old", 100), deadline=None)
    assert judge_job([item("old", "SUCCESS", 100)], wait) is None
    verdict = judge_job([item("old", "SUCCESS", 100), item("new", "WEIRD", 200)], wait)
    assert verdict is not None
    assert verdict["status"] == "error"
    assert "fail closed" in verdict["message"]
    assert judge_job([item("new", "FAIL", 200)], wait)["execution_status"] == "FAIL"  # type: ignore[index]


def test_judge_job_deadlines() -> None:
    running = [item("new", "RUNNING", 200)]
    assert judge_job(running, JobWait("p", "j", deadline=50.0), now=49.0) is None
    assert judge_job(running, JobWait("p", "j", deadline=50.0), now=50.0)["status"] == "timeout"  # type: ignore[index]
    nothing = JobWait("p", "j", RunMarker("old", 100), appear_deadline=10.0)
    assert judge_job([item("old", "SUCCESS", 100)], nothing, now=11.0)["status"] == "error"  # type: ignore[index]


def test_judge_job_waits_for_exactly_the_reused_execution() -> None:
    wait = JobWait("p", "j", execution_id="mine")
    assert judge_job([item("later", "SUCCESS", 300), item("mine", "RUNNING", 200)], wait) is None
    assert judge_job([item("mine", "SKIPPED", 200)], wait)["status"] == "skipped"  # type: ignore[index]


def test_judge_load() -> None:
    wait = LoadWait("p", "m", RunMarker("L1", 100))

    def info(load_id: str, status: str, start: int) -> dict[str, object]:
        load = {"dataLoadId": load_id, "loadStatus": status, "startDate": start, "message": "m"}
        return {"loadInfo": {"currentComputeLoad": load}}

    assert judge_load({"loadInfo": {"currentComputeLoad": None}}, wait) is None
    assert judge_load(info("L1", "SUCCESS", 100), wait) is None
    assert judge_load(info("L2", "LOST_CONNECTION", 200), wait) is None
    assert judge_load(info("L2", "WARNING", 200), wait)["status"] == "success"  # type: ignore[index]
    assert judge_load(info("L2", "CANCELED", 200), wait)["status"] == "error"  # type: ignore[index]
    assert judge_load(info("L2", "NEW_STATUS", 200), wait)["status"] == "error"  # type: ignore[index]


def test_serialization_round_trip() -> None:
    wait = JobWait("p", "j", RunMarker("old", 1, 2), execution_id="e", deadline=3.0, appear_deadline=4.0)
    assert JobWait.from_dict(wait.to_dict()) == wait
    load = LoadWait("p", "m", RunMarker("L", 1), deadline=3.0)
    assert LoadWait.from_dict(load.to_dict()) == load


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
