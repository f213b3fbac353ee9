"""Timestamps as Celonis writes them, turned into a form whose string order is time order.

Kept apart from the hook (no Airflow or HTTP imports) because the operators call it for
every record, and a cheap import at module level beats an import statement in a hot loop.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def timestamp_ms(value: Any) -> int | None:
    """Milliseconds since the epoch of an ISO 8601 timestamp as Celonis writes it; None if unparseable."""
    if not isinstance(value, str) or not value:
        return None
    text = value[:-1] + "+00:00" if value[-1] in "Zz" else value
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return (int(when.timestamp()) * 1000) + when.microsecond // 1000


def canonical_ts(value: Any) -> str | None:
    """A timestamp as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC), whose string order is time order.

    Celonis already writes that form, so the common case costs a few string checks; any
    other ISO 8601 form is parsed and rewritten. None when absent or unparseable.
    """
    if (
        isinstance(value, str)
        and len(value) == 24
        and value[23] == "Z"
        and value[19] == "."
        and value[10] == "T"
    ):
        return value
    ms = timestamp_ms(value)
    if ms is None:
        return None
    when = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
