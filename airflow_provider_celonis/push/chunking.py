"""Cut input files into Data Push chunks of at most ``chunk_size`` bytes, streaming, never whole.

Celonis accepts at most 1 GB per chunk (docs/celonis-api.md 3.3). A :class:`Chunk` is a
recipe, not bytes: ``pieces()`` re-reads its byte range from the file each time it is
called, so a retried upload can send it again and memory stays at one read block.

CSV: one scan of the file finds split points at line ends that lie *outside* quoted fields
(a quote character toggles "inside"; a doubled quote toggles twice, so parity is exact),
so a quoted newline never splits a record. Every chunk after the first starts with the
file's header line. Limits: the encoding must be ASCII-compatible (UTF-8, Latin-1, ...;
not UTF-16), lines end in ``\\n`` or ``\\r\\n`` (not a lone ``\\r``), and ``quote_char=None``
turns the quote tracking off for files that use no quoting. A single record longer than
the chunk budget cannot be split and raises :class:`ChunkingError`.

Rows are counted exactly while a CSV chunk is streamed (record ends outside quotes, plus a
last record without a final newline). Parquet chunks come from row-group metadata.
A file that fits in one chunk is sent as it is, with no scan.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from airflow_provider_celonis.push.sources import PushFile, _local

CELONIS_CHUNK_LIMIT = 1_000_000_000
"""Celonis documents 1 GB per chunk; read as 10**9 bytes to stay on the safe side."""
READ_BLOCK = 1 << 20
"""Bytes read (and sent) at a time: bounds memory per upload."""
SCAN_BLOCK = 8 << 20
MAX_HEADER = 1 << 20


class ChunkingError(ValueError):
    """The file cannot be cut into chunks below the limit (a record or row group is too big)."""


@dataclass
class Chunk:
    """A byte range of one file, plus a header to send first; ``rows`` is filled while streaming."""

    file: PushFile
    start: int
    end: int
    header: bytes = b""
    rows: int | None = None
    quote: bytes | None = b'"'
    count_rows: bool = True
    cleanup: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        return len(self.header) + self.end - self.start

    @property
    def name(self) -> str:
        return self.file.name

    def pieces(self, block: int = READ_BLOCK) -> Iterator[bytes]:
        """The chunk's bytes in blocks, read fresh from the file on every call."""
        counter = RowCounter(self.quote) if self.count_rows else None
        if self.header:
            yield self.header
        with self.file.open() as handle:
            handle.seek(self.start)
            left = self.end - self.start
            while left > 0:
                data = handle.read(min(block, left))
                if not data:
                    raise ChunkingError(f"{self.file.uri} shrank while it was being pushed")
                left -= len(data)
                if counter is not None:
                    counter.feed(data)
                yield data
        if counter is not None:
            self.rows = counter.total()


class RowCounter:
    """Counts CSV records in a stream that starts outside quotes, block by block, at C speed.

    Fast path: keep only quote and newline bytes (``bytes.translate``), drop adjacent quote
    pairs (they change no newline's parity); if no quote is left, every newline ends a record.
    Only blocks with a quoted newline take the slower ``split`` path.
    """

    def __init__(self, quote: bytes | None) -> None:
        self.quote = quote
        self.in_quote = False
        self.rows = 0
        self.last = b""
        keep = {ord("\n")} | ({quote[0]} if quote else set())
        self._drop = bytes(b for b in range(256) if b not in keep)

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.last = data[-1:]
        if self.quote is None:
            self.rows += data.count(b"\n")
            return
        compact = data.translate(None, self._drop)
        if self.in_quote:
            compact = self.quote + compact
        reduced = compact.replace(self.quote * 2, b"")
        left = reduced.count(self.quote)
        if left == 0 or (left == 1 and reduced.endswith(self.quote)):
            self.rows += reduced.count(b"\n")
            self.in_quote = left == 1
            return
        parts = data.split(self.quote)
        outside = parts[1::2] if self.in_quote else parts[0::2]
        self.rows += sum(part.count(b"\n") for part in outside)
        if (len(parts) - 1) % 2:
            self.in_quote = not self.in_quote

    def total(self) -> int:
        """Records seen; a non-empty stream not ending in a newline has one more record."""
        return self.rows + (1 if self.last not in (b"", b"\n") else 0)


def _last_safe_newline(segment: bytes, in_quote: bool, quote: bytes | None) -> int | None:
    """Index just after the last ``\\n`` of ``segment`` that lies outside quotes, or None."""
    end = len(segment)
    while True:
        pos = segment.rfind(b"\n", 0, end)
        if pos < 0:
            return None
        if quote is None or (in_quote + segment.count(quote, 0, pos)) % 2 == 0:
            return pos + 1
        end = pos


def read_header(handle: IO[bytes], quote: bytes | None) -> bytes:
    """The first record of the file, with its line ending (quoted newlines respected)."""
    handle.seek(0)
    data = handle.read(MAX_HEADER)
    start, in_quote = 0, False
    while True:
        pos = data.find(b"\n", start)
        if pos < 0:
            if len(data) < MAX_HEADER:
                return data  # a file that is only a header, without a final newline
            raise ChunkingError(f"no header line found in the first {MAX_HEADER} bytes")
        if quote is not None:
            in_quote ^= bool(data.count(quote, start, pos) % 2)
        if not in_quote:
            return data[: pos + 1]
        start = pos + 1


def csv_boundaries(
    handle: IO[bytes], data_start: int, budget: int, quote: bytes | None, block: int = SCAN_BLOCK
) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` of the data (after the header), each at most ``budget`` bytes.

    Every range ends just after a newline outside quotes (except the file's last range).
    After a split the file is re-read from the split point, at most one block per chunk.
    """
    ranges: list[tuple[int, int]] = []
    start = data_start
    handle.seek(start)
    offset, in_quote, last_safe = start, False, None
    while True:
        buf = handle.read(block)
        if not buf:
            break
        limit = start + budget - offset  # index in buf past which this chunk must not go
        if limit >= len(buf):
            safe = _last_safe_newline(buf, in_quote, quote)
            if safe is not None:
                last_safe = offset + safe
            if quote is not None:
                in_quote ^= bool(buf.count(quote) % 2)
            offset += len(buf)
            continue
        safe = _last_safe_newline(buf[: max(limit, 0)], in_quote, quote)
        split = offset + safe if safe is not None else last_safe
        if split is None or split <= start:
            raise ChunkingError(
                f"a record starting at byte {start} is longer than the chunk budget of {budget} bytes"
            )
        ranges.append((start, split))
        start, offset, in_quote, last_safe = split, split, False, None
        handle.seek(split)
    if offset > start:
        ranges.append((start, offset))
    return ranges


def csv_chunks(file: PushFile, chunk_size: int, quote: bytes | None = b'"') -> list[Chunk]:
    """Chunks of one CSV file: the whole file when it fits, else header + data ranges."""
    if file.size <= chunk_size:
        with file.open() as handle:
            header = read_header(handle, quote)
        return [Chunk(file, len(header), file.size, header, quote=quote)]
    with file.open() as handle:
        header = read_header(handle, quote)
        budget = chunk_size - len(header)
        if budget <= 0:
            raise ChunkingError(f"the header line alone is larger than chunk_size ({chunk_size} bytes)")
        ranges = csv_boundaries(handle, len(header), budget, quote)
    return [Chunk(file, start, end, header, quote=quote) for start, end in ranges]


def csv_header(file: PushFile, quote: bytes | None = b'"') -> bytes:
    with file.open() as handle:
        return read_header(handle, quote)


# -- Parquet ----------------------------------------------------------------------------------
def parquet_rows(file: PushFile) -> int:
    import pyarrow.parquet as pq

    with file.open() as handle:
        return int(pq.ParquetFile(handle).metadata.num_rows)


def parquet_schema(file: PushFile) -> list[str]:
    import pyarrow.parquet as pq

    with file.open() as handle:
        return list(pq.ParquetFile(handle).schema_arrow.names)


def _group_sizes(handle: IO[bytes]) -> tuple[list[tuple[int, int]], int, str]:
    """(compressed bytes, rows) of each row group, the footer size and the codec, from the footer."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(handle).metadata
    codec = meta.row_group(0).column(0).compression if meta.num_row_groups else "SNAPPY"
    sizes = []
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        compressed = sum(group.column(c).total_compressed_size for c in range(group.num_columns))
        sizes.append((int(compressed), int(group.num_rows)))
    return sizes, int(meta.serialized_size), "none" if codec == "UNCOMPRESSED" else str(codec).lower()


def plan_row_groups(sizes: list[tuple[int, int]], budget: int) -> list[list[int]]:
    """Consecutive row groups per chunk, each group list below ``budget`` compressed bytes."""
    plan: list[list[int]] = []
    current: list[int] = []
    used = 0
    for index, (size, _rows) in enumerate(sizes):
        if size > budget:
            raise ChunkingError(
                f"row group {index} has {size} compressed bytes, more than the chunk budget {budget}; "
                "write the file with smaller row groups (pyarrow: row_group_size)"
            )
        if current and used + size > budget:
            plan.append(current)
            current, used = [], 0
        current.append(index)
        used += size
    if current:
        plan.append(current)
    return plan


def parquet_plan(
    file: PushFile, chunk_size: int
) -> tuple[list[list[int]] | None, list[tuple[int, int]], str]:
    """(row groups per chunk, or None when the file fits as it is; group sizes; codec).

    Reads only the footer, so the operator can run it before the push job exists.
    """
    with file.open() as handle:
        sizes, footer, codec = _group_sizes(handle)
    if file.size <= chunk_size:
        return None, sizes, codec
    budget = chunk_size - chunk_size // 10 - footer - 8
    if budget <= 0:
        raise ChunkingError(
            f"chunk_size {chunk_size} leaves no room for row groups after the Parquet footer "
            f"({footer} bytes) and the 10% re-encoding margin"
        )
    return plan_row_groups(sizes, budget), sizes, codec


def parquet_chunks(file: PushFile, chunk_size: int, spill_dir: str | None = None) -> Iterator[Chunk]:
    """Chunks of one Parquet file: the file as it is when it fits, else row groups rewritten.

    Each split chunk is written to a temporary file one row group at a time (one row group in
    memory), with the source's codec, when the iterator reaches it, so at most one spilled
    chunk exists while its caller uploads and then deletes it (``cleanup``). The budget keeps
    the footer's size plus 10% for re-encoding differences; a chunk that still comes out
    above ``chunk_size`` raises :class:`ChunkingError`.
    """
    plan, sizes, codec = parquet_plan(file, chunk_size)
    if plan is None:
        yield Chunk(file, 0, file.size, rows=sum(r for _, r in sizes), count_rows=False)
        return
    for groups in plan:
        yield _spilled_chunk(file, groups, chunk_size, spill_dir, sizes, codec)


def _spilled_chunk(
    file: PushFile,
    groups: list[int],
    chunk_size: int,
    spill_dir: str | None,
    sizes: list[tuple[int, int]],
    codec: str,
) -> Chunk:
    import pyarrow.parquet as pq  # optional and heavy: only for Parquet sources

    fd, path = tempfile.mkstemp(prefix="celonis-push-", suffix=".parquet", dir=spill_dir)
    os.close(fd)
    try:
        with file.open() as handle:
            source = pq.ParquetFile(handle)
            with pq.ParquetWriter(path, source.schema_arrow, compression=codec) as writer:
                for index in groups:
                    writer.write_table(source.read_row_group(index))
    except BaseException:
        os.unlink(path)
        raise
    size = os.path.getsize(path)
    if size > chunk_size:
        os.unlink(path)
        raise ChunkingError(f"a Parquet chunk of {file.uri} came out at {size} bytes, above {chunk_size}")

    def cleanup() -> None:
        if os.path.exists(path):
            os.unlink(path)

    spilled = _local(path)
    spilled = PushFile(spilled.uri, file.name, spilled.size, spilled.opener)
    return Chunk(spilled, 0, size, rows=sum(sizes[i][1] for i in groups), count_rows=False, cleanup=cleanup)
