"""Checks of numeric arguments, shared by connection extras, hook and operator arguments.

Every number a user gives (a timeout, a poll interval, a count of attempts) is checked
here before any network call, so a typo fails with the field's name and the fix instead
of a raw ``ValueError`` after a job was started, a busy poll loop, or no timeout at all.
Pure functions, no I/O: operators call them in ``__init__`` for arguments that are not
templated, and in ``execute`` for the ones that are.

Also the data job arguments an operator checks before its hook is imported: ``check_mode``
(``FULL``/``DELTA``) and ``subset_list`` (a subset of transformations, extractions, data models
or tables given as a list, a comma-separated string or a rendered list).
"""

from __future__ import annotations

import ast
import math
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_celonis.client.timestamps import parse_iso
from airflow_provider_celonis.exceptions import CelonisConfigurationError


def _as_float(name: str, value: Any, where: str | None) -> float:
    if isinstance(value, bool):
        # True is 1 to Python; as a timeout or an interval it is almost certainly a mistake.
        raise CelonisConfigurationError(
            name, f"is a boolean ({value!r}), not a number", "give a number", where=where
        )
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise CelonisConfigurationError(
        name, f"is {value!r}, not a number", "give a number (seconds for durations)", where=where
    )


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    where: str | None = None,
) -> float:
    """``value`` as a finite float within bounds; ``above`` is an exclusive lower bound.

    Accepts ints, floats, numeric strings (connection extras arrive as JSON or text) and
    ``timedelta`` (as seconds). NaN and infinities are refused: ``timeout=inf`` would mean
    "wait forever", which a user should ask for with ``None`` where the argument allows it.
    """
    number = _as_float(name, value, where)
    if not math.isfinite(number):
        raise CelonisConfigurationError(name, f"is {value!r}", "give a finite number", where=where)
    if above is not None and number <= above:
        raise CelonisConfigurationError(
            name, f"is {value!r}", f"give a number greater than {above:g}", where=where
        )
    if minimum is not None and number < minimum:
        raise CelonisConfigurationError(
            name, f"is {value!r}", f"give a number of at least {minimum:g}", where=where
        )
    if maximum is not None and number > maximum:
        raise CelonisConfigurationError(
            name, f"is {value!r}", f"give a number of at most {maximum:g}", where=where
        )
    return number


def check_int(
    name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None, where: str | None = None
) -> int:
    """``value`` as an int within bounds. Only real ints (not ``"3"``, not ``3.0``, not bools)
    for Python arguments; connection extras go through :func:`check_number` first if text."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise CelonisConfigurationError(
            name, f"is {value!r}, not a whole number", "give an integer", where=where
        )
    if minimum is not None and value < minimum:
        raise CelonisConfigurationError(
            name, f"is {value!r}", f"give an integer of at least {minimum}", where=where
        )
    if maximum is not None and value > maximum:
        raise CelonisConfigurationError(
            name, f"is {value!r}", f"give an integer of at most {maximum}", where=where
        )
    return value


def check_duration(
    name: str, value: Any, *, allow_none: bool = False, allow_zero: bool = False, where: str | None = None
) -> float | None:
    """A duration in seconds (number or ``timedelta``): > 0, or >= 0 with ``allow_zero``;
    ``None`` only with ``allow_none`` (meaning "no limit")."""
    if value is None:
        if allow_none:
            return None
        raise CelonisConfigurationError(
            name, "is None", "give a number of seconds or a timedelta", where=where
        )
    if allow_zero:
        return check_number(name, value, minimum=0, where=where)
    return check_number(name, value, above=0, where=where)


MODES = ("FULL", "DELTA")
"""A data job's load modes."""


def subset_list(value: Any, name: str, id_key: str | None = None) -> list[Any] | None:
    """A subset argument as a list, checked before any call; ``None`` (or blank) means "all".

    Accepts a list/tuple of ids (or, with ``id_key``, dicts carrying that key and optional
    ``tables``), or a string: comma-separated ids, or a rendered list (``"['a', 'b']"``: a
    templated list renders as text unless the DAG sets ``render_template_as_native_obj``).
    A plain string is never split into characters.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise CelonisConfigurationError(
                    name, f"is the text {text!r}, not a list", "give a list, or ids separated by commas"
                ) from None
        else:
            return [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)):
        raise CelonisConfigurationError(
            name, f"is a {type(value).__name__}", "give a list of ids, or ids separated by commas"
        )
    shape = f"ids or {{'{id_key}': ..., 'tables': [...]}}" if id_key else "ids (strings)"
    items: list[Any] = []
    for item in value:
        if isinstance(item, dict) and id_key and item.get(id_key):
            tables = item.get("tables") or []
            if isinstance(tables, str):
                tables = [t.strip() for t in tables.split(",") if t.strip()]
            items.append({**item, "tables": list(tables)})
        elif isinstance(item, (str, int)) and not isinstance(item, bool) and str(item).strip():
            items.append(str(item).strip())
        else:
            raise CelonisConfigurationError(name, f"has the item {item!r}", f"use {shape}")
    return items


def check_mode(mode: str) -> str:
    """A data job's load mode, upper-cased: ``FULL`` or ``DELTA``."""
    mode = str(mode).upper()
    if mode not in MODES:
        raise CelonisConfigurationError("mode", f"is {mode!r}", "use 'FULL' or 'DELTA'")
    return mode


def to_utc(value: datetime | str, name: str) -> datetime:
    """An aware UTC datetime from a datetime (naive = UTC) or an ISO 8601 string."""
    if isinstance(value, str):
        text = value.strip()
        parsed = parse_iso(text)
        if parsed is None:
            raise CelonisConfigurationError(
                name, f"is {text!r}, not an ISO 8601 date-time", "use e.g. 2025-02-05T14:30:00Z"
            )
        value = parsed
    if not isinstance(value, datetime):
        raise CelonisConfigurationError(name, f"is {value!r}", "pass a datetime or an ISO 8601 string")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    # A plain datetime: pendulum's DateTime with this tzinfo loses it in arithmetic.
    return datetime(*value.timetuple()[:6], value.microsecond, tzinfo=timezone.utc)


def check_window(start: datetime | str, end: datetime | str) -> tuple[datetime, datetime]:
    """Validated ``(start, end)`` in UTC; an end before the start is a configuration error."""
    begin, finish = to_utc(start, "start"), to_utc(end, "end")
    if finish < begin:
        raise CelonisConfigurationError(
            "end", f"({finish.isoformat()}) is before start ({begin.isoformat()})", "swap start and end"
        )
    return begin, finish
