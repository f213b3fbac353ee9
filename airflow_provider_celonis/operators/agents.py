"""Process Intelligence operators for AI: ask a Celonis agent, call a Studio asset's tool.

Scopes ``intelligence.conversations:write`` and ``intelligence.tools:execute``; see
docs/process-intelligence.md. Also importable from
:mod:`airflow_provider_celonis.operators.intelligence` (their first home).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.operators._base import CelonisOperatorBase

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["CelonisAgentChatOperator", "CelonisToolOperator"]


class CelonisAgentChatOperator(CelonisOperatorBase):
    """Ask a Celonis AI agent; returns ``{"conversationId", "text", "structuredOutput"}`` (XCom).

    Pass the returned ``conversationId`` to a later task's ``conversation_id`` to continue the
    conversation. A 409 (the conversation already has a message in progress) fails with an
    explanation; the message is never sent twice by the hook.

    :param agent_id: the agent's id. :param message: the question (templated).
    :param conversation_id: continue this conversation (templated; default: a new one).
    """

    template_fields: Sequence[str] = ("agent_id", "message", "conversation_id")

    def __init__(
        self, *, agent_id: str, message: str, conversation_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.agent_id = agent_id
        self.message = message
        self.conversation_id = conversation_id

    def execute(self, context: Context) -> dict[str, Any]:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.chat import CelonisChatHook

        self._require(agent_id=self.agent_id, message=self.message)
        hook = CelonisChatHook(self.celonis_conn_id, **self.hook_params)
        answer = hook.send_message(str(self.agent_id), str(self.message), self.conversation_id or None)
        self.log.info(
            "Agent %s answered in conversation %s (%d characters)",
            self.agent_id,
            answer["conversationId"],
            len(answer["text"] or ""),
        )
        return answer


class CelonisToolOperator(CelonisOperatorBase):
    """Call a tool of a Studio asset and return its JSON or text result (XCom).

    [guess] The request body is undocumented: by default the ``arguments`` dict is the JSON
    body; set ``arguments_key="arguments"`` to send ``{"arguments": {...}}``. See
    docs/process-intelligence.md.

    :param asset_id: the Studio asset (MCP server). :param tool_id: e.g. ``load-data``.
    :param arguments: the tool's arguments (templated; dict or JSON text).
    :param draft: call the asset's draft version.
    :param arguments_key: wrap the arguments under this key ([guess], default none).
    :param idempotent: the tool only reads, so the hook may retry it after 5xx/network errors.
    """

    template_fields: Sequence[str] = ("asset_id", "tool_id", "arguments")

    def __init__(
        self,
        *,
        asset_id: str,
        tool_id: str,
        arguments: dict[str, Any] | str | None = None,
        draft: bool = False,
        arguments_key: str | None = None,
        idempotent: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.asset_id = asset_id
        self.tool_id = tool_id
        self.arguments = arguments
        self.draft = draft
        self.arguments_key = arguments_key
        self.idempotent = idempotent

    def execute(self, context: Context) -> Any:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.tools import CelonisToolsHook, tool_body

        self._require(asset_id=self.asset_id, tool_id=self.tool_id)
        for name in ("draft", "idempotent"):
            if not isinstance(getattr(self, name), bool):
                raise CelonisConfigurationError(
                    name, f"is {getattr(self, name)!r}", "use True or False", where=self.task_id
                )
        tool_body(self.arguments, self.arguments_key, where=self.task_id)  # validate before any call
        hook = CelonisToolsHook(self.celonis_conn_id, **self.hook_params)
        result = hook.call_tool(
            str(self.asset_id),
            str(self.tool_id),
            self.arguments,
            draft=self.draft,
            arguments_key=self.arguments_key,
            idempotent=self.idempotent,
        )
        self.log.info("Tool %s of asset %s returned a %s", self.tool_id, self.asset_id, type(result).__name__)
        return result
