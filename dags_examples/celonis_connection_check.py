"""Check a Celonis connection and read the team's members through CelonisOAuthHook.

The smallest useful Celonis DAG: it proves the OAuth client, its scopes and permissions
work before heavier DAGs run. Run it against the emulator with ``make demo``, or point
``celonis_default`` at your team. Needs scope ``team.user-group-info:read`` and the team
permission "Use User Group Info API".
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="celonis_connection_check",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    tags=["celonis", "example"],
)
def celonis_connection_check() -> None:
    @task
    def test_connection() -> str:
        from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

        ok, message = CelonisOAuthHook().test_connection()
        if not ok:
            raise RuntimeError(message)
        print(f"DEMO: {message}")
        return "ok"

    @task
    def count_members(_: str) -> int:
        from airflow_provider_celonis.client.apis import TEAM_MEMBERS
        from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

        hook = CelonisOAuthHook()
        total, page = 0, 0
        while True:
            body = hook.request_json(
                "GET",
                "/api/external/members",
                api=TEAM_MEMBERS,
                params={"includeInternal": "true", "pageNumber": page, "pageSize": 200},
            )
            if not body or not body.get("content"):
                break
            total += len(body["content"])
            page += 1
        print(f"DEMO: the team has {total} members")
        return total

    count_members(test_connection())


celonis_connection_check()
