"""Page shapes of the provider's own paged APIs: the Intelligence page lists and SCIM listings.

The Intelligence lists (Knowledge Model, Event Subscription) answer ``{content, page,
pageSize, total, sort}`` with a 0-based ``page`` (docs/celonis-api.md, paging table). Pages are
asked for until one comes back empty or the items seen reach ``total``; an empty page before the
items seen reach ``total`` is an error (the list came short), never a silent end. Every page is checked
before its items are used: a body that is not JSON (an HTML error page, a truncated answer), a
list field that is missing or not a list, and a page that repeats the previous one (the server
ignores ``page``: a page whose own ``page`` number is another, or, without that number, whose
items are the previous page's) are :class:`CelonisUnexpectedResponseError` naming the API, the status, the
content type and the first bytes (secrets scrubbed), never a loop, a silent stop or an empty
file. A server that never stops fails after ``max_pages``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_provider_celonis.exceptions import CelonisError, CelonisUnexpectedResponseError, response_excerpt

__all__ = [
    "MAX_PAGES",
    "Answer",
    "decode_json",
    "intelligence_pages",
    "page_list",
    "read_answer",
    "unexpected",
]

MAX_PAGES = 100_000


@dataclass
class Answer:
    """A decoded 200 with what an error about it must name: its status and content type."""

    body: Any
    status: int = 200
    content_type: str | None = None


def read_answer(response: Any, *, what: str, method: str, path: str) -> Answer:
    """:func:`decode_json` of a ``requests`` response, keeping its status and content type."""
    body = decode_json(response, what=what, method=method, path=path)
    return Answer(body, response.status_code, response.headers.get("Content-Type"))


def unexpected(
    what: str, problem: str, *, method: str, path: str, status: int, content_type: str | None, raw: Any
) -> CelonisUnexpectedResponseError:
    """The typed error for an answer the provider does not understand, with its first bytes."""
    excerpt = response_excerpt(raw if isinstance(raw, (bytes, str)) else json.dumps(raw, default=str))
    return CelonisUnexpectedResponseError(
        f"{what}: {method} {path.split('?')[0]} answered HTTP {status} ({content_type or 'no content type'}) "
        f"but {problem}. First bytes: {excerpt!r}.",
        status=status,
        method=method,
        path=path.split("?")[0],
        content_type=content_type,
        excerpt=excerpt,
        fix="nothing was written for this answer; re-run, and if it repeats, report the response to Celonis "
        "support (a proxy or gateway in between may be answering instead)",
    )


def decode_json(response: Any, *, what: str, method: str, path: str) -> Any:
    """The JSON body of a ``requests`` response, or :func:`unexpected` if it is not JSON."""
    raw: bytes = response.content or b""
    content_type = response.headers.get("Content-Type")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        problem = "the body is not JSON (an HTML page, or an answer cut short)"
        raise unexpected(
            what,
            problem,
            method=method,
            path=path,
            status=response.status_code,
            content_type=content_type,
            raw=raw,
        ) from None


def page_list(
    body: Any,
    field: str,
    *,
    what: str,
    method: str,
    path: str,
    status: int = 200,
    content_type: str | None = None,
) -> list[Any]:
    """``body[field]`` when it is a list; a missing or non-list field is :func:`unexpected`."""
    if isinstance(body, dict) and isinstance(body.get(field), list):
        return list(body[field])
    problem = (
        f"the body is a JSON {type(body).__name__}, not an object"
        if not isinstance(body, dict)
        else f"its '{field}' list is missing"
        if field not in body
        else f"its '{field}' is a {type(body[field]).__name__}, not a list"
    )
    raise unexpected(
        what, problem, method=method, path=path, status=status, content_type=content_type, raw=body
    )


def identities(items: list[Any]) -> list[Any]:
    """What tells a page's items apart: their ``id`` (or offset), else the whole item."""
    keys: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            ident = item.get("id", item.get("offset"))
            keys.append(ident if ident is not None else json.dumps(item, sort_keys=True, default=str))
        else:
            keys.append(json.dumps(item, default=str))
    return keys


def intelligence_pages(
    fetch: Callable[[int], Any], *, what: str, max_pages: int = MAX_PAGES, path: str = "", method: str = "GET"
) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """``(body, content)`` of page 0, 1, ... (``fetch(number)`` returns a page's decoded body, or
    an :class:`Answer` so that errors name its status and content type).

    Stops after an empty page or once the items seen reach the page's ``total``; the caller may
    stop earlier by leaving the loop. Raises :class:`CelonisUnexpectedResponseError` for a page
    without a ``content`` list or one that repeats the previous page, and :class:`CelonisError`
    naming ``what`` when ``max_pages`` pages came and the list had not ended.
    """
    seen, previous, echoes = 0, None, False
    for number in range(max_pages):
        answer = fetch(number)
        if not isinstance(answer, Answer):
            answer = Answer(answer)
        body, status, content_type = answer.body, answer.status, answer.content_type
        content = page_list(
            body,
            "content",
            what=what,
            method=method,
            path=path or what,
            status=status,
            content_type=content_type,
        )
        keys = identities(content)
        echoed = body.get("page")
        if not isinstance(echoed, int) or isinstance(echoed, bool):
            echoed = None
        if number == 0:
            echoes = echoed == 0  # trust the page's own number only if it counts as we do (0-based)
        if echoes and echoed is not None:
            # the page says which it is: identical rows on two pages (one low-cardinality column,
            # sorted) are data, and only a page answering for another number is a repeat
            repeated, seen_as = echoed != number, echoed
        else:
            repeated, seen_as = bool(content) and keys == previous, number - 1
        if repeated:
            raise unexpected(
                what,
                f"page {number} repeats page {seen_as} ({len(content)} items): the server "
                "ignores the page parameter, so reading on would loop and stopping would lose data",
                method=method,
                path=path or what,
                raw=body,
                status=status,
                content_type=content_type,
            )
        previous = keys
        yield body, content
        seen += len(content)
        total = body.get("total")
        if not content and isinstance(total, int) and not isinstance(total, bool) and seen < total:
            # the list ended short of its own count: items went missing, the end is not proven
            raise unexpected(
                what,
                f"page {number} is empty while {seen} items came but the server counted {total}",
                method=method,
                path=path or what,
                raw=body,
                status=status,
                content_type=content_type,
            )
        if not content or (isinstance(total, int) and seen >= total):
            return
    raise CelonisError(
        f"{what} did not end after {max_pages} pages ({seen} items; the server's total keeps "
        "growing or it ignores the page parameter).",
        fix="check the listing in Celonis; narrow the query or raise the page size",
    )
