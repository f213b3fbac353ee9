"""Sorted spill runs, atomic writes and output path checks (local files only, no emulator)."""

from __future__ import annotations

import itertools
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.outputs import (
    Columns,
    atomic_output,
    check_format,
    check_output_path,
    write_records,
)
from airflow_provider_celonis.extracts.read_ahead import read_ahead
from airflow_provider_celonis.extracts.spill import SortedSpill, canonical


def spill_lines(tmp_path: Path, records: list[dict[str, object]], **kwargs: int) -> list[str]:
    spill = SortedSpill(str(tmp_path), **kwargs)
    for record in records:
        spill.add(str(record["ts"]), canonical(record))
    return list(spill.merged())


@pytest.mark.parametrize(("run_size", "fan_in"), [(100_000, 64), (7, 64), (5, 2), (1, 3)])
def test_spill_orders_and_deduplicates_across_runs_and_merge_rounds(
    tmp_path: Path, run_size: int, fan_in: int
) -> None:
    rng = random.Random(3)
    unique = [{"ts": f"2025-01-01T00:00:{rng.randint(0, 9):02d}.000Z", "n": n} for n in range(150)]
    stream = unique + rng.sample(unique, 60)
    rng.shuffle(stream)
    lines = spill_lines(tmp_path, stream, run_size=run_size, fan_in=fan_in)
    records = [json.loads(line) for line in lines]
    assert len(records) == 150
    assert records == sorted(unique, key=lambda r: (r["ts"], canonical(r)))
    assert all(line.endswith("\n") for line in lines)


def test_canonical_form_is_sorted_compact_json() -> None:
    record = {"z": [1, 2.5, None, True], "a": {"ü": 'naïve \u2028 "quoted"', "n": -3}, "m": ""}
    assert canonical(record) == json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert json.loads(canonical({"big": 2**80})) == {"big": 2**80}


def test_canonical_form_is_independent_of_key_order() -> None:
    assert canonical({"b": 1, "a": {"d": "ü", "c": None}}) == canonical({"a": {"c": None, "d": "ü"}, "b": 1})
    assert "\t" not in canonical({"a": "tab\there\nnewline"})


def test_atomic_output_removes_the_temporary_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.jsonl"

    def write_then_fail() -> None:
        with atomic_output(str(target)) as out:
            out.write(b"partial")
            raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert list((tmp_path / "sub").iterdir()) == []


def test_write_records_in_each_format(tmp_path: Path) -> None:
    records = [{"ts": "b", "n": 2, "tags": ["x"]}, {"ts": "a", "n": 1, "extra": True}]
    lines = [canonical(r) + "\n" for r in records]
    columns = Columns(("ts",), types=True)
    for record in records:
        columns.add(record)
    assert columns.names() == ["ts", "extra", "n", "tags"]
    assert write_records(str(tmp_path / "o.jsonl"), "jsonl", lines, columns) == 2
    assert (tmp_path / "o.jsonl").read_text().splitlines()[0] == '{"n":2,"tags":["x"],"ts":"b"}'
    assert write_records(str(tmp_path / "o.csv"), "csv", lines, columns) == 2
    assert (tmp_path / "o.csv").read_text().splitlines() == ["ts,extra,n,tags", 'b,,2,"[""x""]"', "a,True,1,"]
    pq = pytest.importorskip("pyarrow.parquet")
    assert write_records(str(tmp_path / "o.parquet"), "parquet", lines, columns) == 2
    table = pq.read_table(tmp_path / "o.parquet")
    assert table.to_pylist() == [
        {"ts": "b", "extra": None, "n": 2, "tags": '["x"]'},
        {"ts": "a", "extra": True, "n": 1, "tags": None},
    ]


def test_csv_and_parquet_keep_records_that_are_not_objects(tmp_path: Path) -> None:
    """The operators keep whatever an API returned; a list or string must not crash the writer."""
    records: list[object] = [["odd", 1], "text", {"ts": "a", "n": 1}]
    lines = [canonical(r) + "\n" for r in records]
    columns = Columns(("ts",), types=True)
    for record in records:
        columns.add(record)
    assert columns.names() == ["ts", "n", "value"]
    assert write_records(str(tmp_path / "o.csv"), "csv", lines, columns) == 3
    assert (tmp_path / "o.csv").read_text().splitlines() == [
        "ts,n,value",
        ',,"[""odd"",1]"',
        ",,text",
        "a,1,",
    ]
    pq = pytest.importorskip("pyarrow.parquet")
    assert write_records(str(tmp_path / "o.parquet"), "parquet", lines, columns) == 3
    assert pq.read_table(tmp_path / "o.parquet").to_pylist() == [
        {"ts": None, "n": None, "value": '["odd",1]'},
        {"ts": None, "n": None, "value": "text"},
        {"ts": "a", "n": 1, "value": None},
    ]


def test_format_and_path_checks(tmp_path: Path) -> None:
    assert check_format(" JSONL ") == "jsonl"
    with pytest.raises(CelonisConfigurationError, match="output_format"):
        check_format("excel")
    check_output_path(str(tmp_path / "new" / "deeper" / "file.jsonl"))
    check_output_path("file:///tmp/x.jsonl")
    for bad in ("", str(tmp_path), "unknownfs://bucket/key", "memory://bucket/key"):
        with pytest.raises(CelonisConfigurationError, match="output_path"):
            check_output_path(bad)


def test_read_ahead_passes_items_and_errors_through_in_order() -> None:
    assert list(read_ahead(lambda: iter(range(123)), depth=3)) == list(range(123))

    def failing() -> Iterator[int]:
        yield from range(10)
        raise ValueError("page 10 failed")

    got: list[int] = []

    def consume() -> None:
        for item in read_ahead(failing, depth=2):
            got.append(item)

    with pytest.raises(ValueError, match="page 10"):
        consume()
    assert got == list(range(10))
    with pytest.raises(ValueError, match="depth"):
        next(read_ahead(failing, depth=0))


def test_read_ahead_stops_its_worker_when_the_consumer_leaves() -> None:
    produced: list[int] = []
    closed: list[bool] = []

    def endless() -> Iterator[int]:
        try:
            for n in itertools.count():
                produced.append(n)
                yield n
        finally:
            closed.append(True)

    switch = sys.getswitchinterval()
    stream = read_ahead(endless, depth=2)
    assert next(stream) == 0
    assert sys.getswitchinterval() == switch  # the worker's other threads are left alone
    stream.close()
    assert closed == [True]
    assert len(produced) <= 4  # at most depth items ahead, plus the one being put
    assert sys.getswitchinterval() == switch
