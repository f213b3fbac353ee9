"""Small servers of the tests' own, on their own ports (= other origins), over real sockets.

``Recorder`` answers every request with a scripted answer and records what arrived (method,
path, headers, body), so a test can assert that a server received nothing, or no secret.
``trickle_server`` answers one byte at a time, slower than any total deadline allows.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    url: str
    received: list[Received] = field(default_factory=list)

    def everything(self) -> str:
        """All that arrived, as text: for 'no secret reached this server' assertions."""
        return "\n".join(
            f"{r.method} {r.path} {r.headers} {r.body.decode('utf-8', 'replace')}" for r in self.received
        )


@contextlib.contextmanager
def recorder(answer: Callable[[Received], Answer] | None = None) -> Iterator[Recorder]:
    """A threaded HTTP server on 127.0.0.1:<free port>; ``answer`` scripts its replies (default 200 {})."""
    record = Recorder("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Received(self.command, self.path, dict(self.headers.items()), body)
            record.received.append(request)
            status, headers, payload = (
                answer(request) if answer else (200, {"content-type": "application/json"}, b"{}")
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    record.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield record
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def trickle_server(*, in_headers: bool = False, interval: float = 0.2, length: int = 60) -> Iterator[str]:
    """An HTTP server that sends its answer one byte every ``interval`` seconds.

    ``in_headers``: trickle from the status line on; else the headers come at once and the
    body (``length`` bytes of a JSON string) trickles.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()
    body = b'"' + b"x" * (length - 2) + b'"'
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)

    def serve(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.recv(65536)
            if not in_headers:
                conn.sendall(head)
            for byte in head + body if in_headers else body:
                if stop.is_set():
                    return
                conn.sendall(bytes([byte]))
                time.sleep(interval)

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()
