"""What an event watcher reads, and where its cursor lives.

Used by :mod:`airflow_provider_celonis.triggers.events`:

* :func:`read_job_history`: a data job's execution history, as far back as the cursor needs;
* the cursor stores: an Airflow Variable (durable, Airflow 3.1+) or the trigger's memory.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from airflow_provider_celonis.client.calls import unexpected_answer
from airflow_provider_celonis.waiting.event_cursor import (
    Cursor,
    FinishedRun,
    caught_up,
    job_runs,
    newest_last,
)

log = logging.getLogger(__name__)


async def read_job_history(
    hook: Any, pool_id: str, job_id: str, cursor: Cursor | None, name: str
) -> list[FinishedRun]:
    """Page 0 and the last page (the history's order is undocumented: the newest runs are on one
    of them; two GETs per quiet poll), then, from the newest end inwards, every page between
    until one reaches a run the cursor already covers, at most the hook's ``max_history_pages``
    in all. Without the pages between, more runs than a page (``history_limit``) ending between
    two polls (a burst, a triggerer down for a day) would never fire. Before the first cursor
    (``cursor`` None) the two end pages suffice: the baseline's floor covers the older ones."""
    first, count = await _page(hook, pool_id, job_id, 0)
    if count == 1:
        return first
    last, _ = await _page(hook, pool_id, job_id, count - 1)
    runs = [*first, *last]
    if cursor is None or count == 2:
        return runs
    forward = not newest_last(first, last)
    page = first if forward else last
    inner = list(range(1, count - 1) if forward else range(count - 2, 0, -1))
    budget = max(int(getattr(hook, "max_history_pages", 200)) - 2, 0)
    for read, number in enumerate(inner):
        if caught_up(cursor, page):
            return runs
        if read == budget:
            log.warning(
                "Watcher %s: %d of %d history pages read without reaching a run already handled; "
                "runs further back are not fired (raise hook_params max_history_pages or history_limit).",
                name,
                read + 2,
                count,
            )
            return runs
        page, _ = await _page(hook, pool_id, job_id, number)
        runs += page
    return runs


async def _page(hook: Any, pool_id: str, job_id: str, number: int) -> tuple[list[FinishedRun], int]:
    """One history page as runs, and the number of pages; a page without its items list fails
    closed (read as "no runs", it would hide the runs on it)."""
    call = hook.history_call(pool_id, job_id, number)
    answer = await hook.acall(call)
    items = answer.get("executionItems") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        raise unexpected_answer(
            "Data Job Execution API",
            "GET",
            call.path,
            f"page {number} has no executionItems list",
            answer,
            "The watcher cannot tell which runs ended",
        )
    try:
        count = max(int(answer.get("numOfPages") or 1), 1)
    except (TypeError, ValueError):
        count = 1
    return job_runs(items), count


# -- where the cursor lives ----------------------------------------------------------------------
class CursorStore(Protocol):
    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str) -> None: ...


class VariableCursorStore:
    """Airflow Variables, read and written from the triggerer (Airflow 3.1+), off the event loop."""

    async def get(self, key: str) -> str | None:
        from airflow.sdk import Variable
        from asgiref.sync import sync_to_async

        value = await sync_to_async(Variable.get)(key, default=None)
        return None if value is None or value == "" else str(value)

    async def set(self, key: str, value: str) -> None:
        from airflow.sdk import Variable
        from asgiref.sync import sync_to_async

        description = "airflow-provider-celonis event watcher: the Celonis runs it already handled"
        await sync_to_async(Variable.set)(key, value, description=description)


class MemoryCursorStore:
    """The cursor in the trigger instance only: lost on a restart (then rebuilt as a baseline)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value
