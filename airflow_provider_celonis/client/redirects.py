"""Which redirects the hook follows: credentials never leave the origin they were configured for.

Both transports send with automatic redirects off and ask :func:`next_hop` what to do with a
3xx answer, so the sync and async paths follow one rule:

* the token endpoint is never redirected: a 307/308 would re-post the client ID and secret
  to the target (``requests`` and aiohttp both do that), so any redirect is refused with an
  error naming the target;
* an API read (GET, HEAD) follows a redirect within its origin (same scheme, host and port),
  at most :data:`MAX_REDIRECTS` times, with its Authorization header;
* anything else (another origin, which would receive the bearer token or API key; a
  redirected POST, PUT or DELETE, which may or may not have acted) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urljoin, urlsplit, urlunsplit

from airflow_provider_celonis.client.paths import redact_uri
from airflow_provider_celonis.exceptions import CelonisRedirectError

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def same_origin(a: str, b: str) -> bool:
    return _origin(a) == _origin(b)


def ambiguous_authority(url: str) -> bool:
    """True when the host part carries userinfo or a backslash.

    Parsers disagree on such URLs: ``http://evil\\@team/x`` is host ``team`` to
    :func:`urllib.parse.urlsplit` but ``evil`` to urllib3, which is where ``requests`` connects.
    A Location like that is refused rather than judged by one parser and sent by another.
    """
    netloc = urlsplit(url).netloc
    return "@" in netloc or "\\" in netloc


def shown(url: str) -> str:
    """A URL fit for a message: userinfo replaced by ``***``, query and fragment dropped."""
    return redact_uri(url.split("#", 1)[0].split("?", 1)[0])


def _location(headers: Mapping[str, str]) -> str | None:
    for key, value in headers.items():
        if key.lower() == "location":
            return value
    return None


def next_hop(
    method: str, url: str, status: int, headers: Mapping[str, str], *, follow: bool, hops: int
) -> str | None:
    """None when the answer is not a redirect (it is returned as it is); the URL to request next
    when the redirect may be followed; else raise :class:`CelonisRedirectError`."""
    if status not in REDIRECT_STATUSES:
        return None
    location = _location(headers)
    if not location:
        return None  # a 3xx without a target is an answer, not a redirect
    target = urljoin(url, location)
    where = f"{method} {shown(url)} answered HTTP {status}, a redirect to {shown(target)}"
    if not follow:
        raise CelonisRedirectError(
            f"{where}; the hook does not follow redirects of the token endpoint, so the client "
            "credentials were not sent there.",
            status=status,
            target=shown(target),
            fix="set the extra token_url to the token endpoint itself (normally <Team URL>/oauth2/token); "
            "if you did not expect a redirect, check for a proxy or a misconfigured team URL",
        )
    if ambiguous_authority(target):
        raise CelonisRedirectError(
            f"{where}, whose host part carries credentials or a backslash (HTTP clients disagree on "
            "which host that is); it was not followed.",
            status=status,
            target=shown(target),
            fix="check the connection's host: it should be the team URL that answers directly "
            "(e.g. https://<team>.<realm>.celonis.cloud)",
        )
    if not same_origin(url, target):
        raise CelonisRedirectError(
            f"{where}, another origin; it was not followed, so the Authorization header stayed "
            "with the team URL.",
            status=status,
            target=shown(target),
            fix="check the connection's host: it should be the team URL that answers directly "
            "(e.g. https://<team>.<realm>.celonis.cloud)",
        )
    if method.upper() not in ("GET", "HEAD"):
        raise CelonisRedirectError(
            f"{where}; a {method.upper()} is not re-sent after a redirect (Celonis may or may not "
            "have acted on it).",
            status=status,
            target=shown(target),
            fix="check in Celonis whether the operation happened, and check the API prefix "
            "(extra api_prefixes) against your team",
        )
    if hops >= MAX_REDIRECTS:
        raise CelonisRedirectError(
            f"{where}; more than {MAX_REDIRECTS} redirects in a row.",
            status=status,
            target=shown(target),
            fix="check the connection's host and the API prefix (extra api_prefixes)",
        )
    # Sent to the scheme and host part that was checked, not to the raw text of the Location.
    own, there = urlsplit(url), urlsplit(target)
    return urlunsplit((own.scheme, own.netloc, there.path or "/", there.query, ""))
