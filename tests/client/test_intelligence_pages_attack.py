"""Reviewer's attacks on the Process Intelligence exports: Knowledge Model pages and the failed-events
read, against the emulator over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisError, CelonisEventsMayBeLostError
from airflow_provider_celonis.hooks.knowledge_model import CelonisKnowledgeModelHook
from airflow_provider_celonis.operators.intelligence import CelonisSubscriptionFailedEventsOperator
from airflow_provider_celonis.operators.knowledge_model import CelonisKnowledgeModelDataOperator

KM = "km-order-to-cash"
SEEDED = "0b7e5a52-5c1a-4e55-9a1e-000000000001"
EVENTS = f"/intelligence/api/subscriptions/{SEEDED}/events"
CONTEXT: dict[str, Any] = {"ds": "2025-01-02", "run_id": "manual__2025-01-02"}


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# -- Knowledge Model ---------------------------------------------------------------------------
def test_identical_rows_on_two_pages_are_data_not_a_server_ignoring_page(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """One low-cardinality column, sorted: page 1 holds the same rows as page 0, and the server says
    it is page 1. That is the data; failing it as "the server ignores page" refused a true export."""
    emulator.configure_knowledge_model(order_rows=40)
    out = tmp_path / "status.jsonl"
    result = CelonisKnowledgeModelDataOperator(
        task_id="km",
        knowledge_model_id=KM,
        record_id="ORDER",
        fields=["status"],
        sort="status",
        page_size=2,
        output_path=str(out),
    ).execute(CONTEXT)
    assert result["records"] == 40 == len(lines(out)) and not result["cut"]
    expected = sorted(r["status"] for r in CelonisKnowledgeModelHook().data(KM, record_id="ORDER"))
    assert [r["status"] for r in lines(out)] == expected


def test_exactly_5000_rows_without_a_total_fail_as_possibly_cut(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Exactly the cut limit and no ``total``: nothing proves the result complete, so it fails."""
    emulator.configure_knowledge_model(order_rows=5000, cut_total="absent")
    out = tmp_path / "o.jsonl"
    op = CelonisKnowledgeModelDataOperator(
        task_id="km",
        knowledge_model_id=KM,
        record_id="ORDER",
        sort="-amount",
        page_size=1000,
        output_path=str(out),
    )
    with pytest.raises(CelonisError, match="cut at 5000 of an unknown number of records"):
        op.execute(CONTEXT)
    assert not out.exists()


def test_fewer_rows_without_a_total_are_complete(emulator: EmulatorProcess, tmp_path: Path) -> None:
    emulator.configure_knowledge_model(order_rows=4999, cut_total="absent")
    result = CelonisKnowledgeModelDataOperator(
        task_id="km",
        knowledge_model_id=KM,
        record_id="ORDER",
        sort="-amount",
        page_size=1000,
        output_path=str(tmp_path / "o.jsonl"),
    ).execute(CONTEXT)
    assert (result["records"], result["total"], result["cut"]) == (4999, None, False)


# -- failed events: 7 seeded, 3 per page: [1000-1002] [1003-1005] [1006] [] -----------------------------
def failed_events(tmp_path: Path) -> CelonisSubscriptionFailedEventsOperator:
    return CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(tmp_path / "failed.jsonl")
    )


def lost(emulator: EmulatorProcess, tmp_path: Path, skip: int, times: int = 1) -> CelonisEventsMayBeLostError:
    emulator.add_faults(
        [
            {
                "path": "/events$",
                "method": "PATCH",
                "status": 504,
                "process": True,
                "skip": skip,
                "times": times,
            }
        ]
    )
    with pytest.raises(CelonisError, match="may be missing") as caught:
        failed_events(tmp_path).execute(CONTEXT)
    cause = caught.value.__cause__
    assert isinstance(cause, CelonisEventsMayBeLostError) and not (tmp_path / "failed.jsonl").exists()
    return cause


def test_a_lost_answer_on_the_last_page_keeps_the_others_and_replays_from_after_them(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    cause = lost(emulator, tmp_path, skip=2)
    assert cause.replay_from == 1006
    (saved,) = tmp_path.glob("failed.jsonl.recovered-*.jsonl")
    assert [e["offset"] for e in lines(saved)] == list(range(1000, 1006))


def test_a_lost_answer_on_the_empty_page_is_not_called_complete(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """The end of the list is known only from an empty page that arrived."""
    cause = lost(emulator, tmp_path, skip=3)
    assert cause.replay_from == 1007 and sum(p["events"] for p in cause.pages) == 7


def test_two_lost_answers_in_a_row_stop_at_the_first_and_a_rerun_keeps_the_first_file(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    first = lost(emulator, tmp_path, skip=1, times=2)
    assert first.replay_from == 1003 and emulator.requests_to("PATCH", EVENTS) == 2  # never replayed
    second = lost(emulator, tmp_path, skip=0, times=1)  # the rerun loses its first page too
    assert second.replay_from is None
    saved = sorted(tmp_path.glob("failed.jsonl.recovered-*.jsonl"))
    assert len(saved) == 2 and [e["offset"] for e in lines(saved[0])] == [1000, 1001, 1002]


def test_events_without_offsets_are_not_reported_as_no_event_read(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.configure_subscriptions(events_without_offset=True)
    emulator.add_faults([{"path": "/events$", "method": "PATCH", "status": 504, "process": True, "skip": 1}])
    with pytest.raises(CelonisError, match="may be missing") as caught:
        failed_events(tmp_path).execute(CONTEXT)
    assert "no event was read" not in str(caught.value) and "without an offset" in str(caught.value)


def test_an_empty_page_that_says_more_follow_is_not_the_end(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """An empty ``content`` ends the read only when the page does not say ``hasMore: true``."""
    emulator.configure_subscriptions(events_empty_pages=1)
    with pytest.raises(CelonisError, match="hasMore") as caught:
        failed_events(tmp_path).execute(CONTEXT)
    assert "re-run" in str(caught.value) and list(tmp_path.iterdir()) == []  # no file claims "all"
    assert emulator.subscriptions_state()["failed"][SEEDED] == 7  # nothing consumed
    result = failed_events(tmp_path).execute(CONTEXT)
    assert result["records"] == 7


def test_a_server_counting_pages_from_one_is_not_taken_for_one_ignoring_page(
    emulator: EmulatorProcess,
) -> None:
    """Only a 0-based ``page`` echo is trusted; another count falls back to comparing the items."""
    from airflow_provider_celonis.client.apis import KNOWLEDGE_MODEL
    from airflow_provider_celonis.client.intelligence_pages import intelligence_pages

    emulator.configure_knowledge_model(order_rows=25)
    hook = CelonisKnowledgeModelHook()
    path = f"/api/knowledge-models/{KM}/records/ORDER/data"

    def one_based(number: int) -> Any:
        body = hook.request_json("GET", path, api=KNOWLEDGE_MODEL, params={"page": number, "pageSize": 10})
        return {**body, "page": number + 1}

    rows = [row for _body, content in intelligence_pages(one_based, what="ORDER data") for row in content]
    assert len(rows) == 25 == len({row["id"] for row in rows})


@pytest.mark.parametrize("allow_cut", [False, True])
def test_fewer_rows_than_total_without_the_cut_is_an_error_even_with_allow_cut(
    emulator: EmulatorProcess, tmp_path: Path, allow_cut: bool
) -> None:
    """Unfiltered, nothing cuts the result: rows missing against ``total`` are an inconsistency, not
    "the 5,000-record cut", and ``allow_cut`` must not turn them into a green partial export."""
    emulator.configure_knowledge_model(order_rows=300, total_offset=5)
    out = tmp_path / "o.jsonl"
    op = CelonisKnowledgeModelDataOperator(
        task_id="km",
        knowledge_model_id=KM,
        record_id="ORDER",
        page_size=100,
        output_path=str(out),
        allow_cut=allow_cut,
    )
    with pytest.raises(CelonisError, match=r"300 (rows|items) came but the server counted 305") as caught:
        op.execute(CONTEXT)
    assert "5,000" not in str(caught.value).split("Fix:")[0] and not out.exists()


def test_a_list_that_ends_short_of_its_total_is_an_error(emulator: EmulatorProcess) -> None:
    """An empty page before ``total`` items came: the list is short, not finished."""
    from airflow_provider_celonis.client.apis import KNOWLEDGE_MODEL
    from airflow_provider_celonis.client.intelligence_pages import intelligence_pages
    from airflow_provider_celonis.exceptions import CelonisUnexpectedResponseError

    hook = CelonisKnowledgeModelHook()
    path = f"/api/knowledge-models/{KM}/records"

    def inflated(number: int) -> Any:
        body = hook.request_json("GET", path, api=KNOWLEDGE_MODEL, params={"page": number, "pageSize": 1})
        return {**body, "total": body["total"] + 1}

    with pytest.raises(CelonisUnexpectedResponseError, match="2 items came but the server counted 3"):
        list(intelligence_pages(inflated, what="records"))
