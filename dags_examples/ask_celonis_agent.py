"""Ask a Celonis AI agent a question, then a follow-up in the same conversation.

``ask`` starts a conversation; ``follow_up`` continues it with the ``conversationId`` the first
answer returned (XCom). A conversation that already has a message in progress answers 409 and
the task fails with an explanation: the hook never sends a message twice. The answers are in
XCom (``{"conversationId", "text", "structuredOutput"}``).

The agent id is the emulator's; the OAuth client needs scope ``intelligence.conversations:write``.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_celonis.operators.intelligence import CelonisAgentChatOperator

AGENT_ID = "order-assistant"


@dag(
    dag_id="ask_celonis_agent",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example", "process-intelligence"],
)
def ask_celonis_agent() -> None:
    ask = CelonisAgentChatOperator(
        task_id="ask", agent_id=AGENT_ID, message="How many open orders are there?"
    )
    follow_up = CelonisAgentChatOperator(
        task_id="follow_up",
        agent_id=AGENT_ID,
        message="Hello again: how many open orders are there now?",
        conversation_id="{{ ti.xcom_pull(task_ids='ask')['conversationId'] }}",
    )

    @task
    def report(first: dict[str, Any], second: dict[str, Any]) -> None:
        same = first["conversationId"] == second["conversationId"]
        print(f"DEMO: agent answered {first['text']!r}; follow-up in the same conversation: {same}")

    ask >> follow_up
    report(ask.output, follow_up.output)


ask_celonis_agent()
