"""Chunking, multipart encoding and source resolution, without the emulator (pure file work)."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.push.chunking import (
    ChunkingError,
    RowCounter,
    csv_boundaries,
    csv_chunks,
    parquet_chunks,
    plan_row_groups,
)
from airflow_provider_celonis.push.multipart import MultipartFileBody
from airflow_provider_celonis.push.sources import infer_file_type, resolve_sources


def write_csv(path: Path, rows: int, quoted_every: int = 0) -> Path:
    with path.open("w", newline="") as handle:
        handle.write("id,name,note\n")
        for i in range(rows):
            if quoted_every and i % quoted_every == 0:
                handle.write(f'{i},"n,{i}","line one\nline ""two"" {i}"\n')
            else:
                handle.write(f"{i},n{i},plain\n")
    return path


def chunk_bytes(chunk: Any) -> bytes:
    return b"".join(chunk.pieces(block=37))  # odd block size: counters must work across blocks


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


@pytest.mark.parametrize("quoted_every", [0, 3])
def test_csv_split_repeats_header_and_keeps_every_record_whole(tmp_path: Path, quoted_every: int) -> None:
    path = write_csv(tmp_path / "data.csv", 500, quoted_every)
    [file] = resolve_sources(str(path))
    chunks = csv_chunks(file, 700)
    assert len(chunks) > 5
    assert all(c.size <= 700 for c in chunks)
    records: list[list[str]] = []
    for chunk in chunks:
        data = chunk_bytes(chunk)
        assert len(data) == chunk.size
        rows = parse(data)
        assert rows[0] == ["id", "name", "note"]
        assert chunk.rows == len(rows) - 1
        records.extend(rows[1:])
    assert [r[0] for r in records] == [str(i) for i in range(500)]
    assert parse(path.read_bytes())[1:] == records


def test_small_file_is_one_chunk_with_exact_row_count(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "small.csv", 10, quoted_every=2)
    [file] = resolve_sources(str(path))
    [chunk] = csv_chunks(file, 10_000)
    assert chunk_bytes(chunk) == path.read_bytes()
    assert chunk.rows == 10


def test_last_record_without_newline_counts() -> None:
    counter = RowCounter(b'"')
    for piece in (b'1,"a\n', b'b"\n2,c'):
        counter.feed(piece)
    assert counter.total() == 2


def test_record_longer_than_budget_is_refused() -> None:
    data = b"x" * 50 + b"\n" + b"y" * 500 + b"\n"
    with pytest.raises(ChunkingError, match="longer than the chunk budget"):
        csv_boundaries(io.BytesIO(data), 0, 100, b'"', block=64)


def test_boundaries_cover_the_data_exactly_with_small_scan_blocks() -> None:
    data = b"".join(b'%d,"a\nb"\n' % i for i in range(200))
    ranges = csv_boundaries(io.BytesIO(data), 0, 90, b'"', block=16)
    assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
    assert all(end - start <= 90 for start, end in ranges)
    assert all(data[end - 1 : end] == b"\n" and data[start : start + 1].isdigit() for start, end in ranges)


def test_multipart_body_length_matches_what_is_sent() -> None:
    body = MultipartFileBody("file", 'we"ird.csv', 5, lambda: [b"ab", b"cde"], "text/csv", boundary="B")
    sent = b"".join(body)
    assert len(sent) == len(body)
    assert sent.startswith(b'--B\r\nContent-Disposition: form-data; name="file"; filename="we_ird.csv"')
    assert sent.endswith(b"\r\nabcde\r\n--B--\r\n")
    short = MultipartFileBody("file", "x", 9, lambda: [b"ab"], boundary="B")
    with pytest.raises(ValueError, match="announced 9 bytes"):
        b"".join(short)


def test_sources_globs_lists_and_uris(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv"):
        write_csv(tmp_path / name, 2)
    files = resolve_sources(str(tmp_path / "*.csv"))
    assert [f.name for f in files] == ["a.csv", "b.csv"]
    uri = resolve_sources([f"file://{tmp_path}/a.csv", str(tmp_path / "a.csv")])
    assert [f.name for f in uri] == ["a.csv", "a.csv"]
    assert [f.name for f in resolve_sources(f"file://{tmp_path}/*.csv")] == ["a.csv", "b.csv"]
    assert infer_file_type(files, None) == "CSV"


def test_source_errors(tmp_path: Path) -> None:
    with pytest.raises(CelonisConfigurationError, match="matched no files"):
        resolve_sources(str(tmp_path / "*.csv"))
    write_csv(tmp_path / "a.csv", 1)
    with pytest.raises(CelonisConfigurationError, match=r"matched no files: .*missing"):
        resolve_sources([str(tmp_path / "a.csv"), str(tmp_path / "missing.csv")])
    (tmp_path / "b.parquet").write_bytes(b"PAR1")
    with pytest.raises(CelonisConfigurationError, match="mixes file types"):
        infer_file_type(resolve_sources(str(tmp_path / "*")), None)
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(CelonisConfigurationError, match="cannot be inferred"):
        infer_file_type(resolve_sources(str(tmp_path / "c.json")), None)


def test_row_group_plan_never_exceeds_the_budget() -> None:
    assert plan_row_groups([(40, 1), (40, 1), (40, 1), (10, 1)], 90) == [[0, 1], [2, 3]]
    with pytest.raises(ChunkingError, match="row group 1"):
        plan_row_groups([(10, 1), (200, 1)], 100)


def test_parquet_split_at_row_groups(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"id": list(range(4000)), "name": [f"name-{i:06d}" for i in range(4000)]})
    path = tmp_path / "data.parquet"
    pq.write_table(table, path, row_group_size=500, compression="none")
    [file] = resolve_sources(str(path))
    chunk_size = file.size // 3
    chunks = list(parquet_chunks(file, chunk_size, spill_dir=str(tmp_path)))
    try:
        assert len(chunks) >= 3
        assert all(c.size <= chunk_size for c in chunks)
        assert sum(c.rows or 0 for c in chunks) == 4000
        ids: list[int] = []
        for chunk in chunks:
            ids.extend(pq.read_table(io.BytesIO(b"".join(chunk.pieces())))["id"].to_pylist())
        assert ids == list(range(4000))
    finally:
        for chunk in chunks:
            assert chunk.cleanup is not None
            chunk.cleanup()
    assert list(tmp_path.glob("celonis-push-*")) == []


def test_row_counter_matches_the_csv_module_on_random_blocks(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    records = []
    for i in range(400):
        kind = rng.choice(["plain", "comma", "newline", "escaped", "crlf"])
        text = {
            "plain": "x",
            "comma": '"a,b"',
            "newline": '"a\nb\n"',
            "escaped": '"say ""hi""\nthere"',
            "crlf": '"a\r\nb"',
        }[kind]
        records.append(f"{i},{text}")
    data = ("id,text\n" + "\n".join(records)).encode()  # no final newline: the last record counts too
    expected = len(parse(data)) - 1
    for _ in range(20):
        counter, pos = RowCounter(b'"'), 8
        while pos < len(data):
            step = rng.randint(1, 40)
            counter.feed(data[pos : pos + step])
            pos += step
        assert counter.total() == expected == 400


def test_requests_sends_a_content_length_not_chunked_encoding() -> None:
    import requests

    body = MultipartFileBody("file", "a.csv", 3, lambda: [b"abc"], boundary="B")
    prepared = requests.Request("POST", "http://celonis.invalid/x", data=body).prepare()
    assert prepared.headers["Content-Length"] == str(len(body))
    assert "Transfer-Encoding" not in prepared.headers
