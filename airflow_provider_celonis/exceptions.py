"""Typed exceptions for everything that can go wrong between Airflow and Celonis.

Each exception keeps what a caller needs to decide (the HTTP status, Celonis's own error
code and message) and its text ends with what to do about it, because the person reading it
is usually an on-call engineer looking at a failed task log, not the DAG author.

None of these messages ever contains a client secret, an access token or an API key: they
are built from the connection id, the request path and Celonis's error body only.
"""

from __future__ import annotations

import re

from airflow.exceptions import AirflowException


class CelonisError(AirflowException):
    """Base class of all errors raised by this provider."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.fix = fix
        full = f"{message} Fix: {fix}" if fix else message
        super().__init__(full)


class CelonisConfigurationError(CelonisError, ValueError):
    """Bad input, found before any network call: a connection field or operator argument."""

    def __init__(self, field: str, problem: str, fix: str, *, where: str | None = None) -> None:
        self.field = field
        self.problem = problem
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}'{field}' {problem}.", fix=fix)


class CelonisAuthenticationError(CelonisError):
    """The OAuth token endpoint refused to issue a token."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None,
        error: str | None = None,
        error_description: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.error_description = error_description
        super().__init__(message, fix=fix)


class CelonisInvalidClientError(CelonisAuthenticationError):
    """Wrong client ID or secret, or the client authenticates with the other method."""


class CelonisInvalidScopeError(CelonisAuthenticationError):
    """The OAuth client is not allowed one of the requested scopes."""

    def __init__(self, message: str, *, scopes: tuple[str, ...] = (), **kwargs: object) -> None:
        self.scopes = scopes
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class CelonisApiError(CelonisError):
    """A Celonis API answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str,
        path: str,
        error_code: str | None = None,
        detail: str | None = None,
        title: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.error_code = error_code
        self.detail = detail
        self.title = title
        super().__init__(message, fix=fix)


class CelonisBadRequestError(CelonisApiError):
    """400 or 422: Celonis rejected a parameter or the body."""


class CelonisUnauthorizedError(CelonisApiError):
    """401 even after a fresh token: scope or permission missing, or the key was revoked."""


class CelonisPermissionError(CelonisApiError):
    """403: the OAuth client lacks the scope or the Celonis permission."""


class CelonisApiDisabledError(CelonisPermissionError):
    """403 with an empty body: the API is not enabled for the team."""


class CelonisNotFoundError(CelonisApiError):
    """404: wrong id, or the path does not exist on this team."""


class CelonisConflictError(CelonisApiError):
    """409: the object is busy (e.g. a job already running, a conversation in flight)."""


class CelonisRateLimitError(CelonisApiError):
    """429 that outlasted the hook's retries."""

    def __init__(self, message: str, *, reset_in: float | None = None, **kwargs: object) -> None:
        self.reset_in = reset_in
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class CelonisServerError(CelonisApiError):
    """5xx that outlasted the hook's retries."""


class CelonisTransportError(CelonisError):
    """The request never got an HTTP answer (connection refused, reset, timed out)."""


class CelonisRequestMaybeSentError(CelonisTransportError):
    """A non-idempotent request failed after it may have reached Celonis.

    The hook does not replay such requests (starting a job twice is worse than failing);
    the caller must look at the remote state instead.
    """


# -- data jobs and data model loads --------------------------------------------------
class CelonisJobFailedError(CelonisError):
    """A data job execution or data model load ended in FAIL, CANCEL, ERROR, CANCELED or an unknown status.

    ``error_lines`` holds Celonis's own ERROR log lines of the execution (possibly empty),
    which are also in the message: they are what the on-call engineer needs first.
    """

    def __init__(
        self,
        message: str,
        *,
        status: str | None = None,
        execution_id: str | None = None,
        error_lines: list[str] | None = None,
        fix: str | None = None,
    ) -> None:
        self.status = status
        self.execution_id = execution_id
        self.error_lines = list(error_lines or [])
        if self.error_lines:
            message += " Celonis error log: " + " | ".join(self.error_lines)
        super().__init__(message, fix=fix)


class CelonisJobTimeoutError(CelonisError):
    """The wait passed its wall-clock ``timeout``.

    ``cancelled`` tells whether the remote run was cancelled.
    """

    def __init__(
        self,
        message: str,
        *,
        execution_id: str | None = None,
        cancelled: bool = False,
        fix: str | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.cancelled = cancelled
        super().__init__(message, fix=fix)


class CelonisJobAlreadyRunningError(CelonisError):
    """The job was already QUEUED or RUNNING and the operator was told not to reuse that execution."""


# -- responses the provider did not understand (page shapes) ----------------------------------
_SECRET_IN_TEXT = re.compile(
    r"(?i)(bearer\s+|appkey\s+|\"?(?:access_token|refresh_token|client_secret|password|api_?key|token)\"?"
    r"\s*[:=]\s*\"?)[^\s\"',&}]+"
)


def response_excerpt(raw: bytes | str, limit: int = 160) -> str:
    """The first ``limit`` characters of a response body for an error message, secrets scrubbed.

    Anything that looks like a credential (``Bearer ...``, ``"access_token": "..."``,
    ``client_secret=...``) becomes ``***``, so an error page that echoes a request is safe to log.
    """
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    head = _SECRET_IN_TEXT.sub(lambda m: f"{m.group(1)}***", text[: limit * 2])
    return head[:limit] + ("..." if len(text) > limit else "")


class CelonisUnexpectedResponseError(CelonisApiError):
    """A successful status whose body the provider cannot trust: not JSON, truncated, without its
    list field, or a page that repeats the previous one. Nothing is written for such an answer.

    ``content_type`` and ``excerpt`` (the first bytes, secrets scrubbed) say what came instead.
    """

    def __init__(
        self, message: str, *, content_type: str | None = None, excerpt: str = "", **kwargs: object
    ) -> None:
        self.content_type = content_type
        self.excerpt = excerpt
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


# -- hostile answers: redirects -----------------------------------------------------
class CelonisRedirectError(CelonisTransportError):
    """A redirect the hook refused to follow: any redirect of the token endpoint (it would re-send
    the client secret), and a redirect of an API call to another origin (it would carry the
    Authorization header there) or of a request that is not a read.

    ``status`` is the 3xx status and ``target`` the redirect target, userinfo and query removed.
    """

    def __init__(self, message: str, *, status: int, target: str, fix: str | None = None) -> None:
        self.status = status
        self.target = target
        super().__init__(message, fix=fix)


# -- Process Intelligence: a failed-events page whose answer was lost ---------------------------
class CelonisEventsMayBeLostError(CelonisError):
    """A ``PATCH .../events`` got no answer the provider could read, after Celonis may have moved
    its cursor past a page: that page's events may be in no file.

    ``pages`` lists the pages read for certain (``{"events", "first_offset", "last_offset"}``);
    ``replay_from`` is the offset to replay the subscription from (one past the last event read
    for certain), or ``None`` when no event with an offset was read before the loss.
    """

    def __init__(
        self,
        message: str,
        *,
        subscription_id: str,
        pages: list[dict[str, object]],
        replay_from: int | None,
        fix: str | None = None,
    ) -> None:
        self.summary = message
        self.subscription_id = subscription_id
        self.pages = pages
        self.replay_from = replay_from
        super().__init__(message, fix=fix)


# -- Names instead of ids: a name that matches no object, or several ------------------------------
class CelonisNameError(CelonisConfigurationError):
    """A name given instead of an id (``data_pool_name=`` ...) matches no object, or several.

    Raised before anything is started. ``candidates`` holds ``(name, id)`` pairs: those of the
    ambiguous match, or (for a missing name) what Celonis listed, so the message can show them;
    ``ambiguous`` tells the two cases apart.
    """

    def __init__(
        self,
        field: str,
        problem: str,
        fix: str,
        *,
        candidates: list[tuple[str, str]],
        ambiguous: bool,
        where: str | None = None,
    ) -> None:
        self.candidates = candidates
        self.ambiguous = ambiguous
        super().__init__(field, problem, fix, where=where)
