"""The Data Push fault matrix (docs/fault-matrix.md, "Data Push"), one test per cell.

call (create job, upload chunk, execute, status) x position x kind (timeout, dropped
connection, 500, 502, 503, 504), against the emulator over real HTTP. Positions:

* ``before``: the fault answers instead of Celonis, which never acts;
* ``after``: Celonis acts, then the fault replaces its answer;
* ``late``: the fault reaches the client at once and Celonis acts afterwards (a request still
  queued behind a proxy that gave up), so a read-back right after the fault shows nothing yet.

Every cell must end with the table holding each source row exactly once, exactly one accepted
execution, a DONE result for the job that holds them, and nothing changed by an action that
lands late. The lies a server can tell (a DONE about another job, a DONE with error logs, a
chunk stored twice) follow.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisJobFailedError, CelonisRequestMaybeSentError
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator

ROWS = 60
CLIENT_TIMEOUT = 1.5
"""The hook's read timeout; a ``timeout`` fault stalls longer than this."""
STALL = CLIENT_TIMEOUT + 1.0
GRACE = 0.5
LATE = {"create": 0.3, "upload": 0.3, "execute": 1.0, "status": 0.3}
"""When a late action lands; execute lands after the start grace period, so the operator has
already sent execute again and the late call must be refused (409)."""

CALLS = {
    "create": {"path": "/jobs/$", "method": "POST"},
    "upload": {"path": "/chunks/upserted$", "method": "POST", "skip": 1},  # the second chunk
    "execute": {"path": "/jobs/[^/]+$", "method": "POST"},
    "status": {"path": "/jobs/[^/]+$", "method": "GET", "skip": 1},  # a poll of the wait
}
KINDS: dict[str, dict[str, Any]] = {
    "timeout": {"kind": "timeout", "delay": STALL},
    "drop": {"kind": "drop"},
    **{str(status): {"kind": "status", "status": status} for status in (500, 502, 503, 504)},
}
POSITIONS = ("before", "after", "late")


def fault(call: str, position: str, kind: str) -> dict[str, Any]:
    rule = {**CALLS[call], **KINDS[kind], "times": 1}
    if position != "before":
        rule["process"] = True
    if position == "late":
        rule["late"] = LATE[call]
    return rule


def write_csv(path: Path) -> Path:
    path.write_text("id,name\n" + "".join(f"{i},name {i}\n" for i in range(ROWS)))
    return path


def make_op(fast_retries: dict[str, float], source: Path, **kwargs: Any) -> CelonisDataPushOperator:
    params: dict[str, Any] = {
        "task_id": "push",
        "data_pool_id": POOL,
        "target_table": "orders",
        "source": str(source),
        "chunk_size": 400,  # several chunks
        "poll_interval": 0.05,
        "timeout": 60,
        "start_grace_period": GRACE,
        "hook_params": {**fast_retries, "max_rate_limit_wait": 0.05, "timeout": CLIENT_TIMEOUT},
    }
    return CelonisDataPushOperator(**{**params, **kwargs})


def assert_each_row_once(emulator: Any, result: dict[str, Any]) -> None:
    report = emulator.push_report()
    assert report["executions"] == 1, report
    assert report["jobs"][result["job_id"]]["status"] == "DONE"
    done = [job_id for job_id, job in report["jobs"].items() if job["status"] == "DONE"]
    assert done == [result["job_id"]], report
    table = emulator.push_table(POOL, "orders")
    assert sorted(int(row[0]) for row in table["rows"]) == list(range(ROWS))
    assert table["row_count"] == ROWS


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("position", POSITIONS)
@pytest.mark.parametrize("call", list(CALLS))
def test_fault_matrix_cell(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, call: str, position: str, kind: str
) -> None:
    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    emulator.add_faults([fault(call, position, kind)])
    result = make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    assert result["status"] == "DONE" and result["rows"] == ROWS
    assert emulator.stats()["faults_pending"] == 0  # the fault was played
    assert_each_row_once(emulator, result)
    if position == "late":
        time.sleep(LATE[call] + 0.5)  # let the late action land: it must change nothing
        assert_each_row_once(emulator, result)


# -- lies ----------------------------------------------------------------------------------------
def test_chunk_stored_twice_is_never_executed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """A proxy that replays uploads: the chunk list shows more chunks than were sent, so every
    job is discarded unexecuted; without the check the table gets each row twice."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05, store_uploads_twice=True)
    source = write_csv(tmp_path / "orders.csv")
    with pytest.raises(CelonisRequestMaybeSentError, match="Celonis lists chunks"):
        make_op(fast_retries, source, max_rebuilds=1).execute(make_context())
    report = emulator.push_report()
    assert report["execute_requests"] == 0
    assert [job["status"] for job in report["jobs"].values()] == ["DELETED", "DELETED"]
    emulator.reset()
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05, store_uploads_twice=True)
    make_op(fast_retries, source, verify_chunks=False).execute(make_context())
    assert emulator.push_table(POOL, "orders")["row_count"] == 2 * ROWS  # what the check prevents


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
async def test_status_about_another_job_fails_closed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool
) -> None:
    from data_pool_helpers import run_op

    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05, answer_job_id="someone-else")
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"), deferrable=deferrable)
    with pytest.raises(CelonisJobFailedError, match="answered about push job 'someone-else'"):
        await run_op(op, make_context(), deferrable)


def test_status_about_another_job_after_a_lost_execute_fails_closed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    emulator.configure_data_push(answer_job_id="someone-else")
    emulator.add_faults([fault("execute", "after", "503")])
    with pytest.raises(CelonisJobFailedError, match="answered about job 'someone-else'"):
        make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    assert emulator.push_report()["execute_requests"] == 1  # never re-sent on an answer it cannot trust


async def test_done_with_error_logs_fails_closed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    emulator.configure_data_push(
        queued_seconds=0.05,
        running_seconds=0.05,
        force_outcome="DONE",
        outcome_logs=["ERROR: 17 rows rejected (value too long for column name)"],
    )
    source = write_csv(tmp_path / "orders.csv")
    with pytest.raises(CelonisJobFailedError, match="DONE with error lines") as raised:
        make_op(fast_retries, source).execute(make_context())
    assert "17 rows rejected" in str(raised.value)
    # The opt-out for teams whose DONE jobs log such lines harmlessly (also through the trigger).
    from data_pool_helpers import run_deferred

    op = make_op(fast_retries, source, fail_on_error_logs=False, deferrable=True)
    assert (await run_deferred(op, make_context()))["status"] == "DONE"


def test_lost_create_answers_beyond_max_rebuilds_execute_nothing(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    emulator.add_faults([{**CALLS["create"], "status": 503, "process": True, "times": -1}])
    with pytest.raises(CelonisRequestMaybeSentError):
        make_op(fast_retries, write_csv(tmp_path / "orders.csv"), max_rebuilds=2).execute(make_context())
    report = emulator.push_report()
    assert len(report["jobs"]) == 3 and report["execute_requests"] == 0  # NEW, empty: commit nothing
    assert all(job["chunks"] == 0 for job in report["jobs"].values())


@pytest.mark.parametrize("kind", list(KINDS))
async def test_status_faults_in_the_trigger(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, kind: str
) -> None:
    """The deferrable wait polls through aiohttp: the same status faults, the same single truth."""
    from data_pool_helpers import run_op

    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    emulator.add_faults([fault("status", "after", kind) | {"skip": 0}])
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"), deferrable=True)
    result = await run_op(op, make_context(), True)
    assert result["status"] == "DONE" and emulator.stats()["faults_pending"] == 0
    assert_each_row_once(emulator, result)


def test_parquet_push_is_rebuilt_from_its_row_groups(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """A rebuild re-creates Parquet chunks (temporary files) from the source, none left behind."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "orders.parquet"
    table = pa.table({"id": list(range(ROWS)), "name": [f"name {i}" for i in range(ROWS)]})
    pq.write_table(table, path, row_group_size=20, compression="none")
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults([fault("upload", "after", "503")])
    result = make_op(fast_retries, path, chunk_size=path.stat().st_size * 2 // 3).execute(make_context())
    assert result["status"] == "DONE" and result["rows"] == ROWS and result["chunks"] >= 2
    assert_each_row_once(emulator, result)
    assert len(emulator.push_report()["jobs"]) == 2  # the discarded one and ours
    assert list(tmp_path.iterdir()) == [path]


def test_lost_execute_answer_and_unreadable_status_fail_closed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """Neither the execute answer nor the status can be had: fail, say what is known, delete."""
    emulator.configure_data_push(queued_seconds=30)
    emulator.add_faults(
        [fault("execute", "after", "503"), {**CALLS["status"], "status": 500, "skip": 0, "times": -1}]
    )
    with pytest.raises(CelonisJobFailedError, match="could not be read back") as raised:
        make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    assert "whether the job runs is unknown" in str(raised.value)
    report = emulator.push_report()
    assert report["execute_requests"] == 1 and [j["status"] for j in report["jobs"].values()] == ["CANCELED"]


@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
async def test_resent_execute_refused_with_409_adopts_the_first_run(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool
) -> None:
    """The first execute took effect but the job still shows NEW past the grace period: the
    resend gets 409, which proves the earlier call ran it; that run is awaited, never a second."""
    from data_pool_helpers import run_op

    emulator.configure_data_push(new_seconds=1.5, queued_seconds=0.1, running_seconds=0.1)
    emulator.add_faults([fault("execute", "after", "503")])
    op = make_op(fast_retries, write_csv(tmp_path / "orders.csv"), deferrable=deferrable)
    result = await run_op(op, make_context(), deferrable)
    assert result["status"] == "DONE"
    report = emulator.push_report()
    assert report["execute_requests"] == 2 and report["refused"] == 1
    assert_each_row_once(emulator, result)


def test_job_made_by_a_lost_create_is_named_not_touched(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults([fault("create", "after", "502")])
    result = make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    jobs = emulator.push_report()["jobs"]
    [lost] = [job_id for job_id in jobs if job_id != result["job_id"]]
    assert jobs[lost]["status"] == "NEW" and jobs[lost]["chunks"] == 0  # never touched
    assert f"other than this task's {result['job_id']}: {lost}" in "".join(capfd.readouterr())
