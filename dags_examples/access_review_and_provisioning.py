"""Daily access review and joiner/leaver provisioning through Celonis's SCIM API.

1. ``access_review`` exports every SCIM user (with their groups) and group to
   ``<folder>/scim/<YYYY-MM-DD>/access_review.jsonl`` for the reviewers or the warehouse.
2. ``hr_feed`` stands in for the HR system: it lists the people who should have access. Here it
   derives them from the export (one leaver, one joiner, one changed name) so the demo shows a
   plan; in production, read your HR export instead and return the same flat records
   (``userName``, ``givenName``, ``familyName``, ``email``, ``externalId``, ``active``).
3. ``provision`` compares the two and logs the plan: create the joiners, update changed
   attributes, deactivate (``active: false``, never delete) the leavers. It runs with
   ``dry_run=True``: read the plan in the task log, then set ``dry_run=False`` to apply.
   The default caps (at most 10% of the active users, at least 3, deactivated or created per
   run) stop a truncated HR file from deactivating half the team; a broken file is refused
   before any call. The plan is also pushed as XCom ``plan`` (docs/scim.md, safety rules).

The folder is the Airflow Variable ``celonis_extract_dir``, else the environment variable
``CELONIS_EXTRACT_DIR``, else ``/tmp/celonis-extracts``, read when the task runs. Scope
``user-provisioning.scim`` and the user-provisioning permission "SCIM" (docs/scim.md). If your
team serves SCIM under ``/user-provisioning``, set the connection extra
``{"api_prefixes": {"scim": "/user-provisioning"}}``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pendulum
from airflow.sdk import dag, task

from airflow_provider_celonis.operators.scim import CelonisScimExportOperator, CelonisScimSyncUsersOperator

DEFAULT_DIR = "/tmp/celonis-extracts"  # noqa: S108 - a demo default; set the Variable in production


def extract_dir_from_env() -> str:
    """Called while templates render (at run time): the environment's folder or the default."""
    return os.environ.get("CELONIS_EXTRACT_DIR") or DEFAULT_DIR


FOLDER = "{{ var.value.get('celonis_extract_dir', extract_dir_from_env()) }}"


@dag(
    dag_id="access_review_and_provisioning",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # two syncs must never interleave
    user_defined_macros={"extract_dir_from_env": extract_dir_from_env},
    default_args={"retries": 1, "retry_delay": pendulum.duration(minutes=5)},
    tags=["celonis", "example", "scim"],
)
def access_review_and_provisioning() -> None:
    review = CelonisScimExportOperator(
        task_id="access_review", output_path=f"{FOLDER}/scim/{{{{ ds }}}}/access_review.jsonl"
    )

    @task
    def hr_feed(export: dict[str, Any]) -> list[dict[str, Any]]:
        """The desired users. Demo: today's active users, minus a leaver, plus a joiner."""
        with open(export["path"], encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle]
        people = [
            {
                "userName": r["userName"],
                "externalId": r.get("externalId"),
                "givenName": (r.get("name") or {}).get("givenName"),
                "familyName": (r.get("name") or {}).get("familyName"),
            }
            for r in records
            if r["resourceType"] == "User" and r.get("active")
        ]
        people.sort(key=lambda p: p["userName"])
        people.pop()  # a leaver
        people[0]["familyName"] = "Married-Name"  # a changed attribute
        people.append({"userName": "new.joiner@example.com", "givenName": "New", "familyName": "Joiner"})
        print(f"DEMO: the HR feed lists {len(people)} people")
        return people

    provision = CelonisScimSyncUsersOperator(
        task_id="provision",
        users=hr_feed(review.output),
        deactivate_missing=True,  # capped by default; raise max_deactivations only for a reviewed plan
        dry_run=True,
    )

    @task
    def report(plan: dict[str, Any]) -> None:
        print(
            f"DEMO: SCIM plan (dry run={plan['dry_run']}): create {plan['create']}, update {plan['update']}, "
            f"deactivate {plan['deactivate']}, unchanged {plan['unchanged']}"
        )

    report(provision.output)


access_review_and_provisioning()
