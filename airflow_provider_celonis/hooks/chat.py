"""``CelonisChatHook``: send a message to a Celonis AI agent and get its answer (Chat API).

Scope ``intelligence.conversations:write``. ``POST /intelligence/api/ai/agents/{agentId}/
conversations`` with ``{message, conversationId?}`` answers ``{conversationId, text,
structuredOutput?}``; send the returned ``conversationId`` to continue the conversation. The
POST is never replayed after it may have reached Celonis (the agent would answer twice).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.client.apis import CHAT
from airflow_provider_celonis.client.calls import Call, reworded
from airflow_provider_celonis.client.intelligence_pages import read_answer, unexpected
from airflow_provider_celonis.exceptions import (
    CelonisApiError,
    CelonisConfigurationError,
    CelonisConflictError,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

CONVERSATIONS = "/api/ai/agents/{agent_id}/conversations"


class CelonisChatHook(CelonisOAuthHook):
    """Chat API calls; same arguments as :class:`CelonisOAuthHook`."""

    def send_message(self, agent_id: str, message: str, conversation_id: str | None = None) -> dict[str, Any]:
        """The agent's answer as ``{"conversationId", "text", "structuredOutput"}``.

        A 409 means the conversation already has a message in progress (meaning not documented,
        a [guess]); it is raised as :class:`CelonisConflictError` with that explanation.
        """
        if not agent_id:
            raise CelonisConfigurationError("agent_id", "is empty", "give the agent's id from Celonis Studio")
        if not isinstance(message, str) or not message.strip():
            raise CelonisConfigurationError("message", "is empty", "pass the question to ask the agent")
        body: dict[str, Any] = {"message": message}
        if conversation_id:
            body["conversationId"] = conversation_id
        call = Call(CHAT, "POST", CONVERSATIONS, {"agent_id": agent_id}, {"json": body}, reads_answer=True)
        path, what = call.path, f"Celonis agent {agent_id}"
        with self.call_response(call) as response:
            answer = read_answer(response, what=what, method="POST", path=path)
        result = answer.body
        if not isinstance(result, dict) or not result.get("conversationId"):
            # a 200 without a conversation is no answer: a green task must not return nothing
            raise unexpected(
                what,
                "the answer has no conversationId (the message may have reached the agent: check the "
                "conversation in Celonis before sending it again)",
                method="POST",
                path=path,
                status=answer.status,
                content_type=answer.content_type,
                raw=result,
            )
        return {
            "conversationId": result.get("conversationId"),
            "text": result.get("text"),
            "structuredOutput": result.get("structuredOutput"),
        }

    def explain(self, err: CelonisApiError, call: Call) -> CelonisApiError:
        """A 409 says the conversation already has a message in progress ([guess])."""
        if not isinstance(err, CelonisConflictError):
            return err
        conversation_id = dict(call.kwargs.get("json") or {}).get("conversationId")
        which = f"conversation {conversation_id}" if conversation_id else "the new conversation"
        return reworded(
            err,
            f"Celonis agent {call.ids['agent_id']} refused the message with 409 Conflict: {which} already "
            f"has a message in progress ({err.detail or 'no detail'}).",
            "do not send to one conversation from parallel tasks (use an Airflow pool of size 1, or "
            "start a new conversation); retry the task once the previous answer has arrived",
        )
