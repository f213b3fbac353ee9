"""Write extracted records to a local path or any ``ObjectStoragePath`` URI, atomically.

Formats: ``jsonl`` (one canonical JSON object per line), ``csv`` (nested values as JSON) and
``parquet`` (needs the optional extra ``airflow-provider-celonis[parquet]``). Columns of CSV
and Parquet come from :class:`Columns`, filled while records stream past, so the writer knows
every column before the first row without holding the rows.

Atomicity: the file is written under a temporary name next to ``output_path`` (same directory
or bucket prefix) and renamed when complete, so a failed or killed task never leaves a partial
file at ``output_path``; a stray ``.<name>.*.tmp`` is all a killed task can leave.
On an object store (``s3://``, ``gs://``...) there is no rename (fsspec copies and deletes):
the final key is written once instead, see :mod:`airflow_provider_celonis.extracts.object_store`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from airflow_provider_celonis.client.paths import redact_uri
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.object_store import is_object_store, write_once

FORMATS = ("jsonl", "csv", "parquet")
_BATCH = 10_000


def check_format(output_format: str) -> str:
    fmt = str(output_format).strip().lower()
    if fmt not in FORMATS:
        raise CelonisConfigurationError(
            "output_format", f"is {output_format!r}", f"use one of {', '.join(FORMATS)}"
        )
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise CelonisConfigurationError(
                "output_format",
                "is 'parquet' but pyarrow is not installed",
                "pip install 'airflow-provider-celonis[parquet]', or use jsonl or csv",
            ) from None
    return fmt


def is_uri(path: str) -> bool:
    return "://" in path


LOCAL_SCHEMES = ("file", "local")


def local_path(path: str) -> str | None:
    """The local file ``path`` names, or None for an object store URI.

    ``file:///data/x``, ``file://localhost/data/x`` and ``file:/data/x`` are ``/data/x`` (RFC 8089;
    the second was once written to ``./localhost/data/x``, the third to ``./file:/data/x``), the
    scheme in any case. A ``file://`` URI naming another host (or carrying credentials) is
    refused: the worker cannot write to another machine's disk through it.
    """
    if not is_uri(path):
        if path[:5].lower() == "file:":  # RFC 8089's short form, file:/data/x
            return _file_uri_path(path, path[5:])
        return path
    parts = urlsplit(path)
    if parts.scheme.lower() not in LOCAL_SCHEMES:
        return None
    if parts.netloc.lower() not in ("", "localhost"):
        raise CelonisConfigurationError(
            "output_path",
            f"({redact_uri(path)}) names the host {parts.hostname or parts.netloc.rsplit('@', 1)[-1]!r}; "
            "a file:// URI can only name this machine",
            "write file:///<absolute path> (or file://localhost/<absolute path>), a plain path, or an "
            "object store URI for another machine",
        )
    return _file_uri_path(path, parts.path)


def _file_uri_path(uri: str, encoded: str) -> str:
    """The decoded absolute path of a file URI; what it cannot say plainly is refused rather than
    guessed (a ``?`` would silently cut the name: ``report?.jsonl`` was written to ``report``)."""
    fix = "write file:///<absolute path>, percent-encoding ? as %3F and # as %23, or a plain path"
    if "?" in uri or "#" in uri:
        raise CelonisConfigurationError(
            "output_path", f"({redact_uri(uri)}) has a query or fragment, which a file has not", fix
        )
    local = unquote(encoded)
    if not local.startswith("/") or "\x00" in local:
        raise CelonisConfigurationError(
            "output_path", f"({redact_uri(uri)}) does not name an absolute path without NUL bytes", fix
        )
    return local


def _prove_writable(directory: Path, shown: str) -> None:
    """Create and remove a probe file: ``os.access`` says yes to root, to read-only mounts seen
    through some filesystems, and to directories a quota or an ACL will refuse."""
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".celonis-probe-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise CelonisConfigurationError(
            "output_path",
            f"({shown}) is not writable: creating a file in {directory} failed "
            f"({type(err).__name__}: {err.strerror or err})",
            "choose a folder the Airflow worker may write to",
        ) from None


def check_output_path(path: str) -> None:
    """Fail before any network call when ``path`` cannot be written (local: proven with a probe
    file) or has no filesystem (URI)."""
    if not path or not str(path).strip():
        raise CelonisConfigurationError(
            "output_path", "is empty", "give a file path or URI, e.g. /data/audit.jsonl"
        )
    shown = redact_uri(path)
    if is_uri(path):
        protocol = path.split("://", 1)[0]
        from airflow_provider_celonis.compat import has_fs  # ObjectStoragePath knows only these schemes

        if protocol.lower() not in LOCAL_SCHEMES and not has_fs(protocol):
            raise CelonisConfigurationError(
                "output_path",
                f"({shown}) uses {protocol}://, for which no Airflow filesystem is registered",
                "install the Airflow provider for that storage (apache-airflow-providers-amazon for "
                "s3://, -google for gs://), or write to a local path",
            )
    local = local_path(path)
    if local is None:
        return
    target = Path(local)
    if target.is_dir():
        raise CelonisConfigurationError("output_path", f"({shown}) is a directory", "name a file inside it")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise CelonisConfigurationError(
            "output_path",
            f"({shown}) is not writable: {ancestor} is not a writable directory",
            "choose a folder the Airflow worker may write to",
        )
    _prove_writable(ancestor, shown)


class Columns:
    """Union of top-level keys (and, for Parquet, their value types) in a deterministic order."""

    def __init__(self, preferred: Sequence[str] = (), *, types: bool = False) -> None:
        self.preferred = list(preferred)
        self.track_types = types
        self.keys: set[str] = set()
        self.types: dict[str, set[str]] = {}

    def add(self, record: Any) -> None:
        """Note ``record``'s columns; anything but an object is one column ``value`` (see :func:`as_row`)."""
        record = as_row(record)
        self.keys.update(record)
        if self.track_types:
            for key, value in record.items():
                seen = self.types.get(key)
                if seen is None:
                    seen = self.types[key] = set()
                seen.add(type(value).__name__)

    def names(self) -> list[str]:
        first = [c for c in self.preferred if c in self.keys]
        return first + sorted(self.keys - set(first))


def as_row(record: Any) -> dict[str, Any]:
    """An object as it is; anything else an API returned instead (a list, a string, null) as
    ``{"value": ...}``, so CSV and Parquet keep it as JSON text rather than failing the pull."""
    return record if isinstance(record, dict) else {"value": record}


def _cell(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return value


def write_jsonl(out: IO[bytes], lines: Iterable[str], columns: Columns) -> int:
    counted = _Counted(lines)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="\n")
    try:
        text.writelines(counted)
        text.flush()
    finally:
        text.detach()
    return counted.count


class _Counted:
    """Count the items of an iterable as they pass (so ``writelines`` can consume it)."""

    def __init__(self, items: Iterable[str]) -> None:
        self.items = items
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        for item in self.items:
            self.count += 1
            yield item


def write_csv(out: IO[bytes], lines: Iterable[str], columns: Columns) -> int:
    names = columns.names()
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    count = 0
    try:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(names)
        for line in lines:
            record = as_row(json.loads(line))
            writer.writerow(["" if record.get(n) is None else _cell(record.get(n)) for n in names])
            count += 1
        text.flush()
    finally:
        text.detach()
    return count


def _arrow_type(seen: set[str]) -> Any:
    import pyarrow as pa

    kinds = seen - {"NoneType"}
    if kinds == {"bool"}:
        return pa.bool_()
    if kinds == {"int"}:
        return pa.int64()
    if kinds and kinds <= {"int", "float"}:
        return pa.float64()
    return pa.string()


def write_parquet(out: IO[bytes], lines: Iterable[str], columns: Columns) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = columns.names() or ["value"]
    schema = pa.schema([(n, _arrow_type(columns.types.get(n, set()))) for n in names])
    as_text = {n for n in names if schema.field(n).type == pa.string()}
    count = 0
    with pq.ParquetWriter(out, schema) as writer:
        batch: dict[str, list[Any]] = {n: [] for n in names}

        def flush() -> None:
            if batch[names[0]]:
                writer.write_table(pa.table(batch, schema=schema))
                for values in batch.values():
                    values.clear()

        for line in lines:
            record = as_row(json.loads(line))
            for n in names:
                value = record.get(n)
                if n in as_text and value is not None and not isinstance(value, str):
                    value = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                batch[n].append(value)
            count += 1
            if len(batch[names[0]]) >= _BATCH:
                flush()
        flush()
    return count


WRITERS = {"jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet}


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[IO[bytes]]:
    """A binary file that appears at ``path`` only if the block completes."""
    local = local_path(path)
    if local is not None:
        target = Path(local)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = str(target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp")
        # 0o666 through the umask, like any file the worker writes (mkstemp would force 0600,
        # which a loader running as another user cannot read).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return

    if is_object_store(path):  # no rename on object stores: the final key is written once
        with write_once(path) as remote:
            yield remote
        return

    from airflow.sdk import ObjectStoragePath

    final = ObjectStoragePath(path)
    staging = final.parent / f".{final.name}.{uuid.uuid4().hex}.tmp"
    if final.protocol in ("file", "local"):  # object stores have no folders; mkdir could create a bucket
        final.parent.mkdir(parents=True, exist_ok=True)
    try:
        with staging.open("wb") as remote:
            yield remote
        staging.rename(final)
    except BaseException:
        with contextlib.suppress(Exception):
            staging.unlink(missing_ok=True)
        raise


def write_records(path: str, output_format: str, lines: Iterable[str], columns: Columns) -> int:
    """Write canonical JSON ``lines`` (newline-terminated) to ``path`` atomically; returns the count."""
    with atomic_output(path) as out:
        return WRITERS[output_format](out, lines, columns)
