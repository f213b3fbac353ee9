"""Agent chat and Studio tool calls against the emulator: answers, conversations, 409, bodies, scope."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisBadRequestError,
    CelonisConfigurationError,
    CelonisConflictError,
    CelonisInvalidScopeError,
    CelonisNotFoundError,
)
from airflow_provider_celonis.operators.intelligence import CelonisAgentChatOperator, CelonisToolOperator

AGENT, ASSET = "order-assistant", "asset-order-insights"
CHAT_PATH = f"/intelligence/api/ai/agents/{AGENT}/conversations"
CONTEXT: dict[str, Any] = {"ds": "2025-01-02", "run_id": "manual__2025-01-02"}


def chat(message: str, **kwargs: Any) -> dict[str, Any]:
    op = CelonisAgentChatOperator(
        task_id="ask", agent_id=kwargs.pop("agent_id", AGENT), message=message, **kwargs
    )
    result: dict[str, Any] = op.execute(CONTEXT)
    return result


def test_agent_answers_deterministically_and_continues_the_conversation(emulator: EmulatorProcess) -> None:
    first = chat("How many open orders are there?")
    assert set(first) == {"conversationId", "text", "structuredOutput"}
    assert first["text"] == "There are 3000 open orders in the Order to Cash model."
    assert first["structuredOutput"] == {"intent": "count_open_orders", "openOrders": 3000, "turn": 1}
    second = chat("hello", conversation_id=first["conversationId"])
    assert second["conversationId"] == first["conversationId"] and second["structuredOutput"]["turn"] == 2
    assert chat("How many open orders are there?")["text"] == first["text"]


def test_message_is_templated(emulator: EmulatorProcess) -> None:
    op = CelonisAgentChatOperator(task_id="ask", agent_id=AGENT, message="{{ params.q }} on {{ ds }}")
    op.render_template_fields({**CONTEXT, "params": {"q": "open orders"}})
    assert op.message == "open orders on 2025-01-02"
    assert op.execute(CONTEXT)["structuredOutput"]["intent"] == "count_open_orders"


def test_busy_conversation_409_is_explained_and_not_resent(emulator: EmulatorProcess) -> None:
    conversation = chat("hello")["conversationId"]
    emulator.set_conversation_busy(conversation)
    with pytest.raises(CelonisConflictError, match="already has a message in progress") as caught:
        chat("hello again", conversation_id=conversation)
    assert "parallel tasks" in str(caught.value)
    assert emulator.requests_to("POST", CHAT_PATH) == 2


def test_chat_errors(emulator: EmulatorProcess) -> None:
    with pytest.raises(CelonisNotFoundError, match="Agent nobody not found"):
        chat("hi", agent_id="nobody")
    with pytest.raises(CelonisNotFoundError, match="Conversation"):
        chat("hi", conversation_id="no-such-conversation")
    with pytest.raises(CelonisConfigurationError, match="message"):
        chat("")
    with pytest.raises(CelonisConfigurationError, match="agent_id"):
        chat("hi", agent_id="")


def test_chat_post_is_not_replayed_after_a_gateway_error(emulator: EmulatorProcess) -> None:
    from airflow_provider_celonis.exceptions import CelonisRequestMaybeSentError

    emulator.add_faults([{"path": CHAT_PATH, "status": 502, "process": True}])
    with pytest.raises(CelonisRequestMaybeSentError):
        chat("hello", hook_params={"min_wait": 0.01, "max_wait": 0.02})
    assert emulator.requests_to("POST", CHAT_PATH) == 1


def tool(tool_id: str, **kwargs: Any) -> Any:
    return CelonisToolOperator(
        task_id="tool", asset_id=kwargs.pop("asset_id", ASSET), tool_id=tool_id, **kwargs
    ).execute(CONTEXT)


def test_tool_returns_json_object_or_text(emulator: EmulatorProcess) -> None:
    page = tool("load-data", arguments={"page": 1, "page_size": 5, "status": "OPEN"})
    assert (page["page"], page["page_size"], page["total"]) == (1, 5, 100)
    assert [r["id"] for r in page["data_frame_content"]["data"]][:1] == ["ORD-000020"]
    assert {c["id"] for c in page["data_frame_content"]["schema"]} >= {"id", "amount"}
    assert (
        tool("search-data", arguments='{"query": "Customer 001"}')
        == "Found 10 customers matching 'Customer 001'."
    )


def test_draft_only_tool(emulator: EmulatorProcess) -> None:
    with pytest.raises(CelonisNotFoundError):
        tool("summarize")
    assert tool("summarize", draft=True).startswith("Draft summary")


def test_wrapped_body_variant(emulator: EmulatorProcess) -> None:
    emulator.configure_tools(tool_body="wrapped")
    with pytest.raises(CelonisBadRequestError):
        tool("search-data", arguments={"query": "Customer"})
    assert "Found 250" in tool("search-data", arguments={"query": "Customer"}, arguments_key="arguments")


def test_tool_errors(emulator: EmulatorProcess) -> None:
    with pytest.raises(CelonisNotFoundError, match="Asset not found"):
        tool("load-data", asset_id="asset-missing")
    with pytest.raises(CelonisBadRequestError, match=r"422.*colour: unknown or invalid argument"):
        tool("load-data", arguments={"colour": "red"})
    for kwargs, field in (
        ({"arguments": "not json"}, "arguments"),
        ({"arguments": [1, 2]}, "arguments"),
        ({"draft": "yes"}, "draft"),
        ({"idempotent": "false"}, "idempotent"),
        ({"arguments_key": 7}, "arguments_key"),
        ({"arguments_key": ""}, "arguments_key"),
        ({"asset_id": ""}, "asset_id"),
    ):
        with pytest.raises(CelonisConfigurationError, match=field) as caught:
            tool("load-data", **kwargs)
        assert str(caught.value).startswith("tool: ")  # names the task
    assert emulator.stats()["api_calls"] == 2


def test_ids_are_one_path_segment(emulator: EmulatorProcess) -> None:
    """Unencoded, "x/../<id>" would reach <id> (dot segments); encoded, it is that id's 404."""
    with pytest.raises(CelonisNotFoundError, match=r"x%2F..%2F"):
        tool("x/../search-data", arguments={"query": "Customer"})
    with pytest.raises(CelonisNotFoundError, match=r"x%2F..%2F"):
        tool("search-data", asset_id=f"x/../{ASSET}", arguments={"query": "Customer"})
    with pytest.raises(CelonisNotFoundError, match=r"x%2F..%2F"):
        chat("hello", agent_id=f"x/../{AGENT}")
    assert emulator.requests_to("POST", CHAT_PATH) == 0


def test_scopes(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.add_client("narrow", "secret", scopes=["studio"])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("narrow", "secret")))
    with pytest.raises(CelonisInvalidScopeError, match=r"intelligence\.conversations:write"):
        chat("hello")
    with pytest.raises(CelonisInvalidScopeError, match=r"intelligence\.tools:execute"):
        tool("search-data", arguments={"query": "x"})
    emulator.add_client("mcp", "secret", scopes=["mcp-asset.tools:execute"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        emulator.connection_json(("mcp", "secret"), scopes={"tools": "mcp-asset.tools:execute"}),
    )
    assert tool("search-data", arguments={"query": "Customer 0002"}).startswith("Found 1 ")
