"""Review attacks on the push's source: a file that changes while the task pushes it.

A lost upload answer makes the operator discard the job and build the push again from the
source. The rebuilt push must be the data the task planned (and the first build sent): a file
rewritten or still growing between the builds must not be pushed silently as something else.
The writer is simulated by rewriting the file when the operator discards the first job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from tests.push.test_run_fault_matrix import CALLS, POOL, ROWS, make_op, write_csv


def lose_second_upload(emulator: Any) -> None:
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    emulator.add_faults([{**CALLS["upload"], "kind": "drop", "times": 1}])


def rewrite_on_discard(op: Any, change: Any) -> None:
    original = op.discard

    def discard(job_id: str, why: str) -> bool:
        change()
        return bool(original(job_id, why))

    op.discard = discard


CHANGES = {
    # Same size, other values: the planned byte ranges still fit, the data is not the same.
    "rewritten": lambda path: path.write_text(path.read_text().replace("name", "NAME")),
    # An export still being written: rows appended after the plan.
    "growing": lambda path: path.write_text(
        path.read_text() + "".join(f"{i},name {i}\n" for i in range(ROWS, ROWS + 20))
    ),
    # Shorter lines: the planned split points now cut records in two.
    "shifted": lambda path: path.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(ROWS))),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_source_changed_between_builds_is_not_pushed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, change: str
) -> None:
    lose_second_upload(emulator)
    source = write_csv(tmp_path / "orders.csv")
    op = make_op(fast_retries, source)
    rewrite_on_discard(op, lambda: CHANGES[change](source))
    with pytest.raises(CelonisConfigurationError, match=r"source.*changed"):
        op.execute(make_context())
    report = emulator.push_report()
    assert report["execute_requests"] == 0, report
    assert all(job["status"] == "DELETED" for job in report["jobs"].values()), report


def test_parquet_source_rewritten_between_builds_is_not_pushed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")

    def write(path: Path, rows: int) -> None:
        table = pa.table({"id": list(range(rows)), "name": [f"name {i}" for i in range(rows)]})
        pq.write_table(table, path, row_group_size=20, compression="none")

    source = tmp_path / "orders.parquet"
    write(source, ROWS)
    lose_second_upload(emulator)
    op = make_op(fast_retries, source, chunk_size=source.stat().st_size * 2 // 3)
    rewrite_on_discard(op, lambda: write(source, ROWS * 2))
    with pytest.raises(CelonisConfigurationError, match=r"source.*changed"):
        op.execute(make_context())
    assert emulator.push_report()["execute_requests"] == 0


def test_unchanged_source_is_rebuilt_and_pushed_once(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The control: the same lost upload with a file nobody touches ends DONE, each row once."""
    lose_second_upload(emulator)
    result = make_op(fast_retries, write_csv(tmp_path / "orders.csv")).execute(make_context())
    assert result["status"] == "DONE" and result["rows"] == ROWS
    rows = emulator.push_table(POOL, "orders")["rows"]
    assert sorted(int(r[0]) for r in rows) == list(range(ROWS))


@pytest.mark.parametrize("mode", ["REPLACE", "DELTA"])
def test_rebuild_keeps_replace_and_upsert_semantics(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, mode: str
) -> None:
    """The table already holds rows 0-59 ("old"); the push of rows 30-89 loses an upload answer
    after Celonis stored the chunk, and is rebuilt. REPLACE: the table is exactly 30-89, once.
    DELTA: 0-29 keep their old values, 30-89 are the new ones, each once."""
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    first = tmp_path / "first.csv"
    first.write_text("id,name\n" + "".join(f"{i},old {i}\n" for i in range(60)))
    make_op(fast_retries, first, chunk_size=10_000).execute(make_context())
    emulator.add_faults([{**CALLS["upload"], "kind": "status", "status": 503, "process": True}])
    second = tmp_path / "second.csv"
    second.write_text("id,name\n" + "".join(f"{i},new {i}\n" for i in range(30, 90)))
    keys = {"keys": ["id"]} if mode == "DELTA" else {}
    result = make_op(fast_retries, second, mode=mode, **keys).execute(make_context())
    assert result["status"] == "DONE" and result["rows"] == 60
    rows = sorted((int(r[0]), r[1]) for r in emulator.push_table(POOL, "orders")["rows"])
    new = [(i, f"new {i}") for i in range(30, 90)]
    assert rows == (new if mode == "REPLACE" else [(i, f"old {i}") for i in range(30)] + new)


def test_source_check_can_be_turned_off(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    """The escape hatch for an object store whose stat answers are not stable: the rebuild then
    pushes the planned byte ranges of the file as it is."""
    lose_second_upload(emulator)
    source = write_csv(tmp_path / "orders.csv")
    op = make_op(fast_retries, source, check_source_unchanged=False)
    rewrite_on_discard(op, lambda: CHANGES["rewritten"](source))
    assert op.execute(make_context())["status"] == "DONE"


def test_object_storage_source_changed_between_builds_is_not_pushed(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The same check through ObjectStoragePath (a file:// URI with credentials in it): the
    stat marks of the object are compared, and the error and logs show the URI redacted."""
    lose_second_upload(emulator)
    source = write_csv(tmp_path / "orders.csv")
    op = make_op(fast_retries, f"file://AKIAKEY:S3CR3T@{source}")
    rewrite_on_discard(op, lambda: CHANGES["rewritten"](source))
    with pytest.raises(CelonisConfigurationError, match=r"source.*changed") as raised:
        op.execute(make_context())
    shown = str(raised.value) + "".join(capfd.readouterr())
    assert "S3CR3T" not in shown and "file://***@" in str(raised.value)
    assert emulator.push_report()["execute_requests"] == 0
