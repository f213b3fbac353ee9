"""The OAuth 2.0 client credentials grant (RFC 6749 section 4.4), as pure functions.

Building the token request and reading the answer are kept free of I/O so that both
transports share them and tests can check every branch without a server.
"""

from __future__ import annotations

import base64
import json
import math
import re
import time
from dataclasses import dataclass, field
from urllib.parse import quote

from airflow_provider_celonis.client.connection import CelonisConnectionConfig

REFRESH_MARGIN_CAP = 60.0
"""Refresh at most this many seconds before expiry (pycelonis keeps 60 s)."""
_HEADER_SAFE = re.compile(r"[\x21-\x7e]+")
"""Visible ASCII: what a bearer token (RFC 6750's b64token, JWTs, opaque tokens) is made of."""
DEFAULT_EXPIRES_IN = 300.0
"""Lifetime assumed when the server omits ``expires_in`` (Celonis issues 899 s)."""


@dataclass(frozen=True)
class AccessToken:
    """A bearer token; ``repr`` never shows its value."""

    value: str = field(repr=False)
    scope: str
    lifetime: float
    obtained_at: float
    """``time.monotonic()`` when the token endpoint answered."""

    @property
    def refresh_at(self) -> float:
        """When to stop using the token: a quarter of its life early, at most 60 s."""
        margin = min(REFRESH_MARGIN_CAP, self.lifetime * 0.25)
        return self.obtained_at + self.lifetime - margin

    def fresh(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.refresh_at


@dataclass(frozen=True)
class TokenRequest:
    url: str
    data: dict[str, str] = field(repr=False)
    headers: dict[str, str] = field(repr=False)


def cache_key(config: CelonisConnectionConfig, scope: str) -> tuple[str, str, str, str]:
    """(token URL, client ID, scopes, secret fingerprint).

    Scopes are normalised so that "a b" and "b a" share a token. The fingerprint makes two
    connections with the same client ID but different secrets not share a token, so a
    wrong secret is reported rather than masked by a cached token.
    """
    import hashlib

    secret = config.client_secret or ""
    fingerprint = hashlib.sha256(secret.encode()).hexdigest()[:16]
    return (config.token_url, config.client_id or "", " ".join(sorted(set(scope.split()))), fingerprint)


def build_token_request(config: CelonisConnectionConfig, scope: str) -> TokenRequest:
    """Form body ``grant_type=client_credentials&scope=...``, client authenticated per the connection."""
    if not config.client_id or config.client_secret is None:
        raise ValueError("build_token_request needs an OAuth client")
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    headers = {"Accept": "application/json"}
    if config.auth_method == "client_secret_basic":
        # RFC 6749 2.3.1: form-encode id and secret before base64.
        pair = f"{quote(config.client_id, safe='')}:{quote(config.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        data["client_id"] = config.client_id
        data["client_secret"] = config.client_secret
    return TokenRequest(url=config.token_url, data=data, headers=headers)


class TokenResponseError(ValueError):
    """A 2xx token answer that is not a usable bearer token."""


def parse_token_response(text: str, requested_scope: str, now: float | None = None) -> AccessToken:
    """Read ``{access_token, token_type, expires_in, scope}``; ``expires_in`` is in seconds."""
    try:
        data = json.loads(text)
    except ValueError:
        raise TokenResponseError("the token endpoint answered 2xx without JSON") from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("access_token"), str)
        or not data["access_token"]
    ):
        raise TokenResponseError("the token endpoint's answer has no access_token")
    if not _HEADER_SAFE.fullmatch(data["access_token"]):
        # It goes into an Authorization header: a line break would inject headers (or make the
        # HTTP client quote the whole header, token included, in its error), a non-ASCII
        # character would fail to encode. Never shown.
        raise TokenResponseError(
            "the token endpoint's access_token holds spaces, line breaks or non-ASCII characters, "
            "which an Authorization header cannot carry (it is not shown)"
        )
    token_type = str(data.get("token_type") or "Bearer")
    if token_type.lower() != "bearer":
        raise TokenResponseError(f"the token endpoint issued a {token_type!r} token, not a Bearer token")
    try:
        lifetime = float(data.get("expires_in", DEFAULT_EXPIRES_IN))
    except (TypeError, ValueError):
        lifetime = DEFAULT_EXPIRES_IN
    if not math.isfinite(lifetime) or lifetime <= 0:  # NaN looked stale forever: a token per call
        lifetime = DEFAULT_EXPIRES_IN
    granted = data.get("scope")
    return AccessToken(
        value=data["access_token"],
        scope=granted if isinstance(granted, str) else requested_scope,
        lifetime=lifetime,
        obtained_at=time.monotonic() if now is None else now,
    )


def granted_report(requested: str, granted: str) -> tuple[list[str], list[str]]:
    """(granted, missing) among the requested scopes, for ``test_connection``."""
    have = set(granted.split())
    asked = requested.split()
    return [s for s in asked if s in have], [s for s in asked if s not in have]
