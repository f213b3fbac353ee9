"""Resolve a push operator's ``source`` into concrete files, and check them before any call.

``source`` may be a local path, a glob, a ``file://``/``s3://``/... URI (an Airflow
``ObjectStoragePath``, so object-storage connections work as everywhere else in Airflow),
a list of any of these, or ``Path``/``ObjectStoragePath`` objects. Everything that can be
wrong with the input (nothing matched, mixed CSV and Parquet, a file that cannot be read)
raises :class:`~airflow_provider_celonis.exceptions.CelonisConfigurationError` here, before
a push job exists in Celonis, so a typo never leaves an empty job behind.

Files are only opened and sized here, never read whole. A URI with credentials in it
(``s3://KEY:SECRET@bucket/x.csv``) is shown everywhere with them redacted (``PushFile.uri``,
every message), and a URI whose filesystem is not installed is one clean configuration error
naming the package, not a chain of import tracebacks.
"""

from __future__ import annotations

import glob as globlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import IO, Any

from airflow_provider_celonis.client.paths import redact_uri
from airflow_provider_celonis.compat import has_fs
from airflow_provider_celonis.exceptions import CelonisConfigurationError

FILE_TYPES = ("CSV", "PARQUET")
EXTENSIONS = {".csv": "CSV", ".txt": "CSV", ".tsv": "CSV", ".parquet": "PARQUET", ".pq": "PARQUET"}
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class PushFile:
    """One resolved input file: where it is, how big, and how to open it (binary, seekable)."""

    uri: str
    """Shown in logs and errors; a local path or a URI (credentials redacted)."""
    name: str
    size: int
    opener: Callable[[], IO[bytes]] = dataclass_field(repr=False, compare=False)
    stamper: Callable[[], tuple[Any, ...]] | None = dataclass_field(default=None, repr=False, compare=False)
    """Reads the file's size and modification marks now (None: not checked)."""
    stamp: tuple[Any, ...] = dataclass_field(default=(), repr=False, compare=False)
    """``stamper()`` when the file was resolved, i.e. when the push was planned."""

    def open(self) -> IO[bytes]:
        return self.opener()

    def changed(self) -> bool:
        """Whether the file was written to since it was resolved: the planned chunks (byte
        ranges, row groups) and what a rebuild re-reads would no longer be the planned data."""
        return self.stamper is not None and self.stamper() != self.stamp

    @property
    def extension(self) -> str:
        return os.path.splitext(self.name)[1].lower()


def _local(path: str) -> PushFile:
    def opener() -> IO[bytes]:
        return open(path, "rb")

    def stamper() -> tuple[Any, ...]:
        info = os.stat(path)
        return (info.st_size, info.st_mtime_ns, info.st_ino)

    stamp = stamper()
    return PushFile(path, os.path.basename(path), stamp[0], opener, stamper, stamp)


STAMP_KEYS = ("ETag", "etag", "LastModified", "last_modified", "mtime", "updated", "generation", "md5Hash")
"""Object-store ``stat()`` entries that change when an object is rewritten (s3fs, gcsfs, adlfs...)."""


def _object(path: Any) -> PushFile:
    def opener() -> IO[bytes]:
        handle: IO[bytes] = path.open("rb")
        return handle

    def stamper() -> tuple[Any, ...]:
        info = path.stat()
        return (int(info["size"]), *(str(info.get(key)) for key in STAMP_KEYS))

    stamp = stamper()
    return PushFile(redact_uri(path), path.name, stamp[0], opener, stamper, stamp)


def _is_uri(text: str) -> bool:
    return "://" in text


FS_PACKAGES = {
    "s3": "apache-airflow-providers-amazon[s3fs]",
    "s3a": "apache-airflow-providers-amazon[s3fs]",
    "gs": "apache-airflow-providers-google and gcsfs",
    "gcs": "apache-airflow-providers-google and gcsfs",
    "abfs": "apache-airflow-providers-microsoft-azure and adlfs",
    "abfss": "apache-airflow-providers-microsoft-azure and adlfs",
    "az": "apache-airflow-providers-microsoft-azure and adlfs",
    "wasb": "apache-airflow-providers-microsoft-azure and adlfs",
}


def _no_filesystem(field: str, text: str, detail: str) -> CelonisConfigurationError:
    protocol = text.split("://", 1)[0].lower()
    package = FS_PACKAGES.get(protocol, f"the Airflow provider and fsspec filesystem for {protocol}://")
    return CelonisConfigurationError(
        field,
        f"names {redact_uri(text)}, but no filesystem for {protocol}:// is installed ({detail})",
        f"pip install {package} on the workers (and the triggerer), or push local files",
    )


def _check_filesystem(field: str, text: str) -> None:
    """Refuse a URI scheme without an installed filesystem before touching it."""
    protocol = text.split("://", 1)[0].lower()
    if protocol != "file" and not has_fs(protocol):
        raise _no_filesystem(field, text, "no Airflow filesystem is registered for it")


def _expand(item: Any, field: str) -> list[PushFile]:
    """One ``source`` item to files; globs match files only, sorted for a stable chunk order."""
    # Lazy: object storage (fsspec) is loaded only when a URI is given.
    from airflow.sdk import ObjectStoragePath

    if isinstance(item, ObjectStoragePath):
        return [_object(item)] if not GLOB_CHARS & set(str(item)) else _expand(str(item), field)
    if isinstance(item, Path):
        item = str(item)
    if not isinstance(item, str) or not item.strip():
        raise CelonisConfigurationError(
            field,
            f"contains {redact_uri(repr(item))}",
            "give paths, globs or URIs as strings (or a list of them)",
        )
    text = item.strip()
    if _is_uri(text):
        _check_filesystem(field, text)
        try:
            return _expand_uri(text)
        except ImportError as err:  # fsspec: the filesystem package is missing ("Install s3fs")
            raise _no_filesystem(field, text, str(err)) from None
    if GLOB_CHARS & set(text):
        return [_local(m) for m in sorted(globlib.glob(text, recursive=True)) if os.path.isfile(m)]
    return [_local(text)] if os.path.isfile(text) else []


def _expand_uri(text: str) -> list[PushFile]:
    # Lazy: object storage (fsspec) is loaded only when a URI is given.
    from airflow.sdk import ObjectStoragePath

    if not GLOB_CHARS & set(text):
        path = ObjectStoragePath(text)
        return [_object(path)] if path.is_file() else []
    parts = text.split("/")
    first = next(i for i, part in enumerate(parts) if GLOB_CHARS & set(part))
    base = ObjectStoragePath("/".join(parts[:first]) + "/")
    matches = sorted(base.glob("/".join(parts[first:])), key=str)
    return [_object(match) for match in matches if match.is_file()]


def resolve_sources(source: Any, field: str = "source") -> list[PushFile]:
    """All files named by ``source``, in order, without duplicates; raises when nothing matched."""
    items: Iterable[Any] = source if isinstance(source, (list, tuple)) else [source]
    files: dict[str, PushFile] = {}
    unmatched: list[str] = []
    for item in items:
        try:
            found = _expand(item, field)
        except CelonisConfigurationError:
            raise
        except (OSError, ValueError) as err:
            raise CelonisConfigurationError(
                field,
                f"names {redact_uri(item)} which cannot be read ({type(err).__name__}: {redact_uri(err)})",
                "check the path, its permissions and the object-storage connection",
            ) from None
        if not found:
            unmatched.append(redact_uri(item))
        for file in found:
            files.setdefault(file.uri, file)
    if not files:
        raise CelonisConfigurationError(
            field,
            f"matched no files ({', '.join(unmatched) or 'empty list'})",
            "check the path or glob; it is rendered at run time, so check the template too",
        )
    if unmatched:
        raise CelonisConfigurationError(
            field,
            f"has entries that matched no files: {', '.join(unmatched)}",
            "remove them or fix the paths; a partial push would replace a table with part of the data",
        )
    return list(files.values())


def infer_file_type(files: list[PushFile], file_type: str | None, field: str = "file_type") -> str:
    """The one file type of all files: the argument if given, else from the extensions."""
    if file_type:
        wanted = str(file_type).upper()
        if wanted not in FILE_TYPES:
            raise CelonisConfigurationError(field, f"is {file_type!r}", "use 'CSV' or 'PARQUET'")
        return wanted
    kinds = {file.uri: EXTENSIONS.get(file.extension) for file in files}
    unknown = [uri for uri, kind in kinds.items() if kind is None]
    if unknown:
        raise CelonisConfigurationError(
            field,
            f"cannot be inferred from the extension of {', '.join(unknown)}",
            "name files *.csv or *.parquet, or pass file_type='CSV' or 'PARQUET'",
        )
    found = sorted({k for k in kinds.values() if k})
    if len(found) > 1:
        raise CelonisConfigurationError(
            "source",
            f"mixes file types ({' and '.join(found)})",
            "push CSV and Parquet files with separate tasks; one push job has one fileType",
        )
    return found[0]


def check_readable(file: PushFile, field: str = "source") -> None:
    """Open the file and read one byte, so a permission problem shows before the push job exists."""
    try:
        with file.open() as handle:
            handle.read(1)
    except OSError as err:
        raise CelonisConfigurationError(
            field,
            f"names {file.uri}, which cannot be read ({type(err).__name__}: {redact_uri(err)})",
            "check the file's permissions and the object-storage connection",
        ) from None
