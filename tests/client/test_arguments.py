"""Numeric argument checks: every bad value names the field, before any network call."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_celonis.client.arguments import check_duration, check_int, check_number
from airflow_provider_celonis.exceptions import CelonisConfigurationError


@pytest.mark.parametrize("bad", ["nan", "inf", float("nan"), float("-inf"), "abc", None, True, [1]])
def test_check_number_refuses_non_finite_and_non_numbers(bad) -> None:
    with pytest.raises(CelonisConfigurationError, match="'timeout'"):
        check_number("timeout", bad, above=0)


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1.0), ("2.5", 2.5), (" 3 ", 3.0), (timedelta(minutes=1), 60.0)]
)
def test_check_number_accepts_numbers_text_and_timedeltas(value, expected) -> None:
    assert check_number("timeout", value, above=0) == expected


@pytest.mark.parametrize(("kwargs", "value"), [({"above": 0}, 0), ({"above": 0}, -1), ({"minimum": 0}, -5)])
def test_check_number_bounds(kwargs, value) -> None:
    with pytest.raises(CelonisConfigurationError, match="Fix: give a number"):
        check_number("poll_interval", value, **kwargs)
    with pytest.raises(CelonisConfigurationError, match="at most 10"):
        check_number("x", 11, maximum=10)


@pytest.mark.parametrize("bad", ["3", 3.0, True, 0])
def test_check_int(bad) -> None:
    with pytest.raises(CelonisConfigurationError, match="'max_attempts'"):
        check_int("max_attempts", bad, minimum=1)
    assert check_int("max_attempts", 3, minimum=1) == 3


def test_check_duration() -> None:
    assert check_duration("timeout", None, allow_none=True) is None
    assert check_duration("settle_period", 0, allow_zero=True) == 0.0
    with pytest.raises(CelonisConfigurationError, match="'timeout' is None"):
        check_duration("timeout", None)
    with pytest.raises(CelonisConfigurationError, match="greater than 0"):
        check_duration("timeout", timedelta(0))


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("s3://KEY:SECRET@bucket/a.jsonl", "s3://***@bucket/a.jsonl"),
        ("file://user:pw@host/x", "file://***@host/x"),
        ("s3://bucket/a@b.jsonl", "s3://bucket/a@b.jsonl"),
        ("/tmp/out.jsonl", "/tmp/out.jsonl"),
        ("https://u:p%40x@h:1/p?q=a@b", "https://***@h:1/p?q=a@b"),
    ],
)
def test_redact_uri(uri: str, shown: str) -> None:
    from airflow_provider_celonis.client.paths import redact_uri, redact_uris_in

    assert redact_uri(uri) == shown
    assert redact_uris_in(f"could not write {uri}: denied") == f"could not write {shown}: denied"
