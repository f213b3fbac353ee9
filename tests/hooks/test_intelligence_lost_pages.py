"""Answers lost after Celonis acted, and pages the provider does not understand, on the
Intelligence APIs (failed events, Knowledge Model, subscription lists), against the emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisError, CelonisUnexpectedResponseError
from airflow_provider_celonis.hooks.event_subscriptions import (
    CelonisEventsMayBeLostError,
    CelonisEventSubscriptionHook,
)
from airflow_provider_celonis.operators.intelligence import (
    CelonisEventSubscriptionOperator,
    CelonisSubscriptionFailedEventsOperator,
)

SEEDED = "0b7e5a52-5c1a-4e55-9a1e-000000000001"
EVENTS = f"/intelligence/api/subscriptions/{SEEDED}/events"
CONTEXT: dict[str, Any] = {"ds": "2025-01-02", "run_id": "manual__2025-01-02"}


def offsets(path: Path) -> list[int]:
    return [json.loads(line)["offset"] for line in path.read_text().splitlines()]


def failed_events(tmp_path: Path, **kwargs: Any) -> CelonisSubscriptionFailedEventsOperator:
    return CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(tmp_path / "failed.jsonl"), **kwargs
    )


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 504, "process": True},  # the gateway gave up after Celonis moved on
        {"kind": "drop", "process": True},  # the connection broke mid-answer
    ],
)
def test_a_page_lost_after_the_cursor_moved_fails_and_says_how_to_recover(
    emulator: EmulatorProcess, tmp_path: Path, fault: dict[str, Any]
) -> None:
    emulator.add_faults([{"path": "/events$", "method": "PATCH", "skip": 1, **fault}])
    with pytest.raises(CelonisError, match="a page of failed events may be missing") as caught:
        failed_events(tmp_path).execute(CONTEXT)
    message = str(caught.value)
    assert "replay the subscription from offset 1003" in message and "from_offset=1003" in message
    assert "events were read so far" not in message and "stopped after" not in message
    assert isinstance(caught.value.__cause__, CelonisEventsMayBeLostError)
    (saved,) = tmp_path.glob("failed.jsonl.recovered-*.jsonl")
    assert offsets(saved) == [1000, 1001, 1002]
    manifest = json.loads(Path(f"{saved}.manifest.json").read_text())
    assert manifest["complete"] is False and manifest["replay_from_offset"] == 1003
    assert manifest["certain_pages"] == [{"events": 3, "first_offset": 1000, "last_offset": 1002}]
    assert not (tmp_path / "failed.jsonl").exists()
    # the server did move on: 1003-1005 are in no file; a plain re-run would not bring them back
    assert emulator.subscriptions_state()["failed"][SEEDED] == 1
    assert emulator.requests_to("PATCH", EVENTS) == 2  # never replayed by the hook
    replay = CelonisEventSubscriptionOperator(
        task_id="replay", action="replay", subscription_id=SEEDED, from_offset=manifest["replay_from_offset"]
    )
    assert replay.execute(CONTEXT) == SEEDED
    sub = next(s for s in emulator.subscriptions_state()["subscriptions"] if s["id"] == SEEDED)
    assert sub["offset"] == 1003


def test_a_first_page_lost_writes_a_manifest_with_nothing_certain(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.add_faults([{"path": "/events$", "method": "PATCH", "status": 502, "process": True}])
    with pytest.raises(CelonisError, match="no event was read before the loss") as caught:
        failed_events(tmp_path).execute(CONTEXT)
    (saved,) = tmp_path.glob("failed.jsonl.recovered-*.jsonl")
    assert saved.read_text() == "" and str(saved) in str(caught.value)
    manifest = json.loads(Path(f"{saved}.manifest.json").read_text())
    assert manifest["certain_pages"] == [] and manifest["replay_from_offset"] is None


def test_a_refused_call_did_not_move_the_cursor(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """A 4xx proves Celonis did not act: the events read are saved and a re-run continues safely."""
    emulator.add_faults([{"path": "/events$", "method": "PATCH", "status": 403, "skip": 1}])
    with pytest.raises(CelonisError, match="stopped after 3 events") as caught:
        failed_events(tmp_path).execute(CONTEXT)
    assert "may be missing" not in str(caught.value)
    assert emulator.subscriptions_state()["failed"][SEEDED] == 4


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("html", r"text/html.*not JSON.*Session expired"),
        ("no_list", r"HTTP 200 \(application/json\) but its 'content' list is missing"),
        ("rename_list", r"\(application/json\) but its 'content' list is missing"),
        ("truncate", r"application/json.*not JSON"),
    ],
)
def test_an_events_page_not_understood_is_a_possible_loss(
    emulator: EmulatorProcess, tmp_path: Path, kind: str, expected: str
) -> None:
    emulator.add_faults([{"path": "/events$", "method": "PATCH", "kind": kind, "skip": 1}])
    with pytest.raises(CelonisError, match="may be missing") as caught:
        failed_events(tmp_path).execute(CONTEXT)
    cause = caught.value.__cause__
    assert isinstance(cause, CelonisEventsMayBeLostError) and cause.replay_from == 1003
    assert isinstance(cause.__cause__, CelonisUnexpectedResponseError)
    assert re.search(expected, str(cause.__cause__))
    assert not (tmp_path / "failed.jsonl").exists()
    (saved,) = tmp_path.glob("failed.jsonl.recovered-*.jsonl")
    assert offsets(saved) == [1000, 1001, 1002]


@pytest.mark.parametrize("kind", ["html", "truncate", "no_list"])
def test_list_pages_not_understood_are_typed_errors(emulator: EmulatorProcess, kind: str) -> None:
    emulator.add_faults([{"path": "/subscriptions$", "method": "GET", "kind": kind}])
    with pytest.raises(CelonisUnexpectedResponseError, match=r"Event subscription list .* HTTP 200"):
        CelonisEventSubscriptionHook().list_subscriptions()


# -- Knowledge Model pages -------------------------------------------------------------------
def km_export(tmp_path: Path, **kwargs: Any) -> Any:
    from airflow_provider_celonis.operators.knowledge_model import CelonisKnowledgeModelDataOperator

    return CelonisKnowledgeModelDataOperator(
        task_id="km",
        knowledge_model_id="km-order-to-cash",
        record_id="ORDER",
        page_size=1000,
        output_path=str(tmp_path / "orders.jsonl"),
        **kwargs,
    )


def test_a_km_server_ignoring_page_fails_instead_of_looping(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.configure_knowledge_model(ignore_page=True)
    with pytest.raises(
        CelonisUnexpectedResponseError, match=r"\(application/json\) but page 1 repeats page 0"
    ):
        km_export(tmp_path).execute(CONTEXT)
    assert list(tmp_path.iterdir()) == []  # no file, not even an empty one
    assert (
        emulator.requests_to("GET", "/intelligence/api/knowledge-models/km-order-to-cash/records/ORDER/data")
        == 2
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("html", r"HTTP 200 \(text/html; charset=utf-8\) but the body is not JSON.*Sign in"),
        ("truncate", r"HTTP 200 \(application/json\) but the body is not JSON"),
        ("no_list", r"HTTP 200 \(application/json\) but its 'content' list is missing"),
        ("rename_list", r"\(application/json\) but its 'content' list is missing"),
    ],
)
def test_km_pages_not_understood_write_nothing(
    emulator: EmulatorProcess, tmp_path: Path, kind: str, expected: str
) -> None:
    emulator.add_faults([{"path": "/records/ORDER/data$", "method": "GET", "kind": kind, "skip": 1}])
    with pytest.raises(CelonisUnexpectedResponseError, match=expected) as caught:
        km_export(tmp_path).execute(CONTEXT)
    assert "Knowledge Model data" in str(caught.value) and caught.value.status == 200
    assert list(tmp_path.iterdir()) == []


# -- agent chat: a 200 that is no answer -----------------------------------------------------
@pytest.mark.parametrize(("kind", "expected"), [("html", r"text/html.*not JSON"), ("truncate", "not JSON")])
def test_a_chat_answer_not_understood_is_a_typed_error_not_an_empty_answer(
    emulator: EmulatorProcess, kind: str, expected: str
) -> None:
    from airflow_provider_celonis.operators.intelligence import CelonisAgentChatOperator

    emulator.add_faults([{"path": "/conversations$", "method": "POST", "kind": kind}])
    op = CelonisAgentChatOperator(task_id="ask", agent_id="order-assistant", message="Open orders?")
    with pytest.raises(CelonisUnexpectedResponseError, match=expected):
        op.execute(CONTEXT)
    assert emulator.requests_to("POST", "/intelligence/api/ai/agents/order-assistant/conversations") == 1


def test_a_chat_answer_without_a_conversation_is_no_answer(emulator: EmulatorProcess) -> None:
    from airflow_provider_celonis.hooks.chat import CelonisChatHook

    emulator._call("POST", "/chat/settings", {"answer_without_conversation": True})
    with pytest.raises(CelonisUnexpectedResponseError, match=r"no conversationId.*check the conversation"):
        CelonisChatHook().send_message("order-assistant", "Open orders?")


# -- subscription create: an answer lost after Celonis acted ---------------------------------
def test_a_create_whose_answer_was_lost_adopts_the_one_new_subscription(emulator: EmulatorProcess) -> None:
    emulator.add_faults([{"path": "/subscriptions$", "method": "POST", "status": 504, "process": True}])
    op = CelonisEventSubscriptionOperator(
        task_id="subscribe",
        action="create",
        knowledge_model_id="km-order-to-cash",
        trigger_id="trg-late-orders",
        name="erp-late-orders",
        callback_uri="https://erp.example.com/hooks/late",
    )
    sub_id = op.execute(CONTEXT)
    subs = [s for s in emulator.subscriptions_state()["subscriptions"] if s["name"] == "erp-late-orders"]
    assert [s["id"] for s in subs] == [sub_id]  # exactly one, and it is the one returned


def test_a_create_that_did_not_happen_fails_closed_without_a_second_post(emulator: EmulatorProcess) -> None:
    from airflow_provider_celonis.exceptions import CelonisRequestMaybeSentError

    emulator.add_faults([{"path": "/subscriptions$", "method": "POST", "status": 503}])
    op = CelonisEventSubscriptionOperator(
        task_id="subscribe",
        action="create",
        knowledge_model_id="km-order-to-cash",
        trigger_id="trg-late-orders",
        name="erp-late-orders",
        callback_uri="https://erp.example.com/hooks/late",
    )
    with pytest.raises(CelonisRequestMaybeSentError, match="no new subscription"):
        op.execute(CONTEXT)
    path = "/intelligence/api/knowledge-models/km-order-to-cash/triggers/trg-late-orders/subscriptions"
    assert emulator.requests_to("POST", path) == 1
    assert not [s for s in emulator.subscriptions_state()["subscriptions"] if s["name"] == "erp-late-orders"]
