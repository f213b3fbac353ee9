"""Transport details kept out of the hook: classifying network errors, the User-Agent, secret
masking and the shared aiohttp session of each event loop.

Classification answers one question for the retry policy: may the failed request have
reached Celonis? Only then is a non-idempotent POST unsafe to send again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import platform
import re
import weakref
from collections.abc import AsyncIterator
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
    """A fully read answer, as the async path returns it: ``body`` as sent, ``text`` decoded by
    :func:`body_text` (never raises)."""

    status: int
    headers: dict[str, str] = field(repr=False)
    text: str = field(repr=False)
    body: bytes = field(default=b"", repr=False)

    def json(self) -> Any:
        """The JSON answer, read from the bytes (UTF-8 per RFC 8259, whatever the label says)."""
        raw: bytes | str = self.body or self.text
        return json.loads(raw) if raw.strip() else None


def text_of(response: Any) -> str:
    """A ``requests`` response's body as text, decoded as the async path decodes it
    (:func:`body_text`): an error message reads the same in a worker and in a triggerer."""
    return body_text(response.content or b"", charset_of(response.headers.get("content-type")))


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, or None (then :func:`body_text` reads
    UTF-8, where ``requests`` would read an unlabelled ``text/*`` body as Latin-1)."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'") or None
    return None


def body_text(body: bytes, charset: str | None) -> str:
    """``body`` as text for messages, as ``requests`` shows it: the declared charset (UTF-8 if none
    or unknown), undecodable bytes replaced. aiohttp's ``text()`` raised a raw
    ``UnicodeDecodeError`` on a body that is not valid in its charset."""
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:  # an unknown charset label
        return body.decode("utf-8", "replace")


@dataclass
class _SharedSession:
    session: aiohttp.ClientSession
    users: int = 0


_LOOP_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SharedSession] = (
    weakref.WeakKeyDictionary()
)


@contextlib.asynccontextmanager
async def shared_session() -> AsyncIterator[aiohttp.ClientSession]:
    """The event loop's aiohttp session (one connection pool), held for the block.

    A triggerer may poll a thousand Celonis jobs from one loop: while any of them holds the
    session, all requests share its pool, so sockets and TLS handshakes to Celonis stay few.
    The last holder closes it, so nothing is left open when a loop ends (``airflow dags
    test`` runs each deferral in a loop of its own). Per-request settings (TLS, proxy,
    timeout, headers) travel with each request, so connections with different settings
    can share the pool.
    """
    import aiohttp

    loop = asyncio.get_running_loop()
    shared = _LOOP_SESSIONS.get(loop)
    if shared is None or shared.session.closed:
        shared = _SharedSession(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, limit_per_host=50),
                headers={"User-Agent": user_agent()},
                # Not trust_env: it also reads ~/.netrc, whose entry replaced the hook's own
                # Authorization. HTTPS_PROXY / NO_PROXY still apply, per request (env_proxy).
                trust_env=False,
            )
        )
        _LOOP_SESSIONS[loop] = shared
    shared.users += 1
    try:
        yield shared.session
    finally:
        shared.users -= 1
        if shared.users == 0:
            if _LOOP_SESSIONS.get(loop) is shared:
                del _LOOP_SESSIONS[loop]
            await shared.session.close()


def env_proxy(url: str) -> str | None:
    """The proxy HTTP(S)_PROXY / NO_PROXY give for ``url`` (as requests applies them in workers)."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def open_sessions() -> int:
    """Sessions still open in the current loop (for tests)."""
    shared = _LOOP_SESSIONS.get(asyncio.get_running_loop())
    return 0 if shared is None or shared.session.closed else 1


async def close_loop_session() -> None:
    """Force-close the current loop's session, whoever holds it (tests)."""
    shared = _LOOP_SESSIONS.pop(asyncio.get_running_loop(), None)
    if shared is not None and not shared.session.closed:
        await shared.session.close()


_BREAK = r"(?:\r?\n[ \t]*)?"
"""A line break, with the next line's indentation, that an echo may put inside a secret."""


def _echoed_char(char: str) -> str:
    """A regex for one character of a secret in any form an echo may give it: itself,
    percent-encoded (either case, also where encoding was optional, ``+`` for a space),
    JSON-escaped (``\\"``, ``\\u0073`` in either case, ``\\/`` as PHP writes ``/``)."""
    forms = {re.escape(char), re.escape(json.dumps(char)[1:-1])}
    hexes = "".join(f"%{byte:02x}" for byte in char.encode())
    forms.add(f"(?i:{re.escape(hexes)})")
    if ord(char) < 0x10000:
        unicode_escape = re.escape("\\u" + format(ord(char), "04x"))
        forms.add(f"(?i:{unicode_escape})")
    if char == "/":
        forms.add(re.escape("\\/"))
    if char == " ":
        forms.add(re.escape("+"))
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


@functools.lru_cache(maxsize=64)
def _echo_pattern(secret: str) -> re.Pattern[str]:
    """``secret`` in any mix of the forms of :func:`_echoed_char`, a line break allowed between
    characters (proxies' error pages and wrapped log lines fold long values)."""
    return re.compile(_BREAK.join(_echoed_char(char) for char in secret))


def scrub(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """``text`` with every form of each secret replaced by ``***``.

    Celonis error bodies (and proxies' error pages) may echo the request: the form body with
    the client secret, the Authorization header. Airflow's masker hides registered secrets in
    log output, but not in exception objects a caller inspects or in other processes' logs;
    this runs before any text from an answer reaches an exception or a log line (and again on
    the fields decoded from a JSON body, where ``\\u0073``-style escapes turn back into the
    secret). Secrets shorter than 4 characters are left alone (they would shred ordinary words).
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = _echo_pattern(secret).sub("***", text)
    return text
