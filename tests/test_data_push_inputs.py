"""Every input problem of CelonisDataPushOperator is reported before any call to Celonis."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator


def csv_file(path: Path, header: str = "id,name") -> Path:
    path.write_text(f"{header}\n1,a\n2,b\n")
    return path


def make_op(**kwargs: Any) -> CelonisDataPushOperator:
    return CelonisDataPushOperator(
        **{"task_id": "push", "data_pool_id": POOL, "target_table": "orders", "poll_interval": 0.05, **kwargs}
    )


def cases(tmp: Path) -> list[tuple[str, dict[str, Any], str]]:
    a = csv_file(tmp / "a.csv")
    (tmp / "b.parquet").write_bytes(b"PAR1")
    other = csv_file(tmp / "other" / "c.csv", header="id,title") if (tmp / "other").mkdir() is None else a
    locked = csv_file(tmp / "locked.csv")
    locked.chmod(0)
    long_row = tmp / "long.csv"
    long_row.write_text("id,name\n" + "1," + "x" * 500 + "\n")
    return [
        ("source", {"source": str(tmp / "nothing-*.csv")}, "matched no files"),
        ("source", {"source": str(tmp / "*")}, "mixes file types"),
        ("keys", {"source": str(a), "mode": "DELTA"}, "is empty but mode is DELTA"),
        ("keys", {"source": str(a), "mode": "DELTA", "keys": ["order_id"]}, "not in the file's columns"),
        ("source", {"source": str(locked)}, "cannot be read"),
        # A file whose every read fails (EIO), readable as root too.
        ("source", {"source": "/proc/self/mem", "file_type": "CSV"}, "cannot be read"),
        ("source", {"source": [str(a), str(other)]}, "different columns"),
        ("mode", {"source": str(a), "mode": "UPSERT"}, "use 'REPLACE' or 'DELTA'"),
        ("chunk_size", {"source": str(a), "chunk_size": 2_000_000_000}, "Celonis: 1 GB"),
        ("chunk_size", {"source": str(long_row), "chunk_size": 100}, "longer than the chunk budget"),
        ("file_type", {"source": str(a), "file_type": "JSON"}, "use 'CSV' or 'PARQUET'"),
        ("delete_source", {"source": str(a), "delete_source": str(tmp / "none.csv")}, "matched no files"),
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod-0 file; covered by the other cases")
def test_unreadable_file_as_non_root(emulator: Any, tmp_path: Path) -> None:
    locked = csv_file(tmp_path / "locked.csv")
    locked.chmod(0)
    with pytest.raises(CelonisConfigurationError, match="cannot be read"):
        make_op(source=str(locked)).execute(make_context())


def test_each_input_error_is_raised_before_any_call(emulator: Any, tmp_path: Path) -> None:
    for field, kwargs, message in cases(tmp_path):
        if kwargs.get("source") == str(tmp_path / "locked.csv") and os.geteuid() == 0:
            continue  # root can read a chmod-0 file
        with pytest.raises(CelonisConfigurationError) as raised:
            make_op(**kwargs).execute(make_context())
        assert raised.value.field == field, (kwargs, str(raised.value))
        assert message in str(raised.value), (kwargs, str(raised.value))
    stats = emulator.stats()
    assert stats["api_calls"] == 0 and stats["token_requests"] == 0


def test_bad_parquet_file_is_an_input_error(emulator: Any, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(CelonisConfigurationError, match="header cannot be read"):
        make_op(source=str(bad)).execute(make_context())
    assert emulator.stats()["api_calls"] == 0


def test_constructor_does_no_io_and_source_is_templated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CELONIS_DEFAULT", raising=False)
    op = make_op(source="/no/such/{{ ds }}/*.csv", celonis_conn_id="does_not_exist")
    assert "source" in op.template_fields and "keys" in op.template_fields
    assert op.deferrable is False and op.mode == "REPLACE"


def test_parquet_row_group_above_chunk_size_is_an_input_error(emulator: Any, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "big_groups.parquet"
    pq.write_table(pa.table({"id": list(range(5000))}), path, row_group_size=5000, compression="none")
    with pytest.raises(CelonisConfigurationError, match="row group 0") as raised:
        make_op(source=str(path), chunk_size=path.stat().st_size // 2).execute(make_context())
    assert raised.value.field == "chunk_size"
    assert emulator.stats()["api_calls"] == 0


def test_escape_sequence_with_a_split_is_refused_before_any_call(emulator: Any, tmp_path: Path) -> None:
    """``\\"`` breaks the splitter's quote parity: refuse when a split is needed, allow when not."""
    path = tmp_path / "escaped.csv"
    path.write_text("id,note\n" + "".join(f'{i},"say \\"hi\\", {i}\nbye"\n' for i in range(40)))
    escaped = {"escapeSequence": "\\", "quoteSequence": '"'}
    with pytest.raises(CelonisConfigurationError, match="escapeSequence") as raised:
        make_op(source=str(path), csv_options=escaped, chunk_size=200).execute(make_context())
    assert raised.value.field == "csv_options"
    assert "raise chunk_size" in str(raised.value) and "doubled quotes" in str(raised.value)
    with pytest.raises(CelonisConfigurationError, match="lineEnding") as raised:
        make_op(source=str(path), csv_options={"lineEnding": "\r"}, chunk_size=200).execute(make_context())
    assert emulator.stats()["api_calls"] == 0
    # The same file fits one chunk: sent as it is, Celonis parses it with the escape character.
    assert make_op(source=str(path), csv_options=escaped, timeout=20).execute(make_context())["rows"] == 40


def test_utf8_bom_is_not_part_of_the_first_key(emulator: Any, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,name\n1,a\n2,b\n".encode())
    from airflow_provider_celonis.push_plan import make_plan

    plan = make_plan(make_op(source=str(path), mode="DELTA", keys="id"))  # the key check passes
    assert plan.keys == ["id"]
    assert emulator.stats()["api_calls"] == 0


def test_parquet_chunk_size_below_the_footer_is_an_input_error(emulator: Any, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "small.parquet"
    pq.write_table(pa.table({"id": list(range(50))}), path, row_group_size=10)
    with pytest.raises(CelonisConfigurationError, match="Parquet footer") as raised:
        make_op(source=str(path), chunk_size=100).execute(make_context())
    assert raised.value.field == "chunk_size"
    assert emulator.stats()["api_calls"] == 0
