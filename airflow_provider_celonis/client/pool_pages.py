"""What a listing of the integration service must look like before a name is matched against it.

A list answer (pools, jobs, tasks, data models, tables) must list objects with an id each
(:func:`checked_list`); the paged pool list stops on an empty page, refuses a page that repeats
the one before (:class:`PoolPages`), and is read until two complete reads list the same pools
(:class:`PoolReads`). Anything else fails closed with
:func:`~airflow_provider_celonis.client.calls.unexpected_answer`: a name resolved against part
of a list could pick the wrong object. Used by
:class:`~airflow_provider_celonis.hooks.data_pools.CelonisDataPoolHook`, sync and async alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_provider_celonis.client.calls import Call, unexpected_answer
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisUnexpectedResponseError

__all__ = ["READS", "PoolPages", "PoolReads", "checked_list"]


def _unexpected(call: Call, problem: str, answer: Any) -> CelonisUnexpectedResponseError:
    return unexpected_answer(
        "integration API",
        call.method,
        call.path,
        problem,
        answer,
        "Without the whole list the provider cannot tell which object a name means",
    )


def checked_list(call: Call, answer: Any, what: str, *, required: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``answer`` as a list of objects, each with an ``id`` (text or number), a ``name`` that is
    text or null, and the ``required`` text fields; anything else fails closed."""
    if not isinstance(answer, list):
        raise _unexpected(call, f"the {what} are not a list", answer)
    items: list[dict[str, Any]] = []
    names: dict[str, Any] = {}
    for item in answer:
        id_ = item.get("id") if isinstance(item, dict) else None
        ok = isinstance(id_, (str, int)) and not isinstance(id_, bool) and str(id_).strip()
        if not ok or not isinstance(item.get("name"), (str, type(None))):
            raise _unexpected(call, f"it lists one of the {what} without an id or with a non-text name", item)
        if missing := [f for f in required if not isinstance(item.get(f), str)]:
            raise _unexpected(call, f"it lists one of the {what} without {missing[0]}", item)
        if names.setdefault(str(id_), item.get("name")) != item.get("name"):  # which one is it?
            raise _unexpected(call, f"it lists {id_} twice, with two names", item)
        items.append(item)
    return items


READS = 3
"""Complete reads of the paged pool list before one that changes every time fails closed."""


class PoolPages:
    """The paged pool list read page by page (one policy for the sync and async loops)."""

    def __init__(self, max_pages: int) -> None:
        self.items: list[dict[str, Any]] = []
        self.number = 0
        self.max_pages = max_pages
        self.shifted = False
        """A pool was listed on two pages: the list moved under this read."""
        self._previous: list[str] | None = None
        self._seen: set[str] = set()

    def take(self, call: Call, answer: Any) -> bool:
        """Add one page; True when another page must be read."""
        content = answer.get("content") if isinstance(answer, dict) else None
        if not isinstance(content, list):
            raise _unexpected(call, f"page {self.number} has no content list", answer)
        items = checked_list(call, content, "data pools")
        if not items:
            return False
        ids = [str(i["id"]) for i in items]
        if ids == self._previous:
            raise _unexpected(
                call, f"page {self.number} repeats page {self.number - 1} (is 'page' ignored?)", ids
            )
        self.shifted = self.shifted or not self._seen.isdisjoint(ids) or len(set(ids)) < len(ids)
        self._seen.update(ids)
        self._previous, self.number = ids, self.number + 1
        self.items += items
        if self.number >= self.max_pages:
            raise CelonisConfigurationError(
                "max_pages",
                f"is {self.max_pages}, but the paged pool list did not end within {self.max_pages} pages",
                "raise max_pages (or page_size) of CelonisDataPoolHook",
            )
        return True


class PoolReads:
    """Complete reads of the paged list until two in a row list the same pools.

    The list is paged by position: a pool created before the read's position moves every later
    pool one place down (one is read twice, the new one never), a pool deleted moves them up
    (one is never read). Neither is visible in one read, and a name matched against it can miss
    the twin that makes it ambiguous. Two consecutive reads without a repeated pool that list
    the same ids were not disturbed (a change during the second shows as a difference). A list
    that changes during :data:`READS` reads fails closed. Cost: one extra read when nothing
    changes (``GET /pools``, one answer, needs none).
    """

    def __init__(self, max_pages: int) -> None:
        self.max_pages = max_pages
        self.pages = PoolPages(max_pages)
        self.items: list[dict[str, Any]] = []
        self.reads = 0
        self._previous: set[str] | None = None

    @property
    def number(self) -> int:
        """The page to ask for next."""
        return self.pages.number

    def take(self, call: Call, answer: Any) -> bool:
        """Add one page; True when another page (of this read or the next) must be read."""
        if self.pages.take(call, answer):
            return True
        ids = {str(i["id"]) for i in self.pages.items}
        if not self.pages.shifted and ids == self._previous:
            self.items = self.pages.items
            return False
        self.reads += 1
        if self.reads >= READS:
            raise _unexpected(
                call, f"the paged pool list changed while it was read, {self.reads} times", sorted(ids)
            )
        self._previous = None if self.pages.shifted else ids
        self.pages = PoolPages(self.max_pages)
        return True
