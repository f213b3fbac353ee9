"""Nightly usage extracts: audit log, login history and Studio adoption for each day, plus members.

Each run pulls exactly its data interval (midnight to midnight UTC), so runs are independent
delta loads: re-running a day rewrites the same bytes, and a backfill
(``airflow backfill create --dag-id nightly_audit_pull --from-date ... --to-date ...``, or
``CELONIS_EXTRACT_CATCHUP=true``) fills history day by day.

Files go to ``<folder>/<api>/<YYYY-MM-DD>.jsonl``; the folder is the Airflow Variable
``celonis_extract_dir``, else the environment variable ``CELONIS_EXTRACT_DIR``, else
``/tmp/celonis-extracts``. Both are read when the task runs, never while the DAG is parsed.
The folder may also be a URI that ``ObjectStoragePath`` handles (``s3://bucket/celonis``).

Late events: each windowed extract waits until its interval ended ``settle_period`` ago (15
minutes by default; the 00:00 run pulls at 00:15), and the audit log task then re-checks the
three previous days, rewriting a day's file if late events arrived (``recheck_intervals``;
its summary is in the task's XCom under ``recheck``). See docs/usage-extracts.md.

Scopes the OAuth client needs: ``audit.log:read``, ``team.login-history:read``,
``platform-adoption.tracking-events:read`` and ``team.user-group-info:read``, each with its
team permission (see docs/usage-extracts.md).
"""

from __future__ import annotations

import os
from typing import Any

import pendulum
from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_celonis.operators.usage import (
    CelonisAuditLogOperator,
    CelonisLoginHistoryOperator,
    CelonisStudioAdoptionOperator,
    CelonisTeamMembersOperator,
)

DEFAULT_DIR = "/tmp/celonis-extracts"  # noqa: S108 - a demo default; set the Variable in production


def extract_dir_from_env() -> str:
    """Called while templates render (at run time): the environment's folder or the default."""
    return os.environ.get("CELONIS_EXTRACT_DIR") or DEFAULT_DIR


FOLDER = "{{ var.value.get('celonis_extract_dir', extract_dir_from_env()) }}"
DAY = "{{ data_interval_start.strftime('%Y-%m-%d') }}"


@dag(
    dag_id="nightly_audit_pull",
    # An interval timetable: Airflow 3's plain cron schedule gives runs an empty data interval.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=os.environ.get("CELONIS_EXTRACT_CATCHUP", "false").lower() == "true",
    max_active_runs=4,
    user_defined_macros={"extract_dir_from_env": extract_dir_from_env},
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=5)},
    tags=["celonis", "example", "usage"],
)
def nightly_audit_pull() -> None:
    audit = CelonisAuditLogOperator(
        task_id="audit_log",
        output_path=f"{FOLDER}/audit_log/{DAY}.jsonl",
        # After tonight's pull, pull the three previous days again and rewrite any whose count
        # changed (same file name, same order): costs three more days of page calls a night.
        recheck_intervals=3,
    )
    logins = CelonisLoginHistoryOperator(
        task_id="login_history", output_path=f"{FOLDER}/login_history/{DAY}.jsonl"
    )
    adoption = CelonisStudioAdoptionOperator(
        task_id="studio_adoption", output_path=f"{FOLDER}/studio_adoption/{DAY}.jsonl"
    )
    members = CelonisTeamMembersOperator(
        task_id="team_members", output_path=f"{FOLDER}/team_members/{DAY}.jsonl"
    )

    @task
    def report(*results: dict[str, Any]) -> int:
        """Print what each extract wrote; the counts are the XCom summaries, never records."""
        for result in results:
            print(f"DEMO: {result['records']} records -> {result['path']}")
            if "recheck" in result:
                print(f"DEMO: re-check {result['recheck']}")
        return sum(int(result["records"]) for result in results)

    report(audit.output, logins.output, adoption.output, members.output)


nightly_audit_pull()
