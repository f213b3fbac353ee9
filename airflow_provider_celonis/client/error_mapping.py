"""Map Celonis error answers to typed exceptions whose message says how to fix the problem.

Celonis services answer errors in several shapes (problem JSON, OAuth JSON, the
integration service's ``ExceptionReference`` and validation descriptors, SCIM errors, plain
text, or nothing at all); :func:`parse_error_body` reads all of them into one
:class:`ErrorBody`. The fixes follow the Troubleshooting section of Celonis's "Migrating to
OAuth 2.0" page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from airflow_provider_celonis.client.apis import CelonisApi
from airflow_provider_celonis.exceptions import (
    CelonisApiDisabledError,
    CelonisApiError,
    CelonisAuthenticationError,
    CelonisBadRequestError,
    CelonisConflictError,
    CelonisInvalidClientError,
    CelonisInvalidScopeError,
    CelonisNotFoundError,
    CelonisPermissionError,
    CelonisRateLimitError,
    CelonisServerError,
    CelonisUnauthorizedError,
)

_MAX_TEXT = 500
APPLICATIONS = "Admin & Settings > Applications"


@dataclass(frozen=True)
class ErrorBody:
    """What Celonis said, whatever the shape it said it in."""

    title: str | None = None
    detail: str | None = None
    error_code: str | None = None
    oauth_error: str | None = None
    oauth_description: str | None = None
    text: str = ""

    @property
    def empty(self) -> bool:
        return not self.text.strip()

    def summary(self) -> str:
        """One line with Celonis's own words, for the exception message."""
        if self.oauth_error:
            desc = f": {self.oauth_description}" if self.oauth_description else ""
            return f"{self.oauth_error}{desc}"
        parts = [p for p in (self.title, self.detail) if p]
        if parts:
            code = f" [{self.error_code}]" if self.error_code else ""
            return " - ".join(dict.fromkeys(parts)) + code
        if self.empty:
            return "(empty body)"
        return self.text.strip()[:_MAX_TEXT]


def scrub_body(body: ErrorBody, scrub: Callable[[str], str]) -> ErrorBody:
    """``body`` with ``scrub`` applied to every field: decoding the JSON turns escapes such as
    ``\\u0073`` or ``\\/`` back into the characters a scrub of the raw text could not match."""
    return replace(
        body,
        **{
            name: scrub(value)
            for name, value in ((f.name, getattr(body, f.name)) for f in fields(body))
            if isinstance(value, str)
        },
    )


def _validation_detail(errors: Any) -> str | None:
    if not isinstance(errors, list):
        return None
    items = []
    for item in errors[:5]:
        if isinstance(item, dict):
            attr = item.get("attribute")
            msg = item.get("error") or item.get("errorCode")
            items.append(f"{attr}: {msg}" if attr else str(msg))
    return "; ".join(items) or None


def parse_error_body(text: str) -> ErrorBody:
    """Read any of the error shapes Celonis services use; never raises."""
    text = text or ""
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, list):  # Tools API 422: [{error, attribute, errorCode, additionalInfo}]
        return ErrorBody(title="Validation failed", detail=_validation_detail(data), text=text)
    if not isinstance(data, dict):
        return ErrorBody(text=text[:_MAX_TEXT])
    oauth_keys = {"error", "error_description", "error_uri"}
    if isinstance(data.get("error"), str) and set(data) <= oauth_keys:
        if data["error"] == "Unauthorized":  # common catalogue 401 {"error": "Unauthorized"}
            return ErrorBody(title="Unauthorized", text=text)
        return ErrorBody(
            oauth_error=data["error"], oauth_description=data.get("error_description"), text=text
        )
    detail = data.get("detail") or data.get("message") or data.get("shortMessage")
    if detail is None and "errors" in data:
        detail = _validation_detail(data["errors"])
    if detail is None and "errorInformation" in data:
        detail = str(data["errorInformation"])
    code = data.get("errorCode") or data.get("frontendErrorKey") or data.get("scimType")
    if code is None and data.get("reference"):
        code = f"reference {data['reference']}"
    return ErrorBody(
        title=data.get("title") or (data.get("error") if isinstance(data.get("error"), str) else None),
        detail=str(detail) if detail is not None else None,
        error_code=str(code) if code is not None else None,
        text=text[:_MAX_TEXT],
    )


def _scope_hint(api: CelonisApi, scope: str) -> str:
    variants = f" (Celonis docs also spell it {', '.join(api.scope_variants)})" if api.scope_variants else ""
    return f"OAuth scope '{scope}'{variants}"


def api_error(
    *,
    status: int,
    body: ErrorBody,
    api: CelonisApi,
    scope: str,
    method: str,
    path: str,
    conn_id: str,
    reset_in: float | None = None,
    retried: bool = False,
    prefix: str | None = None,
    legacy_key: bool = False,
) -> CelonisApiError:
    """The typed exception for an error status from a Celonis API (not the token endpoint).

    ``prefix`` is the API prefix actually used (it may be overridden); ``legacy_key`` says the
    request carried an API/application key instead of an OAuth token.
    """
    said = body.summary()
    head = f"Celonis {api.title} {method} {path} failed with HTTP {status}: {said}."
    common: dict[str, Any] = {
        "status": status,
        "method": method,
        "path": path,
        "error_code": body.error_code,
        "detail": body.detail or body.oauth_description,
        "title": body.title,
    }
    needs = (
        f"the OAuth client of connection '{conn_id}' needs the {_scope_hint(api, scope)} "
        f"(select it on the client in {APPLICATIONS}) and the {api.permission} "
        "(Admin & Settings > Permissions)"
    )
    if status == 401 and legacy_key:
        return CelonisUnauthorizedError(
            head + " Celonis refused the API key.",
            fix=f"the key of connection '{conn_id}' may be revoked or expired, or of the other type: "
            "key_type AppKey is for application keys, Bearer for personal API keys. Better: move to "
            "OAuth (README, 'Migrating from API and application keys to OAuth')",
            **common,
        )
    if status == 401:
        return CelonisUnauthorizedError(
            head + " A fresh token was also refused, so the scope or permission is missing.",
            fix=needs,
            **common,
        )
    if status == 403 and body.empty:
        return CelonisApiDisabledError(
            head + f" An empty 403 means the {api.title} is not enabled for this team.",
            fix=f"ask a team admin (or Celonis support) to enable the {api.title}; then check that " + needs,
            **common,
        )
    if status == 403:
        return CelonisPermissionError(head, fix=needs, **common)
    if status in (400, 422):
        return CelonisBadRequestError(
            head, fix="check the arguments named in Celonis's message against the API reference", **common
        )
    if status == 404:
        return CelonisNotFoundError(
            head,
            fix="check the ids in the request, and that the team URL and the API prefix "
            f"('{(api.prefix if prefix is None else prefix) or '/'}', set with the extra api_prefixes) "
            "match your team",
            **common,
        )
    if status == 409:
        return CelonisConflictError(
            head, fix="the object is busy; wait for the running operation to finish, then retry", **common
        )
    if status == 429:
        when = f"the limit resets in about {reset_in:.0f} s" if reset_in is not None else "no reset time sent"
        return CelonisRateLimitError(
            head + f" Still rate-limited after retries; {when}.",
            reset_in=reset_in,
            fix="lower the task's concurrency (an Airflow pool for Celonis tasks), spread the schedule, "
            "or raise the hook's max_attempts / max_rate_limit_wait",
            **common,
        )
    if status >= 500:
        again = " after retries" if retried else ""
        return CelonisServerError(
            head + f" Celonis failed{again}.",
            fix="retry later; if it persists, contact Celonis support with the Support ID or "
            "reference from the message",
            **common,
        )
    return CelonisApiError(head, fix="see Celonis's message above", **common)


def token_error(
    *,
    status: int | None,
    body: ErrorBody,
    conn_id: str,
    client_id: str,
    auth_method: str,
    scope: str,
    token_url: str,
    api: CelonisApi | None = None,
) -> CelonisAuthenticationError:
    """The typed exception for a refused client-credentials grant."""
    said = body.summary()
    head = f"Celonis refused an OAuth token for client '{client_id}' (connection '{conn_id}'): {said}."
    kwargs: dict[str, Any] = {
        "status": status,
        "error": body.oauth_error,
        "error_description": body.oauth_description,
    }
    other = "client_secret_basic" if auth_method == "client_secret_post" else "client_secret_post"
    if body.oauth_error == "invalid_client":
        return CelonisInvalidClientError(
            head,
            fix=f"check the Client ID (login) and Client Secret (password) against {APPLICATIONS}; "
            f"if they are right, the client may be set up for the other authentication method: "
            f"set the extra auth_method to {other} (it is now {auth_method})",
            **kwargs,
        )
    if body.oauth_error == "invalid_scope":
        scopes = tuple(scope.split())
        variants = ""
        if api is not None and api.scope_variants:
            variants = (
                f"; if your team spells it {' or '.join(api.scope_variants)}, set the extra scopes to "
                f'{{"{api.key}": "{api.scope_variants[0]}"}}'
            )
        return CelonisInvalidScopeError(
            head,
            scopes=scopes,
            fix=f"the OAuth client lacks scope '{scope}': add it to the client under {APPLICATIONS} "
            f"(edit the client, select the scope, save){variants}",
            **kwargs,
        )
    if body.oauth_error == "unauthorized_client":
        return CelonisAuthenticationError(
            head,
            fix=f"the client may not use the client_credentials grant; in {APPLICATIONS} create an "
            "'OAuth client' (not a user OAuth app) for machine-to-machine access",
            **kwargs,
        )
    if status == 404 or (body.oauth_error is None and not body.text.strip().startswith("{")):
        return CelonisAuthenticationError(
            head,
            fix=f"the token URL {token_url} did not answer like an OAuth token endpoint; check the "
            "connection's host (the team URL, e.g. https://<team>.<realm>.celonis.cloud) and the "
            "extra token_url",
            **kwargs,
        )
    return CelonisAuthenticationError(
        head,
        fix=f"check the OAuth client in {APPLICATIONS} and the extras auth_method and scopes",
        **kwargs,
    )
