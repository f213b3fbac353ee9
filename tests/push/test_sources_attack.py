"""Review attacks on the push's inputs: empty sources, boundary sizes, credentials in URIs.

Against the emulator over real HTTP: what Celonis ends up holding must be the source's rows,
once, whatever the file's size relative to ``chunk_size``; an input that cannot be pushed is a
configuration error before any call; a source URI's credentials never show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisError
from tests.push.test_run_fault_matrix import POOL, make_op


def calls(emulator: Any) -> int:
    return len([r for r in emulator.recent_requests() if "/data-push/" in r.get("path", "")])


def test_empty_csv_file_is_refused_before_any_call(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    source = tmp_path / "orders.csv"
    source.write_bytes(b"")
    with pytest.raises(CelonisConfigurationError, match="no header line"):
        make_op(fast_retries, source).execute(make_context())
    assert emulator.push_report()["jobs"] == {}


def test_header_only_csv_pushes_zero_rows(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    source = tmp_path / "orders.csv"
    source.write_text("id,name\n")
    result = make_op(fast_retries, source).execute(make_context())
    assert result["rows"] == 0 and result["chunks"] == 1 and result["status"] == "DONE"
    assert emulator.push_table(POOL, "orders")["row_count"] == 0


@pytest.mark.parametrize("delta", [-1, 0, 1])
def test_csv_around_chunk_size_lands_once(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, delta: int
) -> None:
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    source = tmp_path / "orders.csv"
    source.write_text("id,name\n" + "".join(f'{i},"a\nb {i}"\n' for i in range(50)))
    size = source.stat().st_size
    result = make_op(fast_retries, source, chunk_size=size + delta).execute(make_context())
    assert result["rows"] == 50 and result["chunks"] == (2 if delta < 0 else 1)
    rows = emulator.push_table(POOL, "orders")["rows"]
    assert sorted(int(r[0]) for r in rows) == list(range(50))
    assert all(r[1] == f"a\nb {r[0]}" for r in rows)
    assert max(emulator.push_report()["jobs"][result["job_id"]]["chunk_sizes"]) <= size + delta


@pytest.mark.parametrize("delta", [-1, 0])
def test_parquet_around_chunk_size_lands_once(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path, delta: int
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    source = tmp_path / "orders.parquet"
    table = pa.table({"id": list(range(60)), "name": [f"name {i}" for i in range(60)]})
    pq.write_table(table, source, row_group_size=10, compression="none")
    size = source.stat().st_size
    result = make_op(fast_retries, source, chunk_size=size + delta).execute(make_context())
    assert result["rows"] == 60 and result["status"] == "DONE"
    rows = emulator.push_table(POOL, "orders")["rows"]
    assert sorted(int(r[0]) for r in rows) == list(range(60))
    assert max(emulator.push_report()["jobs"][result["job_id"]]["chunk_sizes"]) <= size + delta


def test_empty_parquet_file_pushes_zero_rows(
    emulator: Any, fast_retries: dict[str, float], tmp_path: Path
) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    source = tmp_path / "orders.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.int64()), "name": pa.array([], pa.string())}), source)
    result = make_op(fast_retries, source, chunk_size=10_000).execute(make_context())
    assert result["rows"] == 0 and result["status"] == "DONE" and result["chunks"] == 1


SECRET = "S3CR3TVALUE"


def _error_paths(tmp_path: Path) -> dict[str, tuple[Any, dict[str, Any]]]:
    good = tmp_path / "good.csv"
    good.write_text("id,name\n" + "".join(f"{i},name {i}\n" for i in range(60)))
    other = tmp_path / "other.csv"
    other.write_text("id,label\n1,x\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    long_record = tmp_path / "long.csv"
    long_record.write_text("id,name\n1," + "x" * 1000 + "\n")

    def uri(path: Path) -> str:
        return f"file://AKIAKEY:{SECRET}@{path}"

    return {
        "empty": (uri(empty), {}),
        "record-too-long": (uri(long_record), {}),
        "keys-missing": (uri(good), {"mode": "DELTA", "keys": ["nope"]}),
        "different-columns": ([uri(good), uri(other)], {}),
        "unmatched-entry": ([uri(good), uri(tmp_path / "missing.csv")], {}),
        "lost-uploads": (uri(good), {"max_rebuilds": 0}),
    }


@pytest.mark.parametrize(
    "path",
    ["empty", "record-too-long", "keys-missing", "different-columns", "unmatched-entry", "lost-uploads"],
)
def test_source_credentials_never_show_on_error_paths(
    emulator: Any,
    fast_retries: dict[str, float],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    path: str,
) -> None:
    from tests.push.test_run_fault_matrix import CALLS

    source, kwargs = _error_paths(tmp_path)[path]
    if path == "lost-uploads":
        emulator.add_faults([{**CALLS["upload"], "kind": "status", "status": 503, "process": True}])
    with pytest.raises(CelonisError) as raised:
        make_op(fast_retries, source, **kwargs).execute(make_context())
    shown = str(raised.value) + repr(raised.value.args) + "".join(capfd.readouterr())
    chain = raised.value.__cause__ or raised.value.__context__
    shown += repr(chain) + str(chain)
    assert SECRET not in shown and "AKIAKEY" not in shown, shown[-2000:]
