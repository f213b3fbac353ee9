"""A streaming ``multipart/form-data`` body with one file part, for chunks of up to 1 GB.

``requests`` builds multipart bodies in memory and requests-toolbelt is not a dependency,
so this small encoder yields the part header, the file's blocks and the closing boundary.
It also reports its exact length (``len()``), so ``requests`` sends a ``Content-Length``
instead of chunked transfer encoding: a server can refuse an oversized chunk before reading
it, and no proxy has to support chunked uploads.

A body is consumed once. The hook's ``data_factory`` builds a new one for each attempt.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator


class MultipartFileBody:
    """Iterable body ``--boundary / headers / file bytes / --boundary--`` with a known length."""

    def __init__(
        self,
        field: str,
        filename: str,
        size: int,
        pieces: Callable[[], Iterable[bytes]],
        content_type: str = "application/octet-stream",
        boundary: str | None = None,
    ) -> None:
        self.boundary = boundary or f"celonis-{secrets.token_hex(16)}"
        safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
        self.head = (
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{safe_name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.size = size
        self._pieces = pieces
        self.sent = 0

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        for piece in self._pieces():
            self.sent += len(piece)
            yield piece
        if self.sent != self.size:
            # Content-Length is already on the wire: a short body would hang the server.
            raise ValueError(f"file part announced {self.size} bytes but produced {self.sent}")
        yield self.tail
