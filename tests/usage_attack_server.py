"""A Celonis-like server of the tests' own for the usage attack tests: exact control of what each
page holds (the emulator synthesises its events, so "this event vanished, that one showed up
late" cannot be played there). Audit Log v1 and v2 paths, page numbers and cursors."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest


class AttackServer(ThreadingHTTPServer):
    events: list[dict[str, Any]]
    """Audit events served by the window routes (filtered by ``from``/``to``, all on page 0)."""
    pages: dict[str, dict[str, Any]]
    """Fixed answers by ``pageNumber`` or ``pageToken`` ("" for the first page), when set."""
    requests: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: AttackServer

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self._send(200, json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 600}).encode())

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        self.server.requests.append(self.path)
        if self.server.pages:
            key = query.get("pageToken", query.get("pageNumber", ""))
            if key == "0":
                key = ""
            self._send(200, json.dumps(self.server.pages.get(key, {"content": []})).encode())
            return
        if query.get("pageNumber", "0") != "0":
            self._send(200, json.dumps({"content": []}).encode())
            return
        low, high = query["from"], query["to"]
        content = [e for e in self.server.events if low <= e["timestamp"] < high]
        self._send(200, json.dumps({"content": content}).encode())

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(name="attack_server")
def attack_server_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[AttackServer]:
    """Connection ``celonis_attack`` points at it."""
    server = AttackServer(("127.0.0.1", 0), _Handler)
    server.events, server.pages, server.requests = [], {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = {
        "conn_type": "celonis",
        "host": f"http://127.0.0.1:{server.server_address[1]}",
        "login": "c",
        "password": "s",
    }
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_ATTACK", json.dumps(conn))
    yield server
    server.shutdown()
    server.server_close()
