"""The servers of the distributed e2e stack, as local processes on loopback ports in a throwaway
directory: PostgreSQL (metadata database and Celery result backend), Redis (Celery broker) and
moto (an S3 API). Each ``start()`` waits until the server answers; ``stop()`` is safe to call
twice and after a failed start.

PostgreSQL refuses to run as root, so when the harness runs as root (CI containers) the cluster
is created and run as the ``postgres`` user of Debian's package.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, what: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before it listened on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def require(binary: str | None, what: str) -> str:
    """The binary, or a failure (CELONIS_E2E_REQUIRE_TOOLS, as make e2e sets) or a skip."""
    if binary:
        return binary
    message = f"{what} is not installed (make e2e-tools installs it)"
    if os.environ.get("CELONIS_E2E_REQUIRE_TOOLS"):
        pytest.fail(message)
    pytest.skip(message)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class Postgres:
    """A throwaway PostgreSQL cluster: user and database ``airflow``, trust auth on 127.0.0.1."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.port = free_port()
        self.dir = Path()  # a fresh directory of its own, made in start()
        self.made_dir = False
        self.bindir = ""
        self.version = ""
        self.started = False
        self.user: str | None = "postgres" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/airflow"

    def _run(self, *args: str) -> str:
        return subprocess.run(
            list(args), check=True, capture_output=True, text=True, user=self.user, timeout=120
        ).stdout

    def start(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="celonis-e2e-pg-"))
        self.made_dir = True
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
        self.bindir = str(Path(require(found[-1] if found else shutil.which("initdb"), "PostgreSQL")).parent)
        if self.user:
            os.chown(self.dir, pwd.getpwnam(self.user).pw_uid, -1)
        pg = self.bindir
        self._run(f"{pg}/initdb", "-D", str(self.dir / "data"), "-U", "airflow", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c max_connections=200"
        options += " -c fsync=off"  # a throwaway cluster: durability costs time on a loaded machine
        log = str(self.dir / "server.log")
        self._run(
            f"{pg}/pg_ctl", "-D", str(self.dir / "data"), "-w", "-t", "60", "-l", log, "-o", options, "start"
        )
        self.started = True
        self._run(f"{pg}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "airflow", "airflow")
        out = self._run(f"{self.bindir}/postgres", "--version")  # "postgres (PostgreSQL) 15.14 (...)"
        self.version = re.search(r"\d+(\.\d+)?", out.split(")", 1)[-1]).group(0)  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.started:
            with contextlib.suppress(Exception):
                self._run(
                    f"{self.bindir}/pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop"
                )
            self.started = False
        if self.made_dir:  # only the directory start() made, never anything else
            with contextlib.suppress(OSError):
                shutil.copy(self.dir / "server.log", self.logs / "postgres.log")
            shutil.rmtree(self.dir, ignore_errors=True)
            self.made_dir = False


def _version_key(path: str) -> int:
    match = re.search(r"/(\d+)/bin/", path)
    return int(match.group(1)) if match else 0


class Redis:
    """redis-server on a loopback port, nothing persisted."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.version = ""

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = require(shutil.which("redis-server"), "redis-server")
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
        self.version = re.search(r"v=(\S+)", out).group(1)  # type: ignore[union-attr]
        log = open(self.logs / "redis.log", "wb")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_port(self.port, "redis-server", self.proc)

    def stop(self) -> None:
        _stop(self.proc)


class Moto:
    """moto in server mode: an S3 API on a loopback port, with one bucket for the e2e outputs."""

    BUCKET = "celonis-e2e"
    KEY_ID = "e2e-access-key-id"
    SECRET = "e2e-secret-access-key"  # moto accepts any pair; the e2e checks no log shows this one

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection_json(self) -> str:
        import json

        extra = {"endpoint_url": self.endpoint, "region_name": "us-east-1"}
        return json.dumps({"conn_type": "aws", "login": self.KEY_ID, "password": self.SECRET, "extra": extra})

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.KEY_ID,
            aws_secret_access_key=self.SECRET,
            region_name="us-east-1",
        )

    def start(self) -> None:
        log = open(self.logs / "moto.log", "wb")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_port(self.port, "moto", self.proc)
        self.client().create_bucket(Bucket=self.BUCKET)

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object under ``prefix``: {key: bytes}."""
        s3 = self.client()
        keys = [
            o["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.BUCKET, Prefix=prefix)
            for o in page.get("Contents", [])
        ]
        return {k: s3.get_object(Bucket=self.BUCKET, Key=k)["Body"].read() for k in keys}

    def last_modified(self, prefix: str = "") -> dict[str, Any]:
        """{key: LastModified} of every object under ``prefix``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.BUCKET, Prefix=prefix)
        return {o["Key"]: o["LastModified"] for page in pages for o in page.get("Contents", [])}

    def open_uploads(self) -> list[str]:
        return [u["Key"] for u in self.client().list_multipart_uploads(Bucket=self.BUCKET).get("Uploads", [])]

    def stop(self) -> None:
        _stop(self.proc)
