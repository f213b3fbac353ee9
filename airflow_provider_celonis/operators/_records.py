"""Write records that must keep their API order (no sort, no de-duplication) with the extract writer.

The usage extracts sort and de-duplicate (:mod:`airflow_provider_celonis.spill`); Knowledge
Model rows and failed events must not be: two identical rows can both be real, and the API's
order is the one asked for. CSV and Parquet need every column before the first row, so rows
are spooled to a private temporary JSON Lines file while :class:`~airflow_provider_celonis.
outputs.Columns` collects the columns, then handed to :func:`~airflow_provider_celonis.outputs.
write_records`, which writes ``output_path`` atomically. Memory stays flat whatever the size.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import Any


def write_in_order(
    records: Iterable[Any],
    path: str,
    output_format: str,
    *,
    preferred: Sequence[str] = (),
    spill_dir: str | None = None,
) -> int:
    """Write ``records`` (dicts; anything else as ``{"value": ...}``) to ``path``; returns the count."""
    from airflow_provider_celonis.outputs import Columns, write_records
    from airflow_provider_celonis.spill import canonical

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
