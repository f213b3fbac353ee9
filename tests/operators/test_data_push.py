"""CelonisDataPushOperator against the emulator, sync and deferrable: what arrives, how it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from data_pool_helpers import make_context, run_op

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import (
    CelonisJobFailedError,
    CelonisJobTimeoutError,
    CelonisRequestMaybeSentError,
)
from airflow_provider_celonis.links import CelonisDataPoolLink
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator

MODES = [pytest.param(False, id="sync"), pytest.param(True, id="deferrable")]


@pytest.fixture
def push_api(emulator: Any) -> Any:
    emulator.configure_data_push(queued_seconds=0.1, running_seconds=0.2)
    return emulator


def write_csv(path: Path, ids: range, header: str = "id,name,amount", name: str = "n") -> Path:
    lines = [header] + [f'{i},"{name} {i}, with comma",{i * 10}' for i in ids]
    path.write_text("\n".join(lines) + "\n")
    return path


def make_op(fast_retries: dict[str, float], deferrable: bool, **kwargs: Any) -> CelonisDataPushOperator:
    params: dict[str, Any] = {
        "task_id": "push",
        "data_pool_id": POOL,
        "target_table": "orders",
        "poll_interval": 0.05,
        "timeout": 20,
        "start_grace_period": 1,
        "hook_params": {**fast_retries, "max_rate_limit_wait": 0.05},
        "deferrable": deferrable,
    }
    return CelonisDataPushOperator(**{**params, **kwargs})


@pytest.mark.parametrize("deferrable", MODES)
async def test_replace_csv_in_many_chunks(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool
) -> None:
    write_csv(tmp_path / "a.csv", range(0, 300))
    write_csv(tmp_path / "b.csv", range(300, 450))
    op = make_op(fast_retries, deferrable, source=str(tmp_path / "*.csv"), chunk_size=1000)
    context = make_context()
    result = await run_op(op, context, deferrable)
    assert result["status"] == "DONE"
    assert result["rows"] == 450
    report = push_api.push_report()
    job = report["jobs"][result["job_id"]]
    assert result["chunks"] == job["chunks"] > 10
    assert result["bytes"] == sum(job["chunk_sizes"])
    assert max(job["chunk_sizes"]) <= 1000
    assert report["executions"] == 1
    table = push_api.push_table(POOL, "orders")
    assert table["row_count"] == 450
    assert sorted(int(r[0]) for r in table["rows"]) == list(range(450))
    assert table["rows"][0][1].endswith(", with comma")
    url = f"{push_api.base_url}/integration/ui/pools/{POOL}/data-configuration"
    assert context["ti"].xcom["celonis_data_pool_url"] == url
    assert context["ti"].xcom["celonis_push_job_id"] == result["job_id"]
    assert CelonisDataPoolLink().get_link(op, ti_key=None) == url  # type: ignore[arg-type]


@pytest.mark.parametrize("deferrable", MODES)
async def test_delta_upserts_and_deletes_by_key(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool
) -> None:
    first = make_op(fast_retries, False, source=str(write_csv(tmp_path / "full.csv", range(100))))
    first.execute(make_context())
    changes = write_csv(tmp_path / "changes.csv", range(90, 120), name="new")
    gone = tmp_path / "gone.csv"
    gone.write_text("id\n1\n2\n3\n")
    op = make_op(
        fast_retries,
        deferrable,
        source=str(changes),
        mode="DELTA",
        keys="id",
        delete_source=str(gone),
        chunk_size=300,
    )
    result = await run_op(op, make_context(), deferrable)
    assert result["rows"] == 30 and result["deleted_rows"] == 3
    table = push_api.push_table(POOL, "orders")
    assert table["row_count"] == 100 + 20 - 3
    by_id = {row[0]: row for row in table["rows"]}
    assert by_id["95"][1] == "new 95, with comma" and by_id["50"][1] == "n 50, with comma"
    assert "2" not in by_id


@pytest.mark.parametrize("deferrable", MODES)
async def test_parquet_split_at_row_groups(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "orders.parquet"
    table = pa.table({"id": list(range(3000)), "name": [f"name {i:05d}" for i in range(3000)]})
    pq.write_table(table, path, row_group_size=300, compression="none")
    op = make_op(fast_retries, deferrable, source=f"file://{path}", chunk_size=path.stat().st_size // 3)
    result = await run_op(op, make_context(), deferrable)
    assert result["rows"] == 3000 and result["chunks"] >= 3
    stored = push_api.push_table(POOL, "orders")
    assert stored["row_count"] == 3000 and stored["columns"] == ["id", "name"]
    assert list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize("deferrable", MODES)
async def test_schema_mismatch_fails_with_celonis_logs(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool
) -> None:
    make_op(fast_retries, False, source=str(write_csv(tmp_path / "a.csv", range(5)))).execute(make_context())
    other = write_csv(tmp_path / "b.csv", range(5), header="id,name,price")
    op = make_op(fast_retries, deferrable, source=str(other))
    with pytest.raises(CelonisJobFailedError) as raised:
        await run_op(op, make_context(), deferrable)
    assert raised.value.status == "ERROR"
    assert "schema mismatch" in str(raised.value) and "Missing columns: amount" in str(raised.value)
    assert push_api.push_table(POOL, "orders")["row_count"] == 5


@pytest.mark.parametrize("outcome", ["CANCELED", "ERROR", "PAUSED"])
@pytest.mark.parametrize("deferrable", MODES)
async def test_canceled_error_and_unknown_status_fail(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool, outcome: str
) -> None:
    push_api.configure_data_push(force_outcome=outcome)
    op = make_op(fast_retries, deferrable, source=str(write_csv(tmp_path / "a.csv", range(5))))
    with pytest.raises(CelonisJobFailedError) as raised:
        await run_op(op, make_context(), deferrable)
    assert raised.value.status == outcome
    if outcome == "PAUSED":
        assert "fail closed" in str(raised.value)


@pytest.mark.parametrize(("delete_running", "cancelled"), [("cancel", True), ("abandon", False)])
@pytest.mark.parametrize("deferrable", MODES)
async def test_timeout_deletes_the_job(
    push_api: Any,
    fast_retries: dict[str, float],
    tmp_path: Path,
    deferrable: bool,
    delete_running: str,
    cancelled: bool,
) -> None:
    push_api.configure_data_push(running_seconds=60, delete_running=delete_running)
    op = make_op(fast_retries, deferrable, source=str(write_csv(tmp_path / "a.csv", range(5))), timeout=1.5)
    with pytest.raises(CelonisJobTimeoutError) as raised:
        await run_op(op, make_context(), deferrable)
    assert raised.value.cancelled is cancelled
    text = str(raised.value)
    assert ("CANCELED" in text) if cancelled else ("abandoned" in text)
    [job] = push_api.push_report()["jobs"].values()
    assert job["status"] == ("CANCELED" if cancelled else "DELETED")


async def test_rate_limited_execute_is_waited_out(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    push_api.add_faults(
        [{"path": "/jobs/[^/]+$", "method": "POST", "kind": "rate_limit", "times": 6, "reset": 0.05}]
    )
    op = make_op(fast_retries, False, source=str(write_csv(tmp_path / "a.csv", range(5))))
    assert op.execute(make_context())["status"] == "DONE"
    assert push_api.push_report()["executions"] == 1


@pytest.mark.parametrize("deferrable", MODES)
async def test_lost_execute_answer_is_never_resent(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool
) -> None:
    """The execute reached Celonis but the answer was lost: watch the job, never execute again."""
    push_api.add_faults([{"path": "/jobs/[^/]+$", "method": "POST", "kind": "drop", "process": True}])
    op = make_op(fast_retries, deferrable, source=str(write_csv(tmp_path / "a.csv", range(7))))
    result = await run_op(op, make_context(), deferrable)
    assert result["status"] == "DONE"
    report = push_api.push_report()
    assert report["execute_requests"] == 1 and report["executions"] == 1
    assert push_api.push_table(POOL, "orders")["row_count"] == 7


WAITS = [
    pytest.param(False, True, id="sync"),
    pytest.param(True, True, id="deferrable"),
    pytest.param(False, False, id="no-wait"),
]


@pytest.mark.parametrize(("deferrable", "wait_for_completion"), WAITS)
async def test_lost_execute_that_never_arrived_is_sent_once_more(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool, wait_for_completion: bool
) -> None:
    """Still NEW after the grace period: the first execute provably did not start the job."""
    push_api.add_faults([{"path": "/jobs/[^/]+$", "method": "POST", "kind": "drop"}])
    op = make_op(
        fast_retries,
        deferrable,
        source=str(write_csv(tmp_path / "a.csv", range(7))),
        wait_for_completion=wait_for_completion,
    )
    result = await run_op(op, make_context(), deferrable and wait_for_completion)
    assert result["status"] in (("DONE",) if wait_for_completion else ("NEW", "QUEUED", "RUNNING", "DONE"))
    report = push_api.push_report()
    path = f"/data-ingestion/api/v1/data-push/{POOL}/jobs/{result['job_id']}"
    assert push_api.requests_to("POST", path) == 2  # the dropped one never reached the route
    assert report["execute_requests"] == 1 and report["executions"] == 1
    if wait_for_completion:
        assert push_api.push_table(POOL, "orders")["row_count"] == 7


@pytest.mark.parametrize(("deferrable", "wait_for_completion"), WAITS)
async def test_lost_execute_without_resends_fails_deletes_and_is_not_resent(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path, deferrable: bool, wait_for_completion: bool
) -> None:
    """execute_resends=0: still NEW after the grace period, the job is deleted, the fix says retry."""
    push_api.add_faults([{"path": "/jobs/[^/]+$", "method": "POST", "kind": "drop"}])
    op = make_op(
        fast_retries,
        deferrable,
        source=str(write_csv(tmp_path / "a.csv", range(7))),
        wait_for_completion=wait_for_completion,
        execute_resends=0,
    )
    with pytest.raises(CelonisJobFailedError, match="still NEW") as raised:
        await run_op(op, make_context(), deferrable and wait_for_completion)
    assert "retry the task" in str(raised.value) and "deleted it" in str(raised.value)
    report = push_api.push_report()
    assert report["executions"] == 0
    [job] = report["jobs"].values()
    assert job["status"] == "DELETED"


async def test_no_wait_after_a_lost_execute_answer_reports_the_running_job(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    push_api.configure_data_push(queued_seconds=30)
    push_api.add_faults([{"path": "/jobs/[^/]+$", "method": "POST", "kind": "drop", "process": True}])
    op = make_op(
        fast_retries, False, source=str(write_csv(tmp_path / "a.csv", range(3))), wait_for_completion=False
    )
    result = op.execute(make_context())
    assert result["status"] == "QUEUED"
    assert push_api.push_report()["execute_requests"] == 1


async def test_accepted_execute_is_not_failed_for_staying_new_a_while(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The start grace period is only for a lost execute answer, not for a slow Celonis."""
    push_api.configure_data_push(new_seconds=0.8, queued_seconds=0.1, running_seconds=0.2)
    op = make_op(
        fast_retries, False, source=str(write_csv(tmp_path / "a.csv", range(3))), start_grace_period=0.2
    )
    assert op.execute(make_context())["status"] == "DONE"


async def test_upload_failures_beyond_max_rebuilds_delete_every_job(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    push_api.add_faults([{"path": "/chunks/upserted$", "kind": "drop", "process": True, "times": -1}])
    op = make_op(fast_retries, False, source=str(write_csv(tmp_path / "a.csv", range(7))), max_rebuilds=2)
    discarded = r"3 job\(s\) built from the source were discarded"
    with pytest.raises(CelonisRequestMaybeSentError, match=discarded):
        op.execute(make_context())
    jobs = push_api.push_report()["jobs"].values()
    assert [j["status"] for j in jobs] == ["DELETED"] * 3
    assert push_api.push_report()["execute_requests"] == 0


async def test_no_wait_returns_after_execute(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    push_api.configure_data_push(queued_seconds=30)
    op = make_op(
        fast_retries, False, source=str(write_csv(tmp_path / "a.csv", range(3))), wait_for_completion=False
    )
    result = op.execute(make_context())
    assert result["status"] == "QUEUED" and result["rows"] == 3 and result["chunks"] == 1


async def test_timeout_during_upload_deletes_the_job_unexecuted(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    op = make_op(fast_retries, False, source=str(write_csv(tmp_path / "a.csv", range(5))), timeout=0)
    with pytest.raises(CelonisJobTimeoutError, match="deleted before it was executed"):
        op.execute(make_context())
    report = push_api.push_report()
    assert report["execute_requests"] == 0
    assert [j["status"] for j in report["jobs"].values()] == ["DELETED"]


async def test_data_connection_schema_and_csv_options(
    push_api: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    path = tmp_path / "semi.csv"
    path.write_text("id;name\n1;'a;b'\n2;c\n")
    op = make_op(
        fast_retries,
        False,
        source=str(path),
        data_connection_id="conn-1",
        csv_options={"separatorSequence": ";", "quoteSequence": "'"},
        job_options={"fallbackVarcharLength": 80},
    )
    assert op.execute(make_context())["rows"] == 2
    table = push_api.push_table(POOL, "orders", connection_id="conn-1")
    assert table["rows"] == [["1", "a;b"], ["2", "c"]]
