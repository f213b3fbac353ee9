"""Error answers shaped like Celonis's own (docs/celonis-api.md 1.5)."""

from __future__ import annotations

import uuid

from fastapi.responses import JSONResponse, PlainTextResponse, Response

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Access Denied.",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def problem(
    status: int, detail: str, error_code: str, title: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The common catalogue envelope ``{title, status, detail, errorCode}``."""
    return JSONResponse(
        {
            "title": title or TITLES.get(status, "Error"),
            "status": status,
            "detail": detail,
            "errorCode": error_code,
        },
        status_code=status,
        headers=headers,
    )


def unauthorized() -> JSONResponse:
    return JSONResponse({"error": "Unauthorized"}, status_code=401)


def malformed_authorization() -> PlainTextResponse:
    return PlainTextResponse(
        'Invalid "Authorization" header format. '
        'It should start with "Bearer " or "AppKey " (case insensitive)',
        status_code=401,
    )


def access_denied() -> JSONResponse:
    return problem(403, "Access is denied", "ADMIN_ACCESS_ERROR")


def api_disabled() -> Response:
    return Response(status_code=403)


def bad_parameter(detail: str) -> JSONResponse:
    return problem(400, detail, "GENERAL_PARAMETER_MISSMATCH")


def not_found_path(path: str) -> JSONResponse:
    return problem(404, f"No endpoint {path}", "GENERAL_NOTFOUND_PATH")


def server_fault() -> JSONResponse:
    return problem(
        500, f"An unexpected error occurred. Celonis Support ID: {uuid.uuid4()}", "ADMIN_FATAL_ERROR"
    )


def oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )
