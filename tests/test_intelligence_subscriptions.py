"""Event subscriptions: every action, callback validation before any call, failed events, scope."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisBadRequestError,
    CelonisConfigurationError,
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


def test_create_returns_the_id_and_keeps_secrets_out_of_logs(
    emulator: EmulatorProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    sub_id = create()
    created = sub(emulator, sub_id)
    assert created is not None and created["status"] == "ACTIVE" and created["triggerId"] == TRIGGER
    assert created["callbackInfo"]["headers"]["Authorization"] == SECRET
    assert SECRET not in capsys.readouterr().out


def test_every_status_action(emulator: EmulatorProcess) -> None:
    sub_id = create()
    assert run("pause", subscription_id=sub_id) == sub_id
    assert sub(emulator, sub_id)["status"] == "PAUSED"  # type: ignore[index]
    run("resume", subscription_id=sub_id)
    assert sub(emulator, sub_id)["status"] == "ACTIVE"  # type: ignore[index]
    run("replay", subscription_id=sub_id, from_offset=17)
    assert sub(emulator, sub_id)["offset"] == 17  # type: ignore[index]
    run("pause", subscription_id=sub_id)
    run("resume_from_latest", subscription_id=sub_id)
    current = sub(emulator, sub_id)
    assert current is not None and (current["status"], current["offset"]) == ("ACTIVE", 1042)
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


def test_failed_events_max_events(emulator: EmulatorProcess, tmp_path: Path) -> None:
    op = CelonisSubscriptionFailedEventsOperator(
        task_id="failed", subscription_id=SEEDED, output_path=str(tmp_path / "f.jsonl"), max_events=2
    )
    assert op.execute(CONTEXT)["records"] == 2


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
