"""Every Celonis timestamp parsed in one place.

Celonis writes instants in several forms (docs/celonis-api.md): ISO 8601 with ``Z``, ``z`` or
an offset (``2025-02-05T14:30:00.123Z``), ISO without a zone (documented as UTC), epoch
milliseconds (Data Integration execution dates), a US display form in the Team Members API
(``"12/10/2023, 6:49:07 AM UTC"``), and HTTP-dates in ``Retry-After``. Users pass datetimes,
rendered templates or epoch numbers. Each of those is read here and nowhere else, so that one
rule holds everywhere: **no zone means UTC**, and every result is an aware UTC value.

It also writes the forms the usage APIs are asked in (:func:`iso_ms`, :func:`local_seconds`);
the windows users give are checked with these readers in
:mod:`airflow_provider_celonis.client.arguments` (``to_utc``, ``check_window``).

No Airflow or HTTP imports: the extract operators call :func:`canonical_ts` for every record,
and the operators import this module at DAG parse time.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "canonical_ts",
    "epoch_ms",
    "iso_ms",
    "iso_utc",
    "local_seconds",
    "parse_display_time",
    "parse_http_date",
    "parse_iso",
    "timestamp_ms",
    "to_epoch_ms",
]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)
MS_THRESHOLD = 1e11
"""A number above this is epoch milliseconds, below epoch seconds (1e11 s is the year 5138)."""
_FRACTION = re.compile(r"(T\d{2}:\d{2}:\d{2})[.,](\d+)")
"""Fractional seconds of any length: Python 3.10 reads only 3 or 6 digits, 3.11+ any number."""
_DISPLAY_TIME = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}), (\d{1,2}):(\d{2}):(\d{2}) ([AP]M) UTC$")


def parse_iso(value: Any) -> datetime | None:
    """An ISO 8601 text as an aware UTC datetime; None when not a string or unparseable.

    Surrounding blanks are ignored; a trailing ``Z`` or ``z`` means UTC (Python 3.10's
    ``fromisoformat`` knows neither); an offset is converted to UTC; no zone means UTC.
    Fractional seconds may have any number of digits (beyond microseconds they are cut).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text[-1] in "Zz":
        if text[-2:-1] in ("Z", "z"):  # "...ZZ": Python 3.10 would read it as UTC, 3.11+ refuses
            return None
        text = text[:-1] + "+00:00"
    # Microseconds at most (nanoseconds are cut, never rounded up into the next microsecond).
    text = _FRACTION.sub(lambda m: f"{m.group(1)}.{(m.group(2) + '00000')[:6]}", text, count=1)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return as_utc(when)


def as_utc(when: datetime) -> datetime:
    """``when`` in UTC; a naive datetime is taken as UTC already (what Celonis documents)."""
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def epoch_ms(when: datetime) -> int:
    """Exact milliseconds since the epoch (floor), naive meaning UTC; no float rounding."""
    return (as_utc(when) - EPOCH) // _ONE_MS


def timestamp_ms(value: Any) -> int | None:
    """Milliseconds since the epoch of an ISO 8601 timestamp as Celonis writes it; None if unparseable."""
    when = parse_iso(value)
    return None if when is None else epoch_ms(when)


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
    when = parse_iso(value)
    if when is None:
        return None
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def iso_utc(value: Any) -> str | None:
    """An ISO 8601 text rewritten as UTC ``isoformat()`` (``...+00:00``); None if unparseable."""
    when = parse_iso(value)
    return None if when is None else when.isoformat()


def to_epoch_ms(value: datetime | str | float | int | None) -> int | None:
    """A user-supplied point in time (``started_after``) as epoch milliseconds, like Celonis dates.

    Accepts a datetime (naive means UTC), an ISO 8601 string (a rendered template such as
    ``{{ data_interval_end }}``) or a number, also as text (epoch seconds, or epoch
    milliseconds when larger than :data:`MS_THRESHOLD`). None and ``""`` give None.

    Raises:
        ValueError: a string that is neither a number nor ISO 8601 (a typo must not turn
            into "no lower bound").
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a point in time")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a point in time")
        return int(value if value > MS_THRESHOLD else value * 1000)
    if isinstance(value, str):
        text = value.strip()
        try:
            return to_epoch_ms(float(text))
        except ValueError:
            pass
        when = parse_iso(text)
        if when is None:
            raise ValueError(f"{text!r} is neither epoch seconds/milliseconds nor ISO 8601")
        return epoch_ms(when)
    return epoch_ms(value)


def parse_http_date(value: Any) -> datetime | None:
    """An RFC 7231 HTTP-date (``Wed, 21 Oct 2015 07:28:00 GMT``) in UTC; None if unparseable."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return as_utc(when)


def parse_display_time(value: Any) -> str | None:
    """``"12/10/2023, 6:49:07 AM UTC"`` -> ``"2023-12-10T06:49:07Z"``; None for other forms.

    The form the Team Members API uses for ``lastLogin`` (month first, 12-hour clock).
    """
    match = _DISPLAY_TIME.match(value) if isinstance(value, str) else None
    if not match:
        return None
    month, day, year, hour, minute, second, half = match.groups()
    hour24 = int(hour) % 12 + (12 if half == "PM" else 0)
    try:
        when = datetime(
            int(year), int(month), int(day), hour24, int(minute), int(second), tzinfo=timezone.utc
        )
    except ValueError:
        return None
    return f"{when:%Y-%m-%dT%H:%M:%S}Z"


def iso_ms(when: datetime) -> str:
    """``2025-02-05T14:30:00.000Z``, the form XSOAR sends to the Audit Log API."""
    return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"


def local_seconds(when: datetime, *, ceil: bool = False) -> str:
    """``yyyy-MM-ddTHH:mm:ss`` (UTC, no zone) as the Login History API documents."""
    seconds = int(when.timestamp()) + (1 if ceil and when.microsecond else 0)
    return f"{datetime.fromtimestamp(seconds, timezone.utc):%Y-%m-%dT%H:%M:%S}"
