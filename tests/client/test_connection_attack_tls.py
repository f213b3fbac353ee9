"""Review attacks on TLS settings, over a real HTTPS server of the test's own (self-signed).

``verify`` may name a CA bundle file or a hashed certificate directory: both must work on the
sync path (requests) and on the async path (aiohttp), where a directory used to crash at the
first call with a raw ``IsADirectoryError``. A readable file that holds no certificate must be
refused before any call, not fail at the first call with a raw ``ssl.SSLError``. A redirect
from https to plain http never takes the token along.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hostile_servers import recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisRedirectError,
    CelonisTransportError,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

TOKEN = "tls-token-0123456789"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(cert.pem, key.pem, hashed CA directory) for 127.0.0.1."""
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    digest = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(cert)], check=True, capture_output=True, text=True
    ).stdout.strip()
    hashed = where / "ca-dir"
    hashed.mkdir()
    shutil.copy(cert, hashed / f"{digest}.0")
    return cert, key, hashed


@contextlib.contextmanager
def https_team(cert: Path, key: Path, location: str | None = None) -> Iterator[tuple[str, list[str]]]:
    """An HTTPS team server: token endpoint, and /api/team (a redirect to ``location`` if given)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            seen.append(self.path)
            if self.path.startswith("/oauth2/token"):
                status, body, extra = 200, {"access_token": TOKEN, "expires_in": 900}, {}
            elif location is not None:
                status, body, extra = 302, {}, {"location": location}
            else:
                status, body, extra = 200, {"ok": True}, {}
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"content-type": "application/json", **extra}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _connect(monkeypatch: pytest.MonkeyPatch, url: str, verify: Any) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps(
            {
                "conn_type": "celonis",
                "host": url,
                "login": "client",
                "password": "tls-secret-01234",
                "extra": {"verify": verify},
            }
        ),
    )


def _get(is_async: bool) -> Any:
    hook = CelonisOAuthHook(max_attempts=1, timeout=10)
    if is_async:
        return asyncio.run(hook.arequest_json("GET", "/api/team", api=TEAM))
    return hook.request_json("GET", "/api/team", api=TEAM)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", ["file", "directory"])
def test_a_ca_bundle_file_or_hashed_directory_works_on_both_paths(
    monkeypatch, certificate, kind, is_async
) -> None:
    cert, key, hashed = certificate
    with https_team(cert, key) as (url, seen):
        _connect(monkeypatch, url, str(cert if kind == "file" else hashed))
        assert _get(is_async) == {"ok": True}
    assert seen == ["/oauth2/token", "/api/team"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_self_signed_server_is_refused_with_verify_true(monkeypatch, certificate, is_async) -> None:
    cert, key, _ = certificate
    with https_team(cert, key) as (url, _seen):
        _connect(monkeypatch, url, True)
        with pytest.raises(CelonisTransportError, match="TLS verification failed"):
            _get(is_async)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_file_that_is_no_ca_bundle_is_refused_before_any_call(
    monkeypatch, certificate, tmp_path, is_async
) -> None:
    cert, key, _ = certificate
    not_a_bundle = tmp_path / "notes.txt"
    not_a_bundle.write_text("not a certificate\n")
    with https_team(cert, key) as (url, seen):
        _connect(monkeypatch, url, str(not_a_bundle))
        with pytest.raises(CelonisConfigurationError) as info:
            _get(is_async)
    assert info.value.field == "extra.verify"
    assert seen == [], "nothing may be sent with a broken TLS setting"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_https_to_plain_http_redirect_is_refused(monkeypatch, certificate, is_async) -> None:
    cert, key, _ = certificate
    with recorder() as attacker:
        with https_team(cert, key, location=f"{attacker.url}/api/team") as (url, _seen):
            _connect(monkeypatch, url, str(cert))
            with pytest.raises(CelonisRedirectError, match="another origin"):
                _get(is_async)
        assert attacker.received == []


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_from_the_environment_applies_to_both_paths(
    monkeypatch, certificate, variable, is_async
) -> None:
    """requests honours REQUESTS_CA_BUNDLE (corporate CAs); the deferrable path must trust the same."""
    cert, key, _ = certificate
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, str(cert))
    with https_team(cert, key) as (url, seen):
        _connect(monkeypatch, url, True)
        assert _get(is_async) == {"ok": True}
    assert seen == ["/oauth2/token", "/api/team"]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_an_environment_ca_bundle_that_is_missing_is_named(
    monkeypatch, certificate, tmp_path, is_async
) -> None:
    """requests raised a raw OSError ("Could not find a suitable TLS CA certificate bundle")."""
    cert, key, _ = certificate
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with https_team(cert, key) as (url, seen):
        _connect(monkeypatch, url, True)
        with pytest.raises(CelonisConfigurationError, match="REQUESTS_CA_BUNDLE"):
            _get(is_async)
    assert seen == []
