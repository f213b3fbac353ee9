"""client/timestamps.py: the one reader of Celonis timestamps, on boundary and hostile inputs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_celonis.client.timestamps import (
    canonical_ts,
    epoch_ms,
    iso_utc,
    parse_display_time,
    parse_http_date,
    parse_iso,
    timestamp_ms,
    to_epoch_ms,
)

UTC = timezone.utc
T0 = datetime(2025, 2, 5, 14, 30, tzinfo=UTC)
T0_MS = 1738765800000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-02-05T14:30:00Z", T0),
        ("2025-02-05T14:30:00z", T0),
        ("2025-02-05T14:30:00+00:00", T0),
        ("2025-02-05T20:00:00+05:30", T0),
        ("2025-02-05T09:30:00-05:00", T0),
        ("2025-02-05T14:30:00", T0),  # no zone: UTC, as Celonis documents
        ("  2025-02-05T14:30:00Z\n", T0),  # a rendered template with blanks
        ("2025-02-05T14:30:00.123Z", T0 + timedelta(milliseconds=123)),
        ("2025-02-05T14:30:00.123456Z", T0 + timedelta(microseconds=123456)),
        (
            "2025-02-05T14:30:00.123456+05:30",
            T0 + timedelta(microseconds=123456) - timedelta(hours=5, minutes=30),
        ),
        ("2025-02-06T00:00:00+09:30", datetime(2025, 2, 5, 14, 30, tzinfo=UTC)),  # crosses a day
        ("2025-02-05T14:30:00.5Z", T0 + timedelta(milliseconds=500)),  # one digit (3.10 refused it)
        ("2025-02-05T14:30:00,25Z", T0 + timedelta(milliseconds=250)),  # ISO's decimal comma
        ("2025-02-05T14:30:00.123456789Z", T0 + timedelta(microseconds=123456)),  # nanoseconds: cut
    ],
)
def test_parse_iso_forms(text: str, expected: datetime) -> None:
    parsed = parse_iso(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "Z",
        "z",
        "garbage",
        "2025-13-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-02-05T25:00:00Z",
        "2025-02-05T14:30:00ZZ",
        "1738765800000",
        1738765800000,
        1.5,
        b"2025-02-05",
    ],
)
def test_parse_iso_refuses_garbage(value: object) -> None:
    assert parse_iso(value) is None
    assert timestamp_ms(value) is None
    assert canonical_ts(value) is None
    assert iso_utc(value) is None


def test_timestamp_ms_is_exact_and_floors() -> None:
    assert timestamp_ms("2025-02-05T14:30:00Z") == T0_MS
    assert timestamp_ms("2025-02-05T14:30:00.999999Z") == T0_MS + 999  # floor, never rounds up
    assert timestamp_ms("2025-02-05T20:00:00.001+05:30") == T0_MS + 1
    # Before the epoch the floor still holds (int() of a float timestamp would truncate to -500).
    assert timestamp_ms("1969-12-31T23:59:58.500Z") == -1500
    # A float timestamp * 1000 can land on ...122.99999; the integer path cannot.
    when = datetime(2025, 2, 5, 14, 30, 0, 123000, tzinfo=UTC)
    assert epoch_ms(when) == T0_MS + 123


def test_canonical_ts_orders_like_time() -> None:
    assert canonical_ts("2025-02-05T14:30:00.123Z") == "2025-02-05T14:30:00.123Z"  # fast path
    assert canonical_ts("2025-02-05T14:30:00z") == "2025-02-05T14:30:00.000Z"
    assert canonical_ts("2025-02-05T20:00:00.500+05:30") == "2025-02-05T14:30:00.500Z"
    assert canonical_ts("2025-02-05T14:30:00.123456") == "2025-02-05T14:30:00.123Z"
    forms = ["2025-02-05T14:30:00+01:00", "2025-02-05T14:00:00Z", "2025-02-05T13:59:59.999999Z"]
    assert sorted(canonical_ts(f) or "" for f in forms) == [
        "2025-02-05T13:30:00.000Z",
        "2025-02-05T13:59:59.999Z",
        "2025-02-05T14:00:00.000Z",
    ]


def test_iso_utc() -> None:
    assert iso_utc("2025-02-05T20:00:00+05:30") == "2025-02-05T14:30:00+00:00"
    assert iso_utc("2025-02-05T14:30:00") == "2025-02-05T14:30:00+00:00"
    assert iso_utc(" 2025-02-05T14:30:00.000001z ") == "2025-02-05T14:30:00.000001+00:00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (T0, T0_MS),
        (datetime(2025, 2, 5, 14, 30), T0_MS),  # naive means UTC
        (datetime(2025, 2, 5, 20, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))), T0_MS),
        ("2025-02-05T14:30:00Z", T0_MS),
        ("2025-02-05T14:30:00z", T0_MS),  # lower-case z was refused here before the merge
        ("2025-02-05T20:00:00+05:30", T0_MS),
        ("2025-02-05T14:30:00", T0_MS),
        ("2025-02-05T14:30:00.250Z", T0_MS + 250),
        (1738765800, T0_MS),  # epoch seconds
        (1738765800.25, T0_MS + 250),
        (T0_MS, T0_MS),  # epoch milliseconds
        ("1738765800", T0_MS),
        (" 1738765800000 ", T0_MS),
        (None, None),
        ("", None),
    ],
)
def test_to_epoch_ms(value: object, expected: int | None) -> None:
    assert to_epoch_ms(value) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["yesterday", "2025-02-30T00:00:00Z", "nan", "inf", float("nan"), True])
def test_to_epoch_ms_refuses_garbage(value: object) -> None:
    # A typo must fail, not become "no lower bound".
    with pytest.raises(ValueError, match=r"point in time|neither epoch"):
        to_epoch_ms(value)  # type: ignore[arg-type]


def test_parse_http_date() -> None:
    assert parse_http_date("Wed, 05 Feb 2025 14:30:00 GMT") == T0
    assert parse_http_date("Wed, 05 Feb 2025 15:30:00 +0100") == T0
    for bad in (None, "", "2025-02-05T14:30:00Z", "Wed, 99 Feb 2025 14:30:00 GMT", "nonsense"):
        assert parse_http_date(bad) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/10/2023, 6:49:07 AM UTC", "2023-12-10T06:49:07Z"),
        ("1/2/2024, 12:00:00 AM UTC", "2024-01-02T00:00:00Z"),  # midnight
        ("1/2/2024, 12:30:00 PM UTC", "2024-01-02T12:30:00Z"),  # noon
        ("2/29/2024, 11:59:59 PM UTC", "2024-02-29T23:59:59Z"),  # leap day
        ("2/29/2023, 1:00:00 PM UTC", None),
        ("13/45/2024, 1:00:00 PM UTC", None),
        ("12/10/2023, 6:49:07 AM CET", None),
        ("2023-12-10T06:49:07Z", None),
        (None, None),
    ],
)
def test_parse_display_time(text: object, expected: str | None) -> None:
    assert parse_display_time(text) == expected
