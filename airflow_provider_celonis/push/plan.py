"""Check a push operator's arguments and inputs, and plan its chunks, before any Celonis call.

Everything here reads only the input files (headers, Parquet footers, one scan of a CSV
file larger than ``chunk_size``). Any problem raises
:class:`~airflow_provider_celonis.exceptions.CelonisConfigurationError`, so a typo never
creates a push job.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.push.chunking import (
    CELONIS_CHUNK_LIMIT,
    Chunk,
    ChunkingError,
    csv_chunks,
    csv_header,
    parquet_chunks,
    parquet_plan,
    parquet_schema,
)
from airflow_provider_celonis.push.sources import PushFile, check_readable, infer_file_type, resolve_sources

MODES = ("REPLACE", "DELTA")


@dataclass
class PushPlan:
    mode: str
    file_type: str
    keys: list[str]
    files: list[PushFile]
    delete_files: list[PushFile] = field(default_factory=list)
    chunk_size: int = CELONIS_CHUNK_LIMIT
    quote: bytes | None = b'"'
    planned: dict[str, list[Chunk]] = field(default_factory=dict)

    def chunks(self) -> Iterator[tuple[str, Chunk]]:
        """(kind, chunk) for upserts then deletes; Parquet splits are written lazily, one file at a time."""
        for kind, files in (("upserted", self.files), ("deleted", self.delete_files)):
            for file in files:
                yield from ((kind, chunk) for chunk in self._chunks_of(file))

    def _chunks_of(self, file: PushFile) -> Iterator[Chunk]:
        planned = self.planned.get(file.uri)
        if planned is not None:
            return iter(planned)
        return parquet_chunks(file, self.chunk_size)

    def describe(self) -> str:
        size = sum(f.size for f in self.files)
        text = f"{self.mode} of {len(self.files)} {self.file_type} file(s), {size} bytes"
        if self.delete_files:
            text += f", plus {len(self.delete_files)} file(s) of rows to delete"
        return text


def _keys(keys: Any) -> list[str]:
    if keys is None or keys == "":
        return []
    if isinstance(keys, str):
        return [k.strip() for k in keys.split(",") if k.strip()]
    return [str(k) for k in keys]


def _columns(file: PushFile, file_type: str, quote: bytes | None, separator: str) -> list[str]:
    try:
        if file_type == "PARQUET":
            return parquet_schema(file)
        # utf-8-sig: a byte order mark (Excel's "CSV UTF-8") is not part of the first column's name.
        header = csv_header(file, quote).decode("utf-8-sig", "replace").rstrip("\r\n")
        columns = [c.strip() for c in next(csv.reader([header], delimiter=separator or ","), [])]
        if not any(columns):
            # An empty file is an export that failed, not a table without rows: pushed with
            # REPLACE it would empty the table (a header-only file is how to push zero rows).
            raise CelonisConfigurationError(
                "source",
                f"names {file.uri}, which has no header line (it is empty)",
                "check the task that wrote it; to push zero rows, write the header line only",
            )
        return columns
    except CelonisConfigurationError:
        raise
    except ImportError:
        raise CelonisConfigurationError(
            "file_type",
            "is PARQUET but pyarrow is not installed",
            "pip install 'airflow-provider-celonis[parquet]' (or pyarrow) on the workers",
        ) from None
    except (OSError, ValueError, ChunkingError) as err:
        raise CelonisConfigurationError(
            "source",
            f"names {file.uri}, whose header cannot be read ({type(err).__name__}: {err})",
            "check that the file is a valid " + file_type + " file",
        ) from None


def _check_splittable(op: Any, files: list[PushFile], quote_text: Any) -> None:
    """Refuse CSV options the splitter cannot honour when a file must be split.

    The splitter finds record ends by quote parity and ``\\n``: an escape character other
    than the quote (``\\"`` inside a field) breaks the parity, and a lone ``\\r`` line end is
    never seen, so a split would cut a record in two. Files that fit in one chunk are sent
    as they are, and Celonis parses them with the options given.
    """
    too_big = [f.uri for f in files if f.size > op.chunk_size]
    if not too_big:
        return
    escape = op.csv_options.get("escapeSequence")
    if escape and str(escape) != str(quote_text or ""):
        raise CelonisConfigurationError(
            "csv_options",
            f"sets escapeSequence {escape!r}, different from quoteSequence {quote_text!r}, and "
            f"{too_big[0]} is larger than chunk_size ({op.chunk_size} bytes), so it must be split; "
            "the splitter cannot see escaped quotes and would cut records in two",
            "raise chunk_size above the file size, or write the file with doubled quotes "
            '("" inside quoted fields) and drop escapeSequence',
        )
    line_end = op.csv_options.get("lineEnding")
    if line_end is not None and str(line_end) == "\r":
        raise CelonisConfigurationError(
            "csv_options",
            f"sets lineEnding '\\r' and {too_big[0]} is larger than chunk_size "
            f"({op.chunk_size} bytes), so it must be split; the splitter only finds \\n line ends",
            "raise chunk_size above the file size, or write the file with \\n or \\r\\n line ends",
        )


def make_plan(op: Any) -> PushPlan:
    """Validate the operator's (rendered) arguments and inputs; see the module docstring."""
    mode = str(op.mode or "").upper()
    if mode not in MODES:
        raise CelonisConfigurationError("mode", f"is {op.mode!r}", "use 'REPLACE' or 'DELTA'")
    keys = _keys(op.keys)
    if mode == "DELTA" and not keys:
        raise CelonisConfigurationError(
            "keys", "is empty but mode is DELTA", "name the table's primary key column(s), e.g. keys=['id']"
        )
    if not 0 < op.chunk_size <= CELONIS_CHUNK_LIMIT:
        raise CelonisConfigurationError(
            "chunk_size", f"is {op.chunk_size}", f"use 1 to {CELONIS_CHUNK_LIMIT} bytes (Celonis: 1 GB)"
        )
    files = resolve_sources(op.source, "source")
    delete_files = resolve_sources(op.delete_source, "delete_source") if op.delete_source else []
    file_type = infer_file_type(files + delete_files, op.file_type)
    quote_text = op.csv_options.get("quoteSequence", '"')
    quote = str(quote_text).encode()[:1] if quote_text else None
    separator = str(op.csv_options.get("separatorSequence") or ",")[:1]
    if file_type == "CSV":
        _check_splittable(op, files + delete_files, quote_text)
    for file in files + delete_files:
        check_readable(file, "delete_source" if file in delete_files else "source")
    headers = {f.uri: _columns(f, file_type, quote, separator) for f in files}
    first = next(iter(headers.values()))
    for uri, columns in headers.items():
        if columns != first:
            raise CelonisConfigurationError(
                "source",
                f"has files with different columns: {files[0].uri} has {first}, {uri} has {columns}",
                "push files with one layout per task (the table has one schema)",
            )
    for file in delete_files:
        columns = _columns(file, file_type, quote, separator)
        if missing := [k for k in keys or first if k not in columns]:
            raise CelonisConfigurationError(
                "delete_source", f"file {file.uri} lacks column(s) {missing}", "include the key columns"
            )
    if missing := [k for k in keys if k not in first]:
        raise CelonisConfigurationError(
            "keys",
            f"names {missing}, not in the file's columns {first}",
            "use column names exactly as in the file's header",
        )
    plan = PushPlan(mode, file_type, keys, files, delete_files, op.chunk_size, quote)
    for file in files + delete_files:
        try:
            if file_type == "CSV":
                plan.planned[file.uri] = csv_chunks(file, op.chunk_size, quote)
            else:
                parquet_plan(file, op.chunk_size)  # row groups too big: fail before the job exists
        except ChunkingError as err:
            raise CelonisConfigurationError(
                "chunk_size", f"is too small for {file.uri}: {err}", "raise chunk_size"
            ) from None
    return plan
