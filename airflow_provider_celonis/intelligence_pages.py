"""The one paginator of the Intelligence APIs' page lists (Knowledge Model, Event Subscription).

Those lists answer ``{content, page, pageSize, total, sort}`` with a 0-based ``page``
(shared/celonis-api.md, paging table). Pages are asked for until one comes back empty or the
items seen reach ``total``; a server that never stops (a ``total`` that keeps growing, a
``page`` parameter it ignores) fails the task after ``max_pages`` instead of running forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from airflow_provider_celonis.exceptions import CelonisError

__all__ = ["MAX_PAGES", "intelligence_pages"]

MAX_PAGES = 100_000


def intelligence_pages(
    fetch: Callable[[int], Any], *, what: str, max_pages: int = MAX_PAGES
) -> Iterator[tuple[dict[str, Any], list[Any]]]:
    """``(body, content)`` of page 0, 1, ... (``fetch(number)`` returns a page's decoded body).

    Stops after an empty page or once the items seen reach the page's ``total``; the caller may
    stop earlier by leaving the loop. Raises :class:`CelonisError` naming ``what`` when
    ``max_pages`` pages came and the list had not ended.
    """
    seen = 0
    for number in range(max_pages):
        body = fetch(number) or {}
        if not isinstance(body, dict):
            body = {}
        content = body.get("content") or []
        yield body, content
        seen += len(content)
        total = body.get("total")
        if not content or (isinstance(total, int) and seen >= total):
            return
    raise CelonisError(
        f"{what} did not end after {max_pages} pages ({seen} items; the server's total keeps "
        "growing or it ignores the page parameter).",
        fix="check the listing in Celonis; narrow the query or raise the page size",
    )
