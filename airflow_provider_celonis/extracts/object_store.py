"""Write an output to an object store (``s3://``, ``gs://``, ``abfs://``...) exactly once, at its final key.

On a local disk an atomic write is "temporary file, then rename", because a rename is atomic
there. An object store has no rename: fsspec emulates it with a copy and a delete, so the
temporary object is visible (and listed, and reported by lineage) while it is copied, and a task
killed between the two leaves it behind for ever. Here the final key is written once instead:

* the file is opened with ``autocommit=False``, fsspec's transaction mode: S3 (s3fs) then sends
  the bytes as the parts of a multipart upload, and the object appears only when
  :meth:`commit` completes the upload (gcsfs's resumable upload likewise finalizes only
  in ``commit``);
* an exception in the writing block calls ``discard()`` instead, which aborts the upload: no
  object, no temporary object, and an object that was already at the key (an earlier run of
  the same interval) stays as it was;
* a worker killed with SIGKILL completes nothing: an output smaller than one part (s3fs
  buffers 50 MiB before it sends the first) never left the worker; a larger one is an
  incomplete multipart upload, invisible to readers and listings. A bucket lifecycle rule
  (S3's ``AbortIncompleteMultipartUpload``, e.g. after 1 day) frees those parts; see
  docs/production-topology.md.

Local paths (and ``file://``) keep the temporary-file-and-rename write of
:func:`airflow_provider_celonis.extracts.outputs.atomic_output`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import IO, Any

from airflow_provider_celonis.client.paths import redact_uri

log = logging.getLogger(__name__)

LOCAL_PROTOCOLS = ("file", "local")


def is_object_store(path: str) -> bool:
    """True for a URI whose filesystem is not the local disk (``s3://``, ``gs://``...)."""
    if "://" not in path:
        return False
    return path.split("://", 1)[0].lower() not in LOCAL_PROTOCOLS


@contextlib.contextmanager
def write_once(uri: str) -> Iterator[IO[bytes]]:
    """A binary file whose bytes appear at ``uri`` only if the block completes, in one commit.

    Uses ``ObjectStoragePath`` so the URI's Airflow connection (``s3://<conn_id>@bucket/key``)
    and the provider's filesystem registration apply as everywhere else in Airflow.
    """
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(uri)
    fs: Any = target.fs
    key = target.path  # "bucket/key": without the scheme and the connection id
    handle: Any = fs.open(key, "wb", autocommit=False)
    try:
        yield handle
        handle.close()  # uploads what is left in the buffer, as the last part; still invisible
        handle.commit()  # the one moment the object appears at its final key
    except BaseException:
        with contextlib.suppress(Exception):
            handle.discard()  # abort the multipart upload: nothing appears
        handle.closed = True  # a later close() (garbage collection) must not commit the rest
        raise
    log.info("Wrote %s in one commit (no temporary object)", redact_uri(uri))
