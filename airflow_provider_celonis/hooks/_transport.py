"""Transport details kept out of the hook: classifying network errors, the User-Agent, secret
masking and the shared aiohttp session of each event loop.

Classification answers one question for the retry policy: may the failed request have
reached Celonis? Only then is a non-idempotent POST unsafe to send again.
"""

from __future__ import annotations

import asyncio
import json
import platform
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis import __version__

if TYPE_CHECKING:
    import aiohttp
    import requests


def user_agent() -> str:
    try:
        from airflow import __version__ as airflow_version
    except ImportError:  # pragma: no cover - Airflow is a dependency
        airflow_version = "unknown"
    return (
        f"airflow-provider-celonis/{__version__} apache-airflow/{airflow_version} "
        f"python/{platform.python_version()}"
    )


def mask(secret: str | None) -> None:
    """Register a secret with Airflow's log masker (task and supervisor processes)."""
    if not secret:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - Airflow < 3.1
        from airflow.sdk.execution_time.secrets_masker import mask_secret  # type: ignore[no-redef]
    mask_secret(secret)


async def amask(secret: str | None) -> None:
    """Async variant: ``mask_secret`` may talk to the supervisor, which must not block the loop."""
    if not secret:
        return
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # pragma: no cover - older Airflow: only the local masker
        mask(secret)
        return
    await amask_secret(secret)


def requests_error_sent(error: requests.RequestException) -> bool:
    """False only when the TCP connection to Celonis was never established."""
    import requests
    import urllib3

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return False
    if isinstance(error, requests.exceptions.ConnectionError) and error.args:
        reason = getattr(error.args[0], "reason", error.args[0])
        if isinstance(reason, urllib3.exceptions.NewConnectionError):
            return False
    return True


def aiohttp_error_sent(error: BaseException) -> bool:
    import aiohttp

    return not isinstance(error, aiohttp.ClientConnectorError)


def is_tls_error(error: BaseException) -> bool:
    import ssl

    import aiohttp
    import requests

    return isinstance(
        error,
        (
            requests.exceptions.SSLError,
            aiohttp.ClientSSLError,
            aiohttp.ServerFingerprintMismatch,
            ssl.SSLError,
        ),
    )


def describe(error: BaseException) -> str:
    """Short, secret-free description of a network error (no headers, no bodies)."""
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text[:300]}"


@dataclass(frozen=True)
class CelonisResponse:
    """A fully read answer, as the async path returns it."""

    status: int
    headers: dict[str, str] = field(repr=False)
    text: str = field(repr=False)

    def json(self) -> Any:
        return json.loads(self.text) if self.text.strip() else None


_LOOP_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def loop_session() -> aiohttp.ClientSession:
    """One aiohttp session (one connection pool) per event loop, shared by all hooks in it.

    A triggerer may poll a thousand Celonis jobs from one loop; one pool keeps the number of
    sockets and TLS handshakes to Celonis small. Per-request settings (TLS, proxy, timeout,
    headers) are passed on each request, so connections with different settings can share it.
    """
    import aiohttp

    loop = asyncio.get_running_loop()
    session = _LOOP_SESSIONS.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=100, limit_per_host=50),
            headers={"User-Agent": user_agent()},
        )
        _LOOP_SESSIONS[loop] = session
    return session


async def close_loop_session() -> None:
    """Close the current loop's shared session (tests, and clean shutdown of a loop)."""
    session = _LOOP_SESSIONS.pop(asyncio.get_running_loop(), None)
    if session is not None and not session.closed:
        await session.close()
