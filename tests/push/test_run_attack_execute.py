"""Review attacks on the push's execute, delete and chunk-list reconciliation (emulator, real HTTP).

Each test plays one answer that does not prove what Celonis did, or a chunk list / status that
lies, and checks: no false DONE, no second execution, what is left in Celonis, and what the
user is told.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.exceptions import (
    CelonisError,
    CelonisJobTimeoutError,
    CelonisRequestMaybeSentError,
)
from tests.push.test_run_fault_matrix import CALLS, ROWS, assert_each_row_once, make_op, write_csv

DELETE = {"path": "/jobs/[^/]+$", "method": "DELETE"}
CHUNK_LIST = {"path": "/chunks$", "method": "GET"}


def test_resend_refused_with_409_for_another_reason_never_reports_done(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The first execute is lost before Celonis acts; the resend gets a 409 that does not mean
    "already executed" (Celonis acted on neither). The job never runs: the task must not say
    DONE, must not execute a third time, and must delete the job when it gives up."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults(
        [
            {**CALLS["execute"], "kind": "drop", "times": 1},
            {**CALLS["execute"], "kind": "status", "status": 409, "times": 1},
        ]
    )
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"), timeout=4)
    with pytest.raises(CelonisJobTimeoutError) as raised:
        op.execute(make_context())
    assert "NEW" in str(raised.value)
    report = emulator.push_report()
    assert report["executions"] == 0 and report["execute_requests"] == 0, report  # both played by faults
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED"]


@pytest.mark.parametrize("kind", ["drop", "503"])
def test_lost_answer_to_the_delete_of_a_discarded_job(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, kind: str
) -> None:
    """A lost upload answer discards the job; the DELETE's own answer is lost after Celonis
    deleted it (the hook's retry then gets 404). The rebuild still lands every row once, and
    nothing is left NEW with chunks."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    fault_kind = {"kind": "drop"} if kind == "drop" else {"kind": "status", "status": 503}
    emulator.add_faults(
        [
            {**CALLS["upload"], "kind": "status", "status": 503, "process": True},
            {**DELETE, **fault_kind, "process": True},
        ]
    )
    result = make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    assert result["status"] == "DONE" and result["rows"] == ROWS
    assert_each_row_once(emulator, result)
    jobs = emulator.push_report()["jobs"]
    assert sorted(job["status"] for job in jobs.values()) == ["DELETED", "DONE"]


def test_delete_never_answers_while_rebuilding(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The discarded job cannot be deleted at all: the rebuild still succeeds once, and the log
    names the job left NEW (it commits nothing unless someone executes it)."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults(
        [
            {**CALLS["upload"], "kind": "status", "status": 503, "process": True},
            {**DELETE, "kind": "status", "status": 503, "times": -1},
        ]
    )
    result = make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    emulator.clear_faults()
    assert_each_row_once(emulator, result)
    jobs = emulator.push_report()["jobs"]
    [left] = [job_id for job_id in jobs if job_id != result["job_id"]]
    assert jobs[left]["status"] == "NEW"
    assert f"Could not delete push job {left}" in "".join(capfd.readouterr())


def test_lost_uploads_on_every_rebuild_leave_nothing_and_say_so(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """max_rebuilds exhausted by lost upload answers (Celonis stored each chunk): every job is
    deleted, nothing executed, and the error says nothing was loaded."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults([{**CALLS["upload"], "kind": "status", "status": 502, "process": True, "times": -1}])
    with pytest.raises(CelonisRequestMaybeSentError, match="Nothing was loaded") as raised:
        make_op(fast_retries, write_csv(tmp_path / "orders.csv"), max_rebuilds=2).execute(make_context())
    assert "3 job(s)" in str(raised.value)
    report = emulator.push_report()
    assert report["execute_requests"] == 0
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED"] * 3


@pytest.mark.parametrize("kind", ["html", "truncate"])
def test_chunk_list_that_is_not_a_list_is_never_executed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, kind: str
) -> None:
    emulator.add_faults([{**CHUNK_LIST, "kind": kind, "times": -1}])
    with pytest.raises(CelonisError):
        make_op(fast_retries, write_csv(tmp_path / "orders.csv"), max_rebuilds=0).execute(make_context())
    report = emulator.push_report()
    assert report["execute_requests"] == 0
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED"]


def test_create_answered_by_a_proxy_page_is_a_lost_create(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """A 200 login/proxy page instead of the created job: whether Celonis created one is unknown,
    so the push is built on a new job, like after any lost create answer; rows land once."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults([{**CALLS["create"], "kind": "html", "times": 1}])
    result = make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    assert result["status"] == "DONE" and emulator.stats()["faults_pending"] == 0
    assert_each_row_once(emulator, result)


@pytest.mark.parametrize("kind", ["html", "truncate"])
def test_status_answered_by_a_proxy_page_is_never_a_verdict(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, kind: str
) -> None:
    """A status poll answered 200 with something that is not the job: typed, never a DONE."""
    emulator.configure_data_push(queued_seconds=0.3, running_seconds=0.3)
    emulator.add_faults([{**CALLS["status"], "kind": kind, "times": 1, "skip": 0}])
    try:
        result = make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    except CelonisError:
        assert emulator.push_report()["executions"] == 1
        return
    assert result["status"] == "DONE"
    assert_each_row_once(emulator, result)


@pytest.mark.parametrize("lie", ["foreign", "missing", "repeat"])
def test_chunk_list_that_lies_is_never_executed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, lie: str
) -> None:
    """The chunk list names another job, leaves a chunk out, or lists one chunk twice with the
    right count: the job is discarded unexecuted every time."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05, chunk_list_lie=lie)
    with pytest.raises(CelonisRequestMaybeSentError, match="discarded unexecuted"):
        make_op(fast_retries, write_csv(tmp_path / "orders.csv"), max_rebuilds=1).execute(make_context())
    report = emulator.push_report()
    assert report["execute_requests"] == 0
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED", "DELETED"]


@pytest.mark.parametrize("resends", [0, 1])
def test_timeout_inside_the_grace_period_never_claims_the_job_did_not_run(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, resends: int
) -> None:
    """The execute answer is lost after Celonis accepted the call; the job still shows NEW when
    the task's timeout passes, long before start_grace_period ends. Nothing proves the call did
    not take effect: no resend after the deadline, no "never ran", and the job is deleted."""
    emulator.configure_data_push(new_seconds=6, queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults([{**CALLS["execute"], "kind": "status", "status": 503, "process": True}])
    op = make_op(
        fast_retries,
        write_csv(tmp_path / "orders.csv"),
        timeout=2.5,
        start_grace_period=30,
        execute_resends=resends,
    )
    with pytest.raises(CelonisJobTimeoutError) as raised:
        op.execute(make_context())
    text = str(raised.value)
    assert "never ran" not in text and "none took effect" not in text, text
    assert "unknown" in text
    report = emulator.push_report()
    assert report["execute_requests"] == 1, report  # never re-sent after the deadline
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED"]


def test_lost_create_on_the_last_rebuild_says_nothing_was_loaded(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The first job is discarded after a lost upload answer, then every create answer is lost
    (Celonis made the jobs): the task fails saying nothing was loaded and naming the empty NEW
    jobs the lost creates left, which it never touches."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults(
        [
            {**CALLS["upload"], "kind": "status", "status": 503, "process": True},
            {**CALLS["create"], "kind": "status", "status": 504, "process": True, "skip": 1, "times": -1},
        ]
    )
    with pytest.raises(CelonisRequestMaybeSentError, match="Nothing was loaded") as raised:
        make_op(fast_retries, write_csv(tmp_path / "orders.csv"), max_rebuilds=2).execute(make_context())
    emulator.clear_faults()
    jobs = emulator.push_report()["jobs"]
    assert emulator.push_report()["execute_requests"] == 0
    left = sorted(job_id for job_id, job in jobs.items() if job["status"] == "NEW")
    assert len(left) == 2 and all(jobs[j]["chunks"] == 0 for j in left)
    logs = "".join(capfd.readouterr())
    assert all(job_id in logs for job_id in left), raised.value


def test_job_that_stays_new_after_the_resend_times_out_and_is_deleted(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The first execute is lost before Celonis acts; the resend is accepted but the job never
    leaves NEW: the task never reports DONE, never executes a third time, and deletes the job
    at its timeout."""
    emulator.configure_data_push(new_seconds=120, queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults([{**CALLS["execute"], "kind": "drop", "times": 1}])
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"), timeout=3)
    with pytest.raises(CelonisJobTimeoutError, match="NEW"):
        op.execute(make_context())
    report = emulator.push_report()
    assert report["executions"] == 1 and report["execute_requests"] == 1, report
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED"]
