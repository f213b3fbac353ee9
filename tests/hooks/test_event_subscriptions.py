"""Event subscriptions: every action, callback validation before any call, failed events, scope."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.client.apis import EVENT_SUBSCRIPTION
from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisBadRequestError,
    CelonisConfigurationError,
    CelonisError,
    CelonisInvalidScopeError,
    CelonisNotFoundError,
)
from airflow_provider_celonis.hooks.event_subscriptions import CelonisEventSubscriptionHook
from airflow_provider_celonis.operators.intelligence import (
    CelonisEventSubscriptionOperator,
    CelonisSubscriptionFailedEventsOperator,
)

KM, TRIGGER = "km-order-to-cash", "trg-late-orders"
SEEDED = "0b7e5a52-5c1a-4e55-9a1e-000000000001"
CONTEXT: dict[str, Any] = {"ds": "2025-01-02", "run_id": "manual__2025-01-02"}
SECRET = "Bearer s3cr3t-webhook-token"


def sub(emulator: EmulatorProcess, sub_id: str) -> dict[str, Any] | None:
    return next((s for s in emulator.subscriptions_state()["subscriptions"] if s["id"] == sub_id), None)


def run(action: str, **kwargs: Any) -> str:
    return CelonisEventSubscriptionOperator(task_id=f"sub_{action}", action=action, **kwargs).execute(CONTEXT)


def create(**overrides: Any) -> str:
    args = {
        "knowledge_model_id": KM,
        "trigger_id": TRIGGER,
        "name": "late-orders-to-warehouse",
        "callback_uri": "https://hooks.example.com/celonis",
        "callback_headers": {"Authorization": SECRET, "Content-Type": "application/json"},
        "configurations": ["SKIP_ERRORS"],
    }
    return run("create", **{**args, **overrides})


def test_create_returns_the_id_and_keeps_secrets_out_of_errors_and_rendered_values(
    emulator: EmulatorProcess,
) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    token = "Bearer rendered-only-t0ken"
    op = CelonisEventSubscriptionOperator(
        task_id="sub_create",
        action="create",
        knowledge_model_id=KM,
        trigger_id=TRIGGER,
        name="late-orders",
        callback_uri="https://hooks.example.com/celonis",
        callback_headers={"Authorization": "{{ params.token }}"},
    )
    op.render_template_fields({**CONTEXT, "params": {"token": token}})
    sub_id = op.execute(CONTEXT)
    created = sub(emulator, sub_id)
    assert created is not None and created["status"] == "active" and created["triggerId"] == TRIGGER
    assert created["callbackInfo"]["headers"]["Authorization"] == token  # sent as given
    assert token not in sub_id
    # execute registered the rendered value with the masker: it is hidden wherever Airflow redacts
    assert token not in str(redact(f"rendered headers: {op.callback_headers}"))
    # a call the server refuses: its error names the path, never a header value
    with pytest.raises(CelonisNotFoundError) as refused:
        create(trigger_id="trg-missing")
    assert SECRET not in str(refused.value) and "trg-missing" in str(refused.value)
    # refused before any call: neither a header value nor a (webhook) URI is echoed
    with pytest.raises(CelonisConfigurationError) as bad_header:
        create(callback_headers={"X-Api-Key": SECRET})
    with pytest.raises(CelonisConfigurationError) as bad_uri:
        create(callback_uri="http://hooks.slack.com/services/T000/B000/xyzzy-webhook-token")
    assert SECRET not in str(bad_header.value) and "sub_create" in str(bad_header.value)
    assert "xyzzy-webhook-token" not in str(bad_uri.value) and "callback_uri" in str(bad_uri.value)


def test_every_status_action(emulator: EmulatorProcess) -> None:
    sub_id = create()
    assert run("pause", subscription_id=sub_id) == sub_id
    assert sub(emulator, sub_id)["status"] == "paused"  # type: ignore[index]
    run("resume", subscription_id=sub_id)
    assert sub(emulator, sub_id)["status"] == "active"  # type: ignore[index]
    run("replay", subscription_id=sub_id, from_offset=17)
    assert sub(emulator, sub_id)["offset"] == 17  # type: ignore[index]
    run("pause", subscription_id=sub_id)
    run("resume_from_latest", subscription_id=sub_id)
    current = sub(emulator, sub_id)
    assert current is not None and (current["status"], current["offset"]) == ("active", 1042)
    run("update", subscription_id=sub_id, name="renamed", callback_uri="https://other.example.com/x")
    assert sub(emulator, sub_id)["name"] == "renamed"  # type: ignore[index]
    run("delete", subscription_id=sub_id)
    assert sub(emulator, sub_id) is None
    with pytest.raises(CelonisNotFoundError):
        run("pause", subscription_id=sub_id)


def test_replay_offset_is_templated_and_checked_by_the_server(emulator: EmulatorProcess) -> None:
    op = CelonisEventSubscriptionOperator(
        task_id="replay", action="replay", subscription_id=SEEDED, from_offset="{{ params.offset }}"
    )
    op.render_template_fields({**CONTEXT, "params": {"offset": 1003}})
    op.execute(CONTEXT)
    assert sub(emulator, SEEDED)["offset"] == 1003  # type: ignore[index]
    with pytest.raises(CelonisBadRequestError, match="beyond the latest offset"):
        run("replay", subscription_id=SEEDED, from_offset=5000)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"callback_headers": {"X-Api-Key": "k"}}, "callback_headers"),
        ({"callback_headers": {"Authorization": "x" * 8200}}, "callback_headers"),
        ({"callback_uri": "http://insecure.example.com"}, "callback_uri"),
        ({"name": ""}, "name"),
        ({"name": "n" * 1025}, "name"),
        ({"configurations": ["RETRY_FOREVER"]}, "configurations"),
        ({"trigger_id": None}, "trigger_id"),
        ({"knowledge_model_id": ""}, "knowledge_model_id"),
    ],
)
def test_create_validated_before_any_call(
    emulator: EmulatorProcess, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(CelonisConfigurationError, match=field) as caught:
        create(**overrides)
    assert "x" * 100 not in str(caught.value)  # header values (secrets) are never echoed
    assert emulator.stats()["api_calls"] == 0


@pytest.mark.parametrize(
    ("action", "kwargs", "field"),
    [
        ("explode", {"subscription_id": SEEDED}, "action"),
        ("pause", {}, "subscription_id"),
        ("replay", {"subscription_id": SEEDED}, "from_offset"),
        ("replay", {"subscription_id": SEEDED, "from_offset": "-3"}, "from_offset"),
        ("update", {"subscription_id": SEEDED, "name": "x"}, "callback_uri"),
    ],
)
def test_other_actions_validated_before_any_call(
    emulator: EmulatorProcess, action: str, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(CelonisConfigurationError, match=field):
        run(action, **kwargs)
    assert emulator.stats()["api_calls"] == 0


def test_failed_events_to_file_then_none_left(emulator: EmulatorProcess, tmp_path: Path) -> None:
    op = CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(tmp_path / "failed.jsonl")
    )
    assert op.execute(CONTEXT) == {"path": str(tmp_path / "failed.jsonl"), "records": 7}
    events = [json.loads(line) for line in (tmp_path / "failed.jsonl").read_text().splitlines()]
    assert [e["offset"] for e in events] == list(range(1000, 1007))
    assert events[0]["event"]["identifier"] == "ORD-000000"
    assert (
        emulator.requests_to("PATCH", f"/intelligence/api/subscriptions/{SEEDED}/events") == 4
    )  # 3+3+1+empty
    again = CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(tmp_path / "again.csv"), output_format="csv"
    )
    assert again.execute(CONTEXT)["records"] == 0


def offsets(path: Path) -> list[int]:
    return [json.loads(line)["offset"] for line in path.read_text().splitlines()]


def test_failed_events_max_events_keeps_whole_pages(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """The page that reaches max_events is written whole: Celonis will not return it again."""
    first = CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(tmp_path / "f.jsonl"), max_events=2
    )
    assert first.execute(CONTEXT)["records"] == 3  # one page of 3 [guess page size]
    rest = CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(tmp_path / "g.jsonl")
    )
    assert rest.execute(CONTEXT)["records"] == 4
    assert offsets(tmp_path / "f.jsonl") + offsets(tmp_path / "g.jsonl") == list(range(1000, 1007))


def test_failed_events_already_read_are_saved_when_a_later_page_fails(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.add_faults(
        # a refusal (4xx) proves the cursor did not move; a 5xx would not (see test_intelligence_lost_pages)
        [{"path": "/events$", "method": "PATCH", "kind": "status", "status": 400, "skip": 1, "times": -1}]
    )
    out = tmp_path / "failed.jsonl"
    op = CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(out), hook_params={"max_attempts": 1}
    )
    with pytest.raises(CelonisError, match="stopped after 3 events") as caught:
        op.execute(CONTEXT)
    (saved,) = tmp_path.glob("failed.jsonl.recovered-*.jsonl")
    assert str(saved) in str(caught.value)
    assert offsets(saved) == [1000, 1001, 1002]
    assert not out.exists()  # the output itself is written only by a complete read
    emulator.clear_faults()
    op.execute(CONTEXT)
    assert offsets(out) == [1003, 1004, 1005, 1006]  # nothing lost: recovered + output = all


def test_failed_events_cursor_that_does_not_advance_fails_fast(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.configure_subscriptions(events_cursor_advances=False)
    op = CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(tmp_path / "f.jsonl")
    )
    with pytest.raises(CelonisError, match="cursor does not advance"):
        op.execute(CONTEXT)
    assert emulator.requests_to("PATCH", f"/intelligence/api/subscriptions/{SEEDED}/events") == 2
    (saved,) = tmp_path.glob("f.jsonl.recovered-*.jsonl")
    assert offsets(saved) == [1000, 1001, 1002]


def test_failed_events_page_cap_is_an_error(emulator: EmulatorProcess) -> None:
    hook = CelonisEventSubscriptionHook()
    pages = hook.iter_failed_event_pages(SEEDED, max_pages=2)
    assert [len(p) for p in itertools.islice(pages, 2)] == [3, 3]
    with pytest.raises(CelonisError, match="still not empty after 2 pages"):
        next(pages)


def test_subscription_ids_are_one_path_segment(emulator: EmulatorProcess) -> None:
    """An id holding "/" stays one segment: unencoded, "x/../<id>" would reach <id> (dot segments)."""
    hook = CelonisEventSubscriptionHook()
    with pytest.raises(CelonisNotFoundError, match=r"x%2F..%2F"):
        hook.pause(f"x/../{SEEDED}")
    assert sub(emulator, SEEDED)["status"] == "failed"  # type: ignore[index]
    assert emulator.requests_to("PATCH", f"/intelligence/api/subscriptions/{SEEDED}/pause") == 0
    with pytest.raises(CelonisNotFoundError):
        hook.get_trigger(KM, "x/../trg-late-orders")
    # the same path unencoded is another endpoint's: what the encoding prevents
    unencoded = f"/api/knowledge-models/{KM}/triggers/x/../trg-late-orders"
    assert hook.request_json("GET", unencoded, api=EVENT_SUBSCRIPTION)["id"] == TRIGGER


def test_emulator_callback_checks_and_switch(emulator: EmulatorProcess) -> None:
    from airflow_provider_celonis.hooks import event_subscriptions

    hook = CelonisEventSubscriptionHook()
    upper = hook.create_subscription(KM, TRIGGER, name="upper", callback_uri="HTTPS://hooks.example.com/x")
    assert sub(emulator, upper) is not None  # the https check is case-insensitive, as in the hook
    bad = {"name": "x", "callbackInfo": {"uri": "http://plain.example.com", "headers": {}}}
    ids = {"km_id": KM, "trigger_id": TRIGGER}
    create = Call(
        EVENT_SUBSCRIPTION,
        "POST",
        event_subscriptions.TRIGGER + "/subscriptions",
        ids,
        {"json": bad},
        reads_answer=True,
    )
    with pytest.raises(CelonisBadRequestError, match="https"):
        hook.call(create)
    emulator.configure_subscriptions(reject_invalid_callback=False)
    assert hook.call(create)["id"]


def test_hook_lists_triggers_and_subscriptions(emulator: EmulatorProcess) -> None:
    hook = CelonisEventSubscriptionHook()
    assert {t["id"] for t in hook.list_triggers(KM)} == {"trg-late-orders", "trg-new-customer"}
    assert hook.get_trigger(KM, TRIGGER)["name"] == "Late orders"
    assert [s["id"] for s in hook.list_subscriptions()] == [SEEDED]
    with pytest.raises(CelonisNotFoundError):
        hook.create_subscription(KM, "trg-missing", name="x", callback_uri="https://x.example.com")


def test_missing_scope(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.add_client("no-subs", "secret", scopes=["studio"])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("no-subs", "secret")))
    with pytest.raises(CelonisInvalidScopeError, match=r"intelligence\.subscriptions:manage"):
        run("pause", subscription_id=SEEDED)
