"""State of the emulated Data Push API: push jobs, their chunks on disk, and the target tables.

A job is a small state machine evaluated lazily against the emulator clock (like the data
job emulator): NEW until executed, QUEUED for ``queued_seconds``, RUNNING for
``running_seconds``, then its chunks are applied to the table once and the job is DONE, or
ERROR with ``logs`` when the columns do not match the table (its first push or the job's
``tableSchema``) or a DELTA chunk lacks a key column. CANCELED comes from a ``DELETE``
during the run (setting ``delete_running="cancel"``) or from ``force_outcome``. Lies a
client must catch are switches too: a DONE with error ``logs`` (``force_outcome`` and
``outcome_logs``), an answer about another job (``answer_job_id``), a chunk stored twice
(``store_uploads_twice``).

Chunks are kept as files in a temporary directory, not in memory, so a 1 GB benchmark push
works. Tables keep at most ``max_stored_rows`` rows (then only the count, exact for REPLACE).
"""

from __future__ import annotations

import codecs
import csv
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

_DIRS: list[str] = []


@dataclass
class PushSettings:
    """[guess] behaviours of the Data Push API, each switchable (docs/celonis-api.md, Data Push)."""

    queued_seconds: float = 0.2
    running_seconds: float = 0.4
    new_seconds: float = 0.0
    """An executed job still shows NEW for this long (Celonis slow to pick it up)."""
    chunk_limit: int = 1_000_000_000
    over_limit_status: int = 413
    """Answer to a chunk above ``chunk_limit``: 413 or 400 (unknown on real Celonis)."""
    non_new_execute_status: int = 409
    execute_per_second: int = 10
    execute_per_hour: int = 250
    """Hour windows start on the full UTC hour."""
    delete_running: str = "cancel"
    """DELETE of a QUEUED/RUNNING job: ``cancel`` (job ends CANCELED, no data) or ``abandon``
    (the job disappears from the API but its data still lands)."""
    force_outcome: str | None = None
    """Make every executed job end with this status (``CANCELED``, ``ERROR`` or any string)."""
    replace_checks_schema: bool = True
    """A REPLACE push must match the existing table's columns too (else only DELTA is checked)."""
    max_stored_rows: int = 200_000
    create_error_status: int | None = None
    """Answer every create with this error in the push service's shape (400
    FrontendHandledBackendError, 403 no body, 404/429 plain string, 500 ExceptionReference)."""
    outcome_logs: list[str] | None = None
    """``logs`` of a job whose end ``force_outcome`` sets (e.g. DONE with error lines: a lie)."""
    answer_job_id: str | None = None
    """Not Celonis: ``GET .../jobs/{id}`` answers with this id instead (a misrouted answer)."""
    store_uploads_twice: bool = False
    """Not Celonis: every chunk upload is stored twice (a proxy that replays a POST)."""
    chunk_list_lie: str | None = None
    """Not Celonis: ``GET .../chunks`` lies about a job's chunks: ``foreign`` (the last entry
    names another job), ``missing`` (the last entry left out), ``repeat`` (the last entry
    replaced by the first: the count is right, one chunk is listed twice)."""


@dataclass
class StoredChunk:
    id: str
    kind: str  # UPSERT or DELETE
    path: str
    size: int
    checksum: str
    created: float


@dataclass
class PushJob:
    id: str
    pool_id: str
    body: dict[str, Any]
    created: float
    chunks: list[StoredChunk] = field(default_factory=list)
    executed_at: float | None = None
    canceled_at: float | None = None
    deleted: bool = False
    outcome: str | None = None
    logs: list[str] = field(default_factory=list)
    execute_params: dict[str, str] = field(default_factory=dict)

    @property
    def table_key(self) -> tuple[str, str, str]:
        return (self.pool_id, str(self.body.get("connectionId") or ""), str(self.body["targetName"]))

    def status(self, now: float, settings: PushSettings) -> str:
        """NEW / QUEUED / RUNNING, or ``"FINISHING"`` when the run is over but not applied yet."""
        if self.canceled_at is not None:
            return "CANCELED"
        if self.outcome is not None:
            return self.outcome
        if self.executed_at is None or now < self.executed_at + settings.new_seconds:
            return "NEW"
        if now < self.executed_at + settings.new_seconds + settings.queued_seconds:
            return "QUEUED"
        if now < self.executed_at + settings.new_seconds + settings.queued_seconds + settings.running_seconds:
            return "RUNNING"
        return "FINISHING"


@dataclass
class Table:
    columns: list[str]
    keys: list[str] = field(default_factory=list)
    rows: list[list[Any]] | None = field(default_factory=list)
    row_count: int = 0


def new_chunk_dir() -> str:
    """A fresh directory for chunk files; the previous one (before a reset) is removed."""
    while _DIRS:
        shutil.rmtree(_DIRS.pop(), ignore_errors=True)
    path = tempfile.mkdtemp(prefix="celonis-emulator-push-")
    _DIRS.append(path)
    return path


# -- reading chunks ---------------------------------------------------------------------------
def _csv_options(job: PushJob) -> dict[str, Any]:
    options = job.body.get("csvParsingOptions") or {}
    charset = str(options.get("charSet") or "UTF-8")
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return {
        "delimiter": str(options.get("separatorSequence") or ",")[:1],
        "quotechar": str(options.get("quoteSequence") or '"')[:1],
        "escapechar": (str(options["escapeSequence"])[:1] if options.get("escapeSequence") else None),
        "encoding": charset,
    }


def read_chunk(job: PushJob, chunk: StoredChunk) -> tuple[list[str], Iterator[list[Any]]]:
    """(header, rows) of one stored chunk, streamed."""
    if str(job.body.get("fileType", "CSV")).upper() == "PARQUET":
        return _read_parquet(chunk.path)
    options = _csv_options(job)
    handle = open(chunk.path, encoding=options.pop("encoding"), newline="")  # noqa: SIM115
    reader = csv.reader(handle, **options)
    header = next(reader, [])

    def rows() -> Iterator[list[Any]]:
        with handle:
            yield from reader

    return [h.strip() for h in header], rows()


def _read_parquet(path: str) -> tuple[list[str], Iterator[list[Any]]]:
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    header = list(source.schema_arrow.names)

    def rows() -> Iterator[list[Any]]:
        for index in range(source.num_row_groups):
            for record in source.read_row_group(index).to_pylist():
                yield [None if v is None else str(v) for v in record.values()]

    return header, rows()


# -- applying a job ---------------------------------------------------------------------------
def schema_columns(job: PushJob) -> list[str] | None:
    schema = job.body.get("tableSchema") or {}
    columns = [str(c.get("columnName")) for c in schema.get("columns") or [] if isinstance(c, dict)]
    return columns or None


def _mismatch(target: str, got: list[str], want: list[str], where: str) -> str:
    missing = [c for c in want if c not in got]
    extra = [c for c in got if c not in want]
    return (
        f"Data push job failed: schema mismatch for table '{target}' ({where}). "
        f"Columns in the pushed file: {', '.join(got)}. Missing columns: {', '.join(missing) or '-'}. "
        f"Unknown columns: {', '.join(extra) or '-'}."
    )


def apply_job(job: PushJob, tables: dict[tuple[str, str, str], Table], settings: PushSettings) -> list[str]:
    """Validate and load the job's chunks into its table; returns error log lines (empty: DONE)."""
    target = str(job.body["targetName"])
    mode = str(job.body.get("type", "REPLACE")).upper()
    keys = [str(k) for k in job.body.get("keys") or []]
    existing = tables.get(job.table_key)
    want = schema_columns(job)
    if want is None and existing is not None and (mode == "DELTA" or settings.replace_checks_schema):
        want = existing.columns
    upserts: list[list[Any]] = []
    deletes: list[dict[str, Any]] = []
    header: list[str] | None = None
    count = 0
    for chunk in job.chunks:
        got, rows = read_chunk(job, chunk)
        if chunk.kind == "UPSERT":
            if want is not None and sorted(got) != sorted(want):
                return [_mismatch(target, got, want, f"chunk {chunk.id}")]
            if header is not None and got != header:
                where = f"chunk {chunk.id} differs from the job's first chunk"
                return [_mismatch(target, got, header, where)]
            header = got
        missing_keys = [k for k in keys if k not in got]
        if mode == "DELTA" and missing_keys:
            return [
                f"Data push job failed: DELTA push to table '{target}' requires the primary key "
                f"column(s) {', '.join(missing_keys)} in every chunk; chunk {chunk.id} "
                f"({chunk.kind}) has columns {', '.join(got)}."
            ]
        for row in rows:
            if len(row) != len(got):
                return [
                    f"Data push job failed: chunk {chunk.id} has a row with {len(row)} values "
                    f"for {len(got)} columns (line {count + 2})."
                ]
            if chunk.kind == "DELETE":
                deletes.append(dict(zip(got, row, strict=True)))
                continue
            count += 1
            if count <= settings.max_stored_rows:
                order = want or got
                upserts.append(row if order == got else [dict(zip(got, row, strict=True))[c] for c in order])
    columns = want or header or (existing.columns if existing else [])
    _store(job.table_key, tables, columns, keys, mode, upserts, deletes, count, settings)
    return []


def _store(
    key: tuple[str, str, str],
    tables: dict[tuple[str, str, str], Table],
    columns: list[str],
    keys: list[str],
    mode: str,
    upserts: list[list[Any]],
    deletes: list[dict[str, Any]],
    count: int,
    settings: PushSettings,
) -> None:
    truncated = count > settings.max_stored_rows
    existing = tables.get(key)
    if mode == "REPLACE" or existing is None:
        table = Table(columns, keys, None if truncated else upserts, count)
        tables[key] = table
    else:
        table = existing
        index = [columns.index(k) for k in keys] if keys else list(range(len(columns)))
        if table.rows is None or truncated:
            table.rows, table.row_count = None, table.row_count + count
        else:
            by_key = {tuple(r[i] for i in index): r for r in table.rows}
            for row in upserts:
                by_key[tuple(row[i] for i in index)] = row
            table.rows = list(by_key.values())
    if deletes and table.rows is not None:
        match = [k for k in (keys or columns) if k in columns]
        index = [columns.index(k) for k in match]
        gone = {tuple(r.get(k) for k in match) for r in deletes}
        table.rows = [r for r in table.rows if tuple(r[i] for i in index) not in gone]
    if table.rows is not None:
        table.row_count = len(table.rows)
