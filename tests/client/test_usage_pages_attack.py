"""Review attacks on the page checks of the usage APIs: shapes that are legitimate must pass,
shapes the provider cannot understand must fail closed. A server of the test's own plays each
page exactly (``pages`` by ``pageNumber`` or ``pageToken``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from usage_attack_server import AttackServer, attack_server_fixture  # noqa: F401 - the fixture
from usage_support import context, read_jsonl

from airflow_provider_celonis.exceptions import CelonisUnexpectedResponseError
from airflow_provider_celonis.hooks.usage import CelonisUsageHook
from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

WINDOW = ("2025-01-01T00:00:00Z", "2025-01-01T06:00:00Z")


def ev(n: int) -> dict[str, Any]:
    return {"timestamp": f"2025-01-01T00:00:0{n}.000Z", "event": "E", "userId": str(n)}


A, B, C = ev(1), ev(2), ev(3)


def test_a_record_on_two_consecutive_pages_is_data_not_a_repeated_page(
    attack_server: AttackServer, tmp_path: Path
) -> None:
    """Pages shift while events arrive: one record on two pages is normal; only a whole page
    repeated is an error. The file holds each event once."""
    attack_server.pages = {"": {"content": [A, B]}, "1": {"content": [B, C]}, "2": {"content": []}}
    hook = CelonisUsageHook("celonis_attack")
    assert list(hook.iter_audit_log(*WINDOW)) == [A, B, B, C]
    out = tmp_path / "a.jsonl"
    CelonisAuditLogOperator(
        task_id="a", celonis_conn_id="celonis_attack", output_path=str(out), start=WINDOW[0], end=WINDOW[1]
    ).execute(context())
    assert read_jsonl(out) == [A, B, C]


def test_a_short_last_page_then_an_empty_page_ends_the_listing(attack_server: AttackServer) -> None:
    attack_server.pages = {"": {"content": [A, B]}, "1": {"content": [C]}, "2": {"content": []}}
    assert list(CelonisUsageHook("celonis_attack").iter_audit_log(*WINDOW, page_size=2)) == [A, B, C]


def test_a_server_that_answers_the_last_page_for_any_later_page_number_fails_closed(
    attack_server: AttackServer,
) -> None:
    """Past the end it answers the short last page again: indistinguishable from a server that
    ignores pageNumber, so the task fails instead of stopping (or looping) on a guess."""
    attack_server.pages = {"": {"content": [A, B]}, "1": {"content": [C]}, "2": {"content": [C]}}
    with pytest.raises(CelonisUnexpectedResponseError, match="repeats the previous page"):
        list(CelonisUsageHook("celonis_attack").iter_audit_log(*WINDOW, page_size=2))


@pytest.mark.parametrize("ending", [{"nextPageToken": None}, {}, {"nextPageToken": ""}])
def test_a_cursor_listing_with_an_empty_page_in_the_middle_reads_to_its_end(
    attack_server: AttackServer, ending: dict[str, Any]
) -> None:
    attack_server.pages = {
        "": {"content": [A], "nextPageToken": "t1"},
        "t1": {"content": [], "nextPageToken": "t2"},
        "t2": {"content": [B, C], **ending},
    }
    hook = CelonisUsageHook("celonis_attack")
    assert list(hook.iter_audit_log(*WINDOW, api_version=2)) == [A, B, C]
    assert list(hook.iter_audit_log(*WINDOW, api_version=2, read_ahead=2)) == [A, B, C]


@pytest.mark.parametrize("token", [0, False, 7, [], {"t": 1}])
def test_a_cursor_that_is_not_text_fails_closed(attack_server: AttackServer, token: Any) -> None:
    """A cursor of another type is a changed API: neither the end of the listing (0 and false
    used to end it silently, after the first page) nor something to send back."""
    attack_server.pages = {"": {"content": [A], "nextPageToken": token}, "t1": {"content": [B]}}
    with pytest.raises(CelonisUnexpectedResponseError, match="nextPageToken"):
        list(CelonisUsageHook("celonis_attack").iter_audit_log(*WINDOW, api_version=2))


def test_a_page_answering_another_page_number_as_text_is_still_judged_by_its_records(
    attack_server: AttackServer,
) -> None:
    attack_server.pages = {"": {"content": [A], "pageNumber": "0"}, "1": {"content": [A], "pageNumber": "1"}}
    with pytest.raises(CelonisUnexpectedResponseError, match="repeats"):
        list(CelonisUsageHook("celonis_attack").iter_audit_log(*WINDOW))


def test_the_error_names_the_page_and_writes_nothing(attack_server: AttackServer, tmp_path: Path) -> None:
    attack_server.pages = {"": {"content": [A, B]}, "1": {"data": [C]}}
    out = tmp_path / "a.jsonl"
    with pytest.raises(CelonisUnexpectedResponseError) as caught:
        CelonisAuditLogOperator(
            task_id="a",
            celonis_conn_id="celonis_attack",
            output_path=str(out),
            start=WINDOW[0],
            end=WINDOW[1],
        ).execute(context())
    assert "(page 1)" in str(caught.value) and "'data'" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    assert json.loads(json.dumps(attack_server.requests)) and len(attack_server.requests) >= 2
