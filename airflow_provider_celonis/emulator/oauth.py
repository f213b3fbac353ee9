"""``/oauth2/token`` and the access check every emulated API route runs.

The token endpoint follows RFC 6749 section 4.4 with both client authentication methods;
each registered client accepts exactly one, as a Celonis OAuth client does. Errors are RFC
6749 bodies: ``invalid_client`` (401) for a wrong id, secret or method, ``invalid_scope``
(400) when any requested scope is not allowed (no partial grant).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.stores.state import API_ACCESS, EmulatorState

router = APIRouter()


class AccessRefused(Exception):
    """Raised by :func:`authorize`; the app's handler answers with ``response``."""

    def __init__(self, response: Response) -> None:
        self.response = response


@dataclass(frozen=True)
class Principal:
    client_id: str
    scopes: frozenset[str]
    permissions: frozenset[str]
    legacy_key: bool = False


def state_of(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _basic_credentials(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote(client_id), unquote(secret)) if sep else None


@router.post("/oauth2/token")
async def token(request: Request) -> Response:
    state = state_of(request)
    body = (await request.body()).decode("utf-8", "replace")
    params = dict(parse_qsl(request.url.query))
    params.update(parse_qsl(body))  # Celonis accepts the parameters in the query and in the body
    grant_type = params.get("grant_type")
    if not grant_type:
        return problems.oauth_error(400, "invalid_request", "Missing grant_type parameter")
    if grant_type != "client_credentials":
        return problems.oauth_error(400, "unsupported_grant_type", f"Unsupported grant type {grant_type}")

    basic = _basic_credentials(request.headers.get("authorization", ""))
    if basic:
        method, (client_id, secret) = "client_secret_basic", basic
    elif "client_id" in params:
        method, client_id, secret = "client_secret_post", params["client_id"], params.get("client_secret", "")
    else:
        return problems.oauth_error(401, "invalid_client", "Client authentication failed")
    client = state.clients.get(client_id)
    if client is None or client.client_secret != secret or client.auth_method != method:
        return problems.oauth_error(401, "invalid_client", "Client authentication failed")

    requested = frozenset(params.get("scope", "").split())
    denied = sorted(requested - client.scopes)
    if denied:
        return problems.oauth_error(
            400, "invalid_scope", f"The requested scope is invalid: {' '.join(denied)}"
        )
    value, issued = state.issue_token(client, requested)
    return JSONResponse(
        {
            "access_token": value,
            "scope": " ".join(sorted(issued.scopes)),
            "token_type": "Bearer",
            "expires_in": state.settings.token_lifetime,
        },
        headers={"Cache-Control": "no-store"},
    )


def authorize(request: Request, api: str) -> Principal:
    """Check the Authorization header against ``api``'s scope and permission, as Celonis does."""
    state = state_of(request)
    header = request.headers.get("authorization")
    if not header:
        raise AccessRefused(problems.unauthorized())
    kind, _, credential = header.partition(" ")
    if kind.lower() not in ("bearer", "appkey") or not credential.strip():
        raise AccessRefused(problems.malformed_authorization())
    credential = credential.strip()
    legacy = state.settings.legacy_keys.get(credential)
    if legacy is not None:
        if legacy.lower() != kind.lower():
            raise AccessRefused(problems.unauthorized())
        principal = Principal("legacy-key", frozenset(), frozenset(), legacy_key=True)
    else:
        token = state.tokens.get(credential) if kind.lower() == "bearer" else None
        if token is None or token.expires_at <= state.now():
            raise AccessRefused(problems.unauthorized())
        principal = Principal(token.client_id, token.scopes, token.permissions)

    if api in state.settings.disabled_apis:
        raise AccessRefused(problems.api_disabled())
    access = API_ACCESS[api]
    if principal.legacy_key:
        return principal
    accepted = set(access.scopes) | (set(access.variants) if state.settings.accept_scope_variants else set())
    if accepted and not accepted & principal.scopes:
        status = state.settings.scope_denied_status
        if status == 401:
            raise AccessRefused(problems.unauthorized())
        raise AccessRefused(
            problems.problem(
                403,
                f"The access token lacks the scope required by this API ({access.scopes[0]})",
                "ADMIN_ACCESS_ERROR",
                title="Access Denied.",
            )
        )
    if access.permission and access.permission not in principal.permissions:
        raise AccessRefused(problems.access_denied())
    return principal


def requires(api: str):  # type: ignore[no-untyped-def]
    """FastAPI dependency: ``principal: Principal = Depends(requires("audit_log"))``."""

    def dependency(request: Request) -> Principal:
        return authorize(request, api)

    return dependency


async def refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AccessRefused)
    return exc.response
