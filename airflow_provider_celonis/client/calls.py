"""One description per Celonis endpoint: :class:`Call`, sent by ``call``/``acall`` of the base hook.

A hook's endpoint method is one line: build a :class:`Call` (API, method, path template, ids,
query, body) and hand it to :meth:`CelonisOAuthHook.call` (workers) or ``acall`` (triggers). Both
go through the same request core, so sync and async see the same token, retry policy, typed errors
and answer checks. Every id is percent-encoded as one path segment here, in one place: an id
holding ``/``, ``?``, ``#`` or ``..`` reaches the endpoint it was meant for (and gets that
endpoint's 404) instead of another endpoint of the API. An id that is empty, ``.`` or ``..``
cannot be one segment at all (``requests`` and ``aiohttp`` resolve dot segments before sending,
and an empty id names the collection), so it is a
:class:`~airflow_provider_celonis.exceptions.CelonisConfigurationError` before any request.

The answer is decoded once, by :func:`decode`:

- a GET must answer JSON (an empty body is ``None``); anything else is a
  :class:`~airflow_provider_celonis.exceptions.CelonisUnexpectedResponseError` naming the path,
  content type and first bytes, never a raw ``JSONDecodeError``;
- a write whose answer is read (``reads_answer=True``, e.g. a create that returns the new id)
  is decoded the same way, except that a body that is not JSON is
  :class:`~airflow_provider_celonis.exceptions.CelonisRequestMaybeSentError`: Celonis may have
  acted, so the caller reads the state back;
- a write whose answer is undocumented is never read: an HTML 200 (a proxy's page) is
  :class:`~airflow_provider_celonis.exceptions.CelonisRequestMaybeSentError`, anything else
  ``None``, so a change in an undocumented body cannot fail a write that happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_celonis.client.apis import CelonisApi
from airflow_provider_celonis.client.paths import path_id
from airflow_provider_celonis.exceptions import (
    CelonisApiError,
    CelonisConfigurationError,
    CelonisError,
    CelonisRequestMaybeSentError,
    CelonisUnexpectedResponseError,
    response_excerpt,
)

__all__ = ["Call", "decode", "reworded", "said", "scrubbed", "segment", "unexpected_answer"]

DOT_SEGMENTS = (".", "..")
"""Ids that no encoding keeps in their own segment: clients resolve them (also as ``%2E``,
which ``requests`` and ``yarl`` decode first) as "this" or "the parent" path."""


def segment(name: str, value: Any) -> str:
    """``value`` as one percent-encoded path segment; a dot segment or empty id is refused, and so
    is a value that is not one id: ``None`` (an XCom that came back empty) would be sent as the id
    ``None``, a list as ``['a']``."""
    if value is None or isinstance(value, (bool, list, tuple, set, frozenset, dict)):
        raise CelonisConfigurationError(
            name,
            f"is {value!r} ({type(value).__name__}), not one id",
            "give one id, as a string (check the XCom or template that produced it)",
        )
    text = str(value)
    if text in DOT_SEGMENTS or not text.strip():  # a blank id names the collection
        raise CelonisConfigurationError(
            name,
            f"is {text!r}, which cannot be sent as one URL path segment (it would address another endpoint)",
            "give the id as Celonis shows it",
        )
    return path_id(text)


@dataclass(frozen=True)
class Call:
    """One request to a Celonis API.

    ``template`` names its ids in braces (``/api/pools/{pool_id}/jobs/{job_id}``); ``ids`` gives
    their values, each percent-encoded as one path segment. ``kwargs`` go to the transport as
    they are (``params``, ``json``, ``data``, ``headers``...). ``idempotent`` overrides the
    method's default (a POST that is safe to repeat, such as a cancel). ``reads_answer``: whether
    a write's answer body is decoded (GETs always are). ``secrets``: values the call sends that
    the hook does not know (a subscription's webhook URI and callback headers), scrubbed from
    every error of the call as the client secret and tokens are: an error body may echo the
    request.
    """

    api: CelonisApi | str
    method: str
    template: str
    ids: Mapping[str, Any] = field(default_factory=dict)
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    idempotent: bool | None = None
    reads_answer: bool = False
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def path(self) -> str:
        """The path with every id percent-encoded (``a/b`` -> ``a%2Fb``)."""
        return self.template.format(**{name: segment(name, value) for name, value in self.ids.items()})

    @property
    def decodes(self) -> bool:
        return self.method.upper() == "GET" or self.reads_answer


def decode(call: Call, body: bytes | str, content_type: str | None) -> Any:
    """The answer of ``call`` as JSON (``None`` for an empty body), by the rules of the module.

    JSON is parsed from the bytes (UTF-8, a BOM or UTF-16/32 detected, as RFC 8259 says), never
    from text decoded by a guessed charset: ``requests`` reads an unlabelled ``text/plain``
    body as Latin-1 ('Zürich' became 'ZÃ¼rich' on the sync path only)."""
    method = call.method.upper()
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if not call.decodes:
        if "html" in (content_type or "").lower():  # a proxy's or login page: not Celonis's answer
            raise CelonisRequestMaybeSentError(
                f"{method} {call.path} was answered with a 200 HTML page "
                f"({response_excerpt(text, 80)!r}), not by Celonis; whether Celonis acted is unknown",
                fix="check proxies between Airflow and Celonis",
            )
        return None
    if not text.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:  # UnicodeDecodeError included
        excerpt = response_excerpt(text)
        if method != "GET":
            raise CelonisRequestMaybeSentError(
                f"Celonis answered {method} {call.path} with 2xx ({content_type or 'no content type'}) "
                f"but the body is not JSON (truncated, or a login or proxy page; first bytes: "
                f"{excerpt!r}). Whether Celonis acted is unknown.",
                fix="check in Celonis whether it acted, and proxies between Airflow and Celonis",
            ) from None
        raise CelonisUnexpectedResponseError(
            f"Celonis answered {method} {call.path} with 2xx ({content_type or 'no content type'}) but "
            f"the body is not JSON (truncated, or a login or proxy page); first bytes: {excerpt!r}.",
            status=200,
            method=method,
            path=call.path,
            content_type=content_type,
            excerpt=excerpt,
            fix="retry later; if it persists, check proxies between Airflow and Celonis",
        ) from None


def unexpected_answer(
    api_title: str, method: str, path: str, problem: str, answer: Any, consequence: str
) -> CelonisUnexpectedResponseError:
    """A JSON answer whose shape the provider does not understand, failing closed.

    ``problem`` says what is wrong ("has no executionItems list"), ``consequence`` why the
    provider stops instead of guessing ("it cannot tell which executions exist").
    """
    excerpt = response_excerpt(json.dumps(answer, default=str))
    return CelonisUnexpectedResponseError(
        f"Celonis {api_title} answered {method} {path} with 200 but {problem}; first bytes: "
        f"{excerpt!r}. {consequence}, so it stops (failing closed).",
        status=200,
        method=method,
        path=path,
        content_type="application/json",
        excerpt=excerpt,
        fix="retry later; if it persists, the endpoint changed: report it",
    )


def said(err: CelonisError) -> str:
    """What ``err`` says without its ``Fix:`` part, to build on in :func:`reworded` (which gives
    the new fix): one error, one fix."""
    text, suffix = str(err), f" Fix: {err.fix}"
    return text[: -len(suffix)] if err.fix and text.endswith(suffix) else text


def reworded(err: CelonisApiError, message: str, fix: str) -> CelonisApiError:
    """``err`` again, same type and fields, saying what it means for one endpoint (``explain``).

    A copy of every field (a 429's ``reset_in``, an odd answer's ``content_type`` and
    ``excerpt``...), not a new error from the base fields: a caller waiting out a 429 or
    reporting what came instead reads them. ``err`` itself is left as it was."""
    again = type(err).__new__(type(err))
    again.__dict__.update(vars(err))
    again.fix = fix
    again.args = (f"{message} Fix: {fix}" if fix else message,)
    return again


def scrubbed(err: CelonisError, scrub: Callable[[str], str]) -> CelonisError:
    """``err`` with ``scrub`` applied to its message and every text field, in place.

    For errors quoting a 2xx body (:func:`decode`, the readers of ``call_response``): a proxy's
    or login page may echo the request, the bearer token or client secret bare, which the
    generic pattern of :func:`~airflow_provider_celonis.exceptions.response_excerpt` cannot
    recognise; the hook knows its secrets. In place, so ``raise`` keeps the traceback and no
    unscrubbed copy stays chained to it."""
    err.args = tuple(scrub(a) if isinstance(a, str) else a for a in err.args)
    for name, value in vars(err).items():
        if isinstance(value, str):
            setattr(err, name, scrub(value))
    return err
