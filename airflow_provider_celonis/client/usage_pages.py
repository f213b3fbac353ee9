"""Page shapes of the usage APIs: what a page must look like before its records are trusted.

A 200 is not proof of a page. A proxy's login page, a body cut by a dropped connection, a
renamed list field or a server that ignores ``pageNumber`` all answer 200; a client that
takes them at face value writes an empty file (and succeeds) or loops over the same page
forever. :class:`PageCheck` judges every page of one listing and raises
:class:`~airflow_provider_celonis.exceptions.CelonisUnexpectedResponseError` (API, status,
content type and the first bytes, secrets scrubbed) for anything it does not understand, so
the extract fails before it writes anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import msgspec

from airflow_provider_celonis.client.apis import CelonisApi
from airflow_provider_celonis.exceptions import CelonisUnexpectedResponseError, response_excerpt

LIST_FIELD = "content"
"""Every usage API (and Team Members) puts a page's records in ``content``."""


@dataclass(frozen=True)
class RawPage:
    """One answer as received: enough to judge it and to describe it in an error."""

    status: int
    content_type: str
    body: bytes


def decode_json(raw: bytes) -> Any:
    """Decode a page: msgspec (an Airflow 3 dependency, about twice as fast as :mod:`json`),
    falling back to :mod:`json` for what only it accepts (``NaN`` and ``Infinity`` tokens)."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return json.loads(raw)


@dataclass
class PageCheck:
    """Judges the pages of one listing in order; one instance per listing."""

    api: CelonisApi
    path: str
    fix: str = "retry later; if it persists, report the answer to Celonis support"
    _previous: list[Any] = field(default_factory=list, init=False)
    _number: int = field(default=0, init=False)

    def fail(self, page: RawPage, problem: str, fix: str | None = None) -> CelonisUnexpectedResponseError:
        excerpt = response_excerpt(page.body)
        return CelonisUnexpectedResponseError(
            f"{self.api.title} answered GET {self.path} (page {self._number}) with {page.status} "
            f"({page.content_type or 'no content type'}) but {problem}; first bytes: {excerpt!r}. "
            "Nothing was written.",
            status=page.status,
            method="GET",
            path=self.path,
            content_type=page.content_type or None,
            excerpt=excerpt,
            fix=fix or self.fix,
        )

    def _repeats(self, content: list[Any]) -> bool:
        """Same records as the previous page, in any order. Cheap on the usual path: a page whose
        first record is not on the previous page is not a repeat (a few dict comparisons)."""
        previous = self._previous
        if len(content) != len(previous) or content[0] not in previous:
            return False
        if content == previous:
            return True

        def digest(items: list[Any]) -> list[bytes]:
            return sorted(msgspec.json.encode(item) for item in items)

        return digest(content) == digest(previous)

    def records(self, page: RawPage, *, requested_number: int | None = None) -> tuple[list[Any], Any]:
        """The page's records and its decoded body; an empty list on a 204 (past the end).

        Raises for a body that is not a JSON object, a missing or non-list ``content``, a
        ``pageNumber`` other than the one asked for, or records identical to the previous page's.
        """
        try:
            if page.status == 204:
                return [], None
            if not page.body.strip():
                raise self.fail(page, "an empty body (only a 204 may end a listing without one)")
            try:
                body = decode_json(page.body)
            except ValueError:
                raise self.fail(page, "the body is not JSON (an HTML page, or JSON cut short)") from None
            if not isinstance(body, dict):
                raise self.fail(page, f"the body is a JSON {type(body).__name__}, not an object")
            if LIST_FIELD not in body:
                raise self.fail(
                    page,
                    f"it has no '{LIST_FIELD}' list (fields: {sorted(body)[:8]})",
                    "check api_prefixes and the API version; the API may have changed its page shape",
                )
            content = body[LIST_FIELD]
            if not isinstance(content, list):
                raise self.fail(page, f"'{LIST_FIELD}' is a {type(content).__name__}, not a list")
            answered = body.get("pageNumber")
            if requested_number is not None and isinstance(answered, int) and answered != requested_number:
                raise self.fail(
                    page,
                    f"it is page {answered}, not the page {requested_number} asked for: the server "
                    "ignores pageNumber, so paging would never end or stop early",
                    "check the paging parameter names (param_names) or pull with api_version=2",
                )
            if content and self._repeats(content):
                raise self.fail(
                    page,
                    "it repeats the previous page record for record: the server ignores the "
                    "page number or cursor, so paging would never end",
                    "check the paging parameter names (param_names) or the API version; rerun the task",
                )
            self._previous = content
            return content, body
        finally:
            self._number += 1  # messages name the page being judged, counted from 0
