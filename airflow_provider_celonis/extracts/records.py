"""Write records that must keep their API order (no sort, no de-duplication) with the extract writer.

The usage extracts sort and de-duplicate (:mod:`airflow_provider_celonis.extracts.spill`); Knowledge
Model rows and failed events must not be: two identical rows can both be real, and the API's
order is the one asked for. CSV and Parquet need every column before the first row, so rows
are spooled to a private temporary JSON Lines file while
:class:`~airflow_provider_celonis.extracts.outputs.Columns` collects the columns, then handed to
:func:`~airflow_provider_celonis.extracts.outputs.write_records`, which writes ``output_path``
atomically. Memory stays flat whatever the size.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from airflow_provider_celonis.extracts.outputs import Columns, is_uri, write_records
from airflow_provider_celonis.extracts.spill import canonical


def write_in_order(
    records: Iterable[Any],
    path: str,
    output_format: str,
    *,
    preferred: Sequence[str] = (),
    spill_dir: str | None = None,
) -> int:
    """Write ``records`` (dicts; anything else as ``{"value": ...}``) to ``path``; returns the count."""
    columns = Columns(preferred, types=output_format == "parquet")
    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=spill_dir, prefix="celonis-rows-") as spool:
        for record in records:
            row = record if isinstance(record, dict) else {"value": record}
            if output_format != "jsonl":
                columns.add(row)
            spool.write(canonical(row) + "\n")
        spool.seek(0)

        def lines() -> Iterator[str]:
            yield from spool

        return write_records(path, output_format, lines(), columns)


def _open(path: str) -> Any:
    """``path`` opened for reading bytes (local or an ``ObjectStoragePath`` URI); None if absent."""

    if is_uri(path):
        from airflow.sdk import ObjectStoragePath

        target: Any = ObjectStoragePath(path)
        return target.open("rb") if target.exists() else None
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def same_bytes(path: str, local: str, chunk: int = 1 << 20) -> bool:
    """Whether the file at ``path`` (local or URI) holds exactly the bytes of the local file
    ``local``; streamed. The re-check uses it when a count did not change but events might have."""
    opened = _open(path)
    if opened is None:
        return False
    with opened as theirs, open(local, "rb") as ours:
        while True:
            a, b = theirs.read(chunk), ours.read(chunk)
            if a != b:
                return False
            if not a:
                return True


def count_records(path: str, output_format: str) -> int | None:
    """Records in an extract file written by :func:`~airflow_provider_celonis.extracts.outputs.write_records`
    (streamed, flat memory); None if there is no file. Used by the re-check of recent intervals."""
    import csv
    import io

    opened = _open(path)
    if opened is None:
        return None
    with opened as raw:
        if output_format == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(raw).metadata.num_rows)
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        if output_format == "csv":
            return max(0, sum(1 for _ in csv.reader(text)) - 1)
        return sum(1 for line in text if line.strip())
