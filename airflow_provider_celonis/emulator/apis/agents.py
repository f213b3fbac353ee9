"""Chat API (AI agent conversations) and Tools API (asset tool calls), docs/celonis-api.md 5.3-5.4.

The agent ``order-assistant`` answers deterministically from the emulated Knowledge Model, so a
DAG's downstream tasks can be tested: the same message gives the same text and
``structuredOutput``. A 409 is answered while a conversation "has a message in flight" [guess],
which a test switches on with ``POST /_emulator/chat/conversations/{id}/busy``; ``POST
/_emulator/chat/settings {"answer_without_conversation": true}`` makes the agent act on a
message but answer ``{}`` (a 200 that is no answer).

The Tools API has no documented request body; the emulator accepts the tool arguments as the
JSON body (``tool_body: "plain"``, default) or wrapped as ``{"arguments": {...}}``
(``"wrapped"``), switched with ``POST /_emulator/tools/settings``. ``draft=true`` selects the
asset's draft version, which has one more tool (``summarize``).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.oauth import Principal, requires, state_of
from airflow_provider_celonis.emulator.stores import knowledge_model as km_data
from airflow_provider_celonis.emulator.stores.state import EmulatorState

router = APIRouter()
AGENTS = {"order-assistant": "Order Assistant"}
ASSET_ID = "asset-order-insights"
TOOLS = {"search-data": False, "load-data": False, "summarize": True}
"""Tool id -> draft only."""


def init_state(state: EmulatorState) -> None:
    state.ext["agents"] = {"conversations": {}, "busy": set(), "tool_body": "plain"}


def _agent_problem(status: int, title: str, detail: str, instance: str) -> JSONResponse:
    """The Agents spec's ``Problem {type, title, status, detail, instance}``."""
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance},
        status_code=status,
        media_type="application/problem+json",
    )


def answer(message: str, turn: int) -> tuple[str, dict[str, Any]]:
    """A deterministic reply: counts the emulated open orders, echoes the question."""
    open_orders = sum(1 for i in range(12_000) if i % 4 == 0)
    words = message.lower()
    intent = "count_open_orders" if "open" in words else "smalltalk" if "hello" in words else "unknown"
    text = (
        f"There are {open_orders} open orders in the Order to Cash model."
        if intent == "count_open_orders"
        else "Hello! Ask me about open orders."
        if intent == "smalltalk"
        else f"I cannot answer '{message}' yet; try asking about open orders."
    )
    return text, {
        "intent": intent,
        "openOrders": open_orders if intent == "count_open_orders" else None,
        "turn": turn,
    }


@router.post("/intelligence/api/ai/agents/{agent_id}/conversations")
async def converse(
    request: Request, agent_id: str, principal: Principal = Depends(requires("chat"))
) -> Response:
    instance = request.url.path
    if agent_id not in AGENTS:
        return _agent_problem(404, "Not Found", f"Agent {agent_id} not found", instance)
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("message"), str) or not body["message"].strip():
        return _agent_problem(400, "Bad Request", "'message' is required", instance)
    data = state_of(request).ext["agents"]
    conversation_id = body.get("conversationId")
    with state_of(request).lock:
        if conversation_id is None:
            conversation_id = str(uuid.uuid4())
            data["conversations"][conversation_id] = {"agent": agent_id, "turns": 0}
        conversation = data["conversations"].get(conversation_id)
        if conversation is None or conversation["agent"] != agent_id:
            return _agent_problem(404, "Not Found", f"Conversation {conversation_id} not found", instance)
        if conversation_id in data["busy"]:
            return _agent_problem(
                409, "Conflict", f"Conversation {conversation_id} already has a message in progress", instance
            )
        conversation["turns"] += 1
        turn = conversation["turns"]
    text, structured = answer(body["message"], turn)
    if data.get("answer_without_conversation"):
        return JSONResponse({})
    return JSONResponse({"conversationId": conversation_id, "text": text, "structuredOutput": structured})


def _tool_problems(errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(errors, status_code=422)


@router.post("/studio-copilot/api/v1/mcp-servers/mcp/{asset_id}/tool-api/{tool_id}")
async def call_tool(
    request: Request, asset_id: str, tool_id: str, principal: Principal = Depends(requires("tools"))
) -> Response:
    draft = request.query_params.get("draft", "false").lower() == "true"
    if asset_id != ASSET_ID:
        return problems.problem(404, "Asset not found", "ASSET_NOT_FOUND")
    if tool_id not in TOOLS or (TOOLS[tool_id] and not draft):
        return problems.problem(404, f"Tool {tool_id} not found in asset {asset_id}", "TOOL_NOT_FOUND")
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return _tool_problems([{"error": "Body is not JSON", "attribute": None, "errorCode": "INVALID_BODY"}])
    if state_of(request).ext["agents"]["tool_body"] == "wrapped":
        body = body.get("arguments") if isinstance(body, dict) else None
    if not isinstance(body, dict):
        return _tool_problems(
            [{"error": "Arguments must be an object", "attribute": None, "errorCode": "INVALID"}]
        )
    return _run_tool(tool_id, body)


def _run_tool(tool_id: str, args: dict[str, Any]) -> Response:
    if tool_id == "search-data":
        query = args.get("query")
        if not isinstance(query, str) or not query:
            return _tool_problems(
                [
                    {
                        "error": "must not be empty",
                        "attribute": "query",
                        "errorCode": "NOT_EMPTY",
                        "additionalInfo": None,
                    }
                ]
            )
        hits = [c for c in (km_data.customer(i) for i in range(250)) if query.lower() in c["name"].lower()]
        return JSONResponse(f"Found {len(hits)} customers matching '{query}'.")
    if tool_id == "summarize":
        return JSONResponse("Draft summary: 12000 orders, 3000 open.")
    page, size = args.get("page", 0), args.get("page_size", 20)
    unknown = sorted(set(args) - {"page", "page_size", "status"})
    if unknown or not isinstance(page, int) or not isinstance(size, int) or size < 1:
        return _tool_problems(
            [
                {"error": "unknown or invalid argument", "attribute": name, "errorCode": "INVALID_ARGUMENT"}
                for name in unknown or ["page_size"]
            ]
        )
    rows = [km_data.order(i) for i in range(400)]
    if args.get("status"):
        rows = [r for r in rows if r["status"] == args["status"]]
    schema = [{"id": k, "type": t, "displayName": k.title()} for k, t in km_data.FIELDS["ORDER"].items()]
    return JSONResponse(
        {
            "page": page,
            "page_size": size,
            "total": len(rows),
            "data_frame_content": {"data": rows[page * size : (page + 1) * size], "schema": schema},
        }
    )


# -- control -------------------------------------------------------------------------------
@router.post("/_emulator/chat/conversations/{conversation_id}/busy")
def set_busy(request: Request, conversation_id: str, busy: bool = Body(True, embed=True)) -> dict[str, Any]:
    data = state_of(request).ext["agents"]
    with state_of(request).lock:
        (data["busy"].add if busy else data["busy"].discard)(conversation_id)
    return {"busy": sorted(data["busy"])}


@router.post("/_emulator/chat/settings")
def chat_settings(request: Request, values: dict[str, Any] = Body(...)) -> JSONResponse:
    if set(values) - {"answer_without_conversation"}:
        return JSONResponse(
            {"error": "settings: answer_without_conversation = true | false"}, status_code=400
        )
    with state_of(request).lock:
        state_of(request).ext["agents"]["answer_without_conversation"] = bool(
            values.get("answer_without_conversation")
        )
    return JSONResponse(values)


@router.post("/_emulator/tools/settings")
def tool_settings(request: Request, values: dict[str, Any] = Body(...)) -> JSONResponse:
    if set(values) - {"tool_body"} or values.get("tool_body", "plain") not in ("plain", "wrapped"):
        return JSONResponse({"error": "settings: tool_body = plain | wrapped"}, status_code=400)
    state_of(request).ext["agents"].update(values)
    return JSONResponse({"tool_body": state_of(request).ext["agents"]["tool_body"]})
