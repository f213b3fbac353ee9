"""Every Celonis error shape becomes a typed exception whose message says what to do."""

from __future__ import annotations

import json

import pytest

from airflow_provider_celonis.client.apis import AUDIT_LOG, DATA_PUSH, TEAM_MEMBERS
from airflow_provider_celonis.client.error_mapping import api_error, parse_error_body, token_error
from airflow_provider_celonis.exceptions import (
    CelonisApiDisabledError,
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


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        (
            json.dumps(
                {
                    "title": "Access Denied.",
                    "status": 403,
                    "detail": "Access is denied",
                    "errorCode": "ADMIN_ACCESS_ERROR",
                }
            ),
            "Access Denied. - Access is denied [ADMIN_ACCESS_ERROR]",
        ),
        ('{"error": "invalid_scope", "error_description": "bad scope x"}', "invalid_scope: bad scope x"),
        ('{"error": "Unauthorized"}', "Unauthorized"),
        ('{"reference": "R-1", "message": "NPE", "shortMessage": "boom"}', "NPE [reference R-1]"),
        (
            '{"frontendErrorKey": "DP_TABLE_MISSING", "errorInformation": "no table"}',
            "no table [DP_TABLE_MISSING]",
        ),
        ('{"errors": [{"attribute": "keys", "error": "must not be empty"}]}', "keys: must not be empty"),
        ('[{"error": "required", "attribute": "query"}]', "Validation failed - query: required"),
        (
            '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "409", '
            '"scimType": "uniqueness",'
            ' "detail": "userName exists"}',
            "userName exists [uniqueness]",
        ),
        ("Too many requests", "Too many requests"),
        ("", "(empty body)"),
    ],
)
def test_parse_every_shape(text: str, summary: str) -> None:
    assert parse_error_body(text).summary() == summary


def _api(status: int, text: str = "", **kw: object) -> Exception:
    return api_error(
        status=status,
        body=parse_error_body(text),
        api=kw.pop("api", AUDIT_LOG),  # type: ignore[arg-type]
        scope="audit.log:read",
        method="GET",
        path="/log/api/external/audit",
        conn_id="celonis_default",
        **kw,
    )  # type: ignore[arg-type]


def test_api_error_types_and_fixes() -> None:
    problem = json.dumps(
        {
            "title": "Access Denied.",
            "status": 403,
            "detail": "Access is denied",
            "errorCode": "ADMIN_ACCESS_ERROR",
        }
    )
    err = _api(403, problem)
    assert isinstance(err, CelonisPermissionError) and not isinstance(err, CelonisApiDisabledError)
    assert err.status == 403 and err.error_code == "ADMIN_ACCESS_ERROR"
    text = str(err)
    assert "Access is denied" in text and "audit.log:read" in text and "Use Audit Log API" in text
    assert "also spell it audit.log" in text

    disabled = _api(403, "")
    assert isinstance(disabled, CelonisApiDisabledError)
    assert "not enabled for this team" in str(disabled)

    unauthorized = _api(401, '{"error": "Unauthorized"}')
    assert isinstance(unauthorized, CelonisUnauthorizedError)
    assert "scope or permission" in str(unauthorized)

    assert isinstance(_api(400, '{"errorCode": "GENERAL_PARAMETER_MISSMATCH"}'), CelonisBadRequestError)
    assert isinstance(_api(404), CelonisNotFoundError) and "api_prefixes" in str(_api(404))
    assert isinstance(_api(409), CelonisConflictError)

    limited = _api(429, "Too many", reset_in=42.0)
    assert isinstance(limited, CelonisRateLimitError) and limited.reset_in == 42.0
    assert "resets in about 42 s" in str(limited)

    server = _api(
        500,
        json.dumps({"detail": "Celonis Support ID: 123e", "errorCode": "ADMIN_FATAL_ERROR"}),
        retried=True,
    )
    assert isinstance(server, CelonisServerError)
    assert "Support ID: 123e" in str(server) and "after retries" in str(server)


def test_member_api_names_its_permission() -> None:
    assert "Use User Group Info API" in str(_api(403, '{"detail": "denied"}', api=TEAM_MEMBERS))


def _token(text: str, status: int = 400, method: str = "client_secret_post", api: object = None) -> Exception:
    return token_error(
        status=status,
        body=parse_error_body(text),
        conn_id="celonis_default",
        client_id="cid",
        auth_method=method,
        scope="audit.log:read",
        token_url="https://t/oauth2/token",
        api=api,
    )  # type: ignore[arg-type]


def test_invalid_client_names_the_other_method() -> None:
    err = _token('{"error": "invalid_client", "error_description": "Client authentication failed"}', 401)
    assert isinstance(err, CelonisInvalidClientError)
    assert "client_secret_basic" in str(err) and "Client Secret" in str(err)
    err = _token('{"error": "invalid_client"}', 401, method="client_secret_basic")
    assert "set the extra auth_method to client_secret_post" in str(err)


def test_invalid_scope_names_scope_and_where_to_add_it() -> None:
    err = _token('{"error": "invalid_scope"}', api=AUDIT_LOG)
    assert isinstance(err, CelonisInvalidScopeError)
    assert err.scopes == ("audit.log:read",)
    assert "lacks scope 'audit.log:read'" in str(err) and "Admin & Settings > Applications" in str(err)
    assert '{"audit_log": "audit.log"}' in str(err)
    assert "data_push" in str(_token('{"error": "invalid_scope"}', api=DATA_PUSH))


def test_non_oauth_answer_points_at_the_url() -> None:
    err = _token("<html>Not Found</html>", 404)
    assert type(err) is CelonisAuthenticationError
    assert "token_url" in str(err) and "team URL" in str(err)
