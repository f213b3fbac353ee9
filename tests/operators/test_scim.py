"""The SCIM export and sync operators, run through ``execute`` against the emulator."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisError,
    CelonisPermissionError,
)
from airflow_provider_celonis.operators.scim import CelonisScimExportOperator, CelonisScimSyncUsersOperator

USERS = "/api/user-provisioning/scim/v2/Users"
CONTEXT: dict[str, Any] = {"ds": "2025-01-02", "run_id": "manual__2025-01-02", "logical_date": None}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def team_users(emulator: EmulatorProcess) -> dict[str, dict[str, Any]]:
    return {u["userName"]: u for u in emulator.scim_state()["users"]}


def counts(result: dict[str, Any]) -> dict[str, Any]:
    """The plan's counts and mode out of the operator's return value (which also lists the changes)."""
    return {k: result[k] for k in ("create", "update", "deactivate", "unchanged", "dry_run")}


def desired_from_team(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    """The team's users as an HR feed would list them (flat form): syncing it changes nothing."""
    return [
        {
            "userName": u["userName"],
            "externalId": u["externalId"],
            "givenName": u["name"]["givenName"],
            "familyName": u["name"]["familyName"],
            "email": u["emails"][0]["value"],
            "active": u["active"],
        }
        for u in emulator.scim_state()["users"]
    ]


# -- export --------------------------------------------------------------------------------
def test_export_writes_users_and_groups_ordered(emulator: EmulatorProcess, tmp_path: Path) -> None:
    op = CelonisScimExportOperator(task_id="export", output_path=str(tmp_path / "scim.jsonl"), page_size=10)
    result = op.execute(CONTEXT)
    records = read_jsonl(tmp_path / "scim.jsonl")
    assert result["records"] == len(records) == 24 + 4
    assert [r["resourceType"] for r in records] == ["Group"] * 4 + ["User"] * 24
    users = [r for r in records if r["resourceType"] == "User"]
    assert [u["id"] for u in users] == sorted(u["id"] for u in users)
    assert all("groups" in u for u in users)
    assert emulator.requests_to("GET", USERS) == 3


def test_export_csv_users_only_with_filter_and_templated_path(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    op = CelonisScimExportOperator(
        task_id="export",
        output_path=str(tmp_path / "{{ ds }}" / "users.csv"),
        output_format="csv",
        scim_resources=["Users"],
        filter_expr='displayName eq "Grace Hopper"',
    )
    op.render_template_fields(CONTEXT)
    op.execute(CONTEXT)
    rows = list(csv.DictReader((tmp_path / "2025-01-02" / "users.csv").open()))
    assert [r["userName"] for r in rows] == ["grace.hopper@example.com", "grace.hopper1@example.com"]
    assert list(rows[0])[:3] == ["resourceType", "id", "userName"]


def test_export_bad_resources_and_missing_scope(
    emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CelonisConfigurationError, match="scim_resources"):
        CelonisScimExportOperator(
            task_id="x", output_path=str(tmp_path / "a"), scim_resources=["Roles"]
        ).execute(CONTEXT)
    emulator.configure(scope_denied_status=403)
    emulator.add_client("narrow", "secret", permissions=[])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("narrow", "secret")))
    with pytest.raises(CelonisPermissionError, match="SCIM"):
        CelonisScimExportOperator(task_id="x", output_path=str(tmp_path / "a.jsonl")).execute(CONTEXT)
    assert not (tmp_path / "a.jsonl").exists()


# -- sync ----------------------------------------------------------------------------------
def test_sync_same_users_plans_only_nothing(emulator: EmulatorProcess) -> None:
    op = CelonisScimSyncUsersOperator(
        task_id="sync", users=desired_from_team(emulator), deactivate_missing=True
    )
    assert counts(op.execute(CONTEXT)) == {
        "create": 0,
        "update": 0,
        "deactivate": 0,
        "unchanged": 24,
        "dry_run": False,
    }
    assert emulator.requests_to("POST", USERS) == 0


def test_sync_plan_create_update_deactivate_then_idempotent(
    emulator: EmulatorProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    desired = desired_from_team(emulator)
    leaver = desired.pop(3)["userName"]  # edsger.dijkstra: absent from HR -> deactivate
    desired[0]["familyName"] = "King"  # ada: married name -> update
    desired[1]["active"] = False  # grace: leaves -> update active
    ken = next(d for d in desired if d["userName"] == "ken.thompson@example.com")
    assert ken["active"] is False
    ken["active"] = True  # seeded inactive, comes back -> update active
    desired.append({"userName": "new.joiner@example.com", "givenName": "New", "familyName": "Joiner"})
    op = CelonisScimSyncUsersOperator(task_id="sync", users=desired, deactivate_missing=True)
    result = op.execute(CONTEXT)
    logged = capsys.readouterr().out  # Airflow 3's task logger writes to stdout
    assert counts(result) == {"create": 1, "update": 3, "deactivate": 1, "unchanged": 20, "dry_run": False}
    assert re.search(r"create +new\.joiner@example\.com +- +not in Celonis", logged)
    assert re.search(rf"deactivate +{re.escape(leaver)} +\S+ +absent from the desired users", logged)
    users = team_users(emulator)
    assert users[leaver]["active"] is False and leaver in users  # deactivated, never deleted
    assert users["ada.lovelace@example.com"]["name"] == {"givenName": "Ada", "familyName": "King"}
    assert users["grace.hopper@example.com"]["active"] is False
    assert users["ken.thompson@example.com"]["active"] is True
    assert users["new.joiner@example.com"]["name"] == {"givenName": "New", "familyName": "Joiner"}
    assert emulator.stats()["requests"].get(f"DELETE {USERS}/{users[leaver]['id']}") is None

    again = CelonisScimSyncUsersOperator(task_id="sync", users=desired, deactivate_missing=True).execute(
        CONTEXT
    )
    assert counts(again) == {"create": 0, "update": 0, "deactivate": 0, "unchanged": 24, "dry_run": False}


def test_dry_run_logs_the_plan_and_changes_nothing(emulator: EmulatorProcess) -> None:
    before = emulator.scim_state()
    op = CelonisScimSyncUsersOperator(
        task_id="sync", users=[{"userName": "only.one@example.com"}], deactivate_missing=True, dry_run=True
    )
    result = op.execute(CONTEXT)
    assert counts(result) == {"create": 1, "update": 0, "deactivate": 21, "unchanged": 0, "dry_run": True}
    assert emulator.scim_state() == before
    assert emulator.requests_to("POST", USERS) == 0


def test_without_deactivate_missing_absent_users_stay(emulator: EmulatorProcess) -> None:
    result = CelonisScimSyncUsersOperator(
        task_id="sync", users=[{"userName": "only.one@example.com", "active": "true"}]
    ).execute(CONTEXT)
    assert result["create"] == 1 and result["deactivate"] == 0
    assert sum(u["active"] for u in emulator.scim_state()["users"]) == 22


def test_protected_users_and_max_deactivations(emulator: EmulatorProcess) -> None:
    desired = desired_from_team(emulator)[:20]
    op = CelonisScimSyncUsersOperator(
        task_id="sync", users=desired, deactivate_missing=True, max_deactivations=1, protected_users=["X"]
    )
    with pytest.raises(CelonisConfigurationError, match="max_deactivations"):
        op.execute(CONTEXT)
    assert all(u["active"] for u in emulator.scim_state()["users"][:7])  # nothing applied
    protected = [u["userName"] for u in desired_from_team(emulator)[20:23]]
    op = CelonisScimSyncUsersOperator(
        task_id="sync", users=desired, deactivate_missing=True, protected_users=protected[:2]
    )
    assert op.execute(CONTEXT)["deactivate"] == 1


def test_users_file_csv_jsonl_and_match_on_external_id(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text("userName,externalId,displayName,active\nRENAMED@example.com,hr-1000,Ada L,true\n")
    result = CelonisScimSyncUsersOperator(task_id="s", users_file=str(path), match_on="externalId").execute(
        CONTEXT
    )
    assert result["update"] == 1
    user = next(u for u in emulator.scim_state()["users"] if u["externalId"] == "hr-1000")
    assert (user["userName"], user["displayName"]) == ("RENAMED@example.com", "Ada L")
    jsonl = tmp_path / "hr.jsonl"
    jsonl.write_text(json.dumps({"userName": "RENAMED@example.com", "externalId": "hr-1000"}) + "\n")
    again = CelonisScimSyncUsersOperator(task_id="s", users_file=str(jsonl), match_on="externalId")
    assert again.execute(CONTEXT)["unchanged"] == 1


def test_put_update_method_keeps_other_attributes(emulator: EmulatorProcess) -> None:
    desired = [{"userName": "alan.turing@example.com", "displayName": "A. M. Turing"}]
    CelonisScimSyncUsersOperator(task_id="s", users=desired, update_method="put").execute(CONTEXT)
    user = team_users(emulator)["alan.turing@example.com"]
    assert user["displayName"] == "A. M. Turing" and user["externalId"] == "hr-1002"
    assert emulator.requests_to("PUT", f"{USERS}/{user['id']}") == 1


def test_create_conflict_converges(emulator: EmulatorProcess) -> None:
    """A create that meets 409 (the user appeared meanwhile) updates that user instead."""
    emulator.add_faults([{"path": "/scim/v2/Users$", "method": "POST", "kind": "status", "status": 429}])
    desired = [{"userName": "late@example.com", "displayName": "Late"}]
    result = CelonisScimSyncUsersOperator(
        task_id="s", users=desired, hook_params={"min_wait": 0.01, "max_wait": 0.02}
    ).execute(CONTEXT)
    assert result["create"] == 1 and team_users(emulator)["late@example.com"]["displayName"] == "Late"


def test_patch_failure_is_reported_after_the_rest(emulator: EmulatorProcess) -> None:
    emulator.configure_scim(patch_supported=False)
    desired = [{"userName": "ada.lovelace@example.com", "displayName": "X"}, {"userName": "z@example.com"}]
    with pytest.raises(CelonisError, match=r"applied 1 changes but 1 failed.*ada.lovelace"):
        CelonisScimSyncUsersOperator(task_id="s", users=desired).execute(CONTEXT)
    assert "z@example.com" in team_users(emulator)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "users"),
        ({"users": [], "users_file": "/x.json"}, "users"),
        ({"users": [{"displayName": "no name"}]}, r"users\[1\]"),
        ({"users": [{"userName": "a@x"}, {"userName": "A@x"}]}, r"users\[2\]"),
        ({"users": [], "deactivate_missing": True}, "users"),
        ({"users": "not json"}, "users"),
        ({"users": [{"userName": "a"}], "match_on": "email"}, "match_on"),
        ({"users": [{"userName": "a"}], "update_method": "post"}, "update_method"),
        ({"users": [{"userName": "a"}], "dry_run": "maybe"}, "dry_run"),
        ({"users": [{"userName": "a", "active": "perhaps"}]}, "users"),
        ({"users_file": "/nonexistent/hr.json"}, "users_file"),
    ],
)
def test_bad_input_fails_before_any_call(
    emulator: EmulatorProcess, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(CelonisConfigurationError, match=field):
        CelonisScimSyncUsersOperator(task_id="s", **kwargs).execute(CONTEXT)
    assert emulator.stats()["api_calls"] == 0


def test_users_from_xcom_json_text_and_template(emulator: EmulatorProcess) -> None:
    op = CelonisScimSyncUsersOperator(
        task_id="s", users='[{"userName": "{{ ds }}@example.com"}]', dry_run="{{ 'true' }}"
    )
    op.render_template_fields(CONTEXT)
    assert op.execute(CONTEXT)["create"] == 1 and op.is_dry_run == "true"
    assert "2025-01-02@example.com" not in team_users(emulator)


def test_sync_from_object_storage_uri_on_the_other_prefix(emulator: EmulatorProcess, tmp_path: Path) -> None:
    emulator.configure_scim(serve_prefixes=["/user-provisioning"])
    path = tmp_path / "hr.json"
    path.write_text(json.dumps({"Resources": [{"userName": "uri.joiner@example.com", "active": True}]}))
    op = CelonisScimSyncUsersOperator(
        task_id="s", users_file=f"file://{path}", hook_params={"api_prefixes": {"scim": "/user-provisioning"}}
    )
    assert op.execute(CONTEXT)["create"] == 1
    assert "uri.joiner@example.com" in team_users(emulator)


def test_sync_without_scim_scope(emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_celonis.exceptions import CelonisInvalidScopeError

    emulator.add_client("hr-bot", "secret", scopes=["team.user-group-info:read"])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("hr-bot", "secret")))
    with pytest.raises(CelonisInvalidScopeError, match=r"user-provisioning\.scim"):
        CelonisScimSyncUsersOperator(task_id="s", users=[{"userName": "a@example.com"}]).execute(CONTEXT)


# -- review fixes --------------------------------------------------------------------------
def test_plan_never_deactivates_a_user_whose_user_name_or_match_key_is_desired() -> None:
    from airflow_provider_celonis.scim.sync import desired_users, plan_sync

    desired = desired_users(
        [
            {"userName": "ada@example.com", "externalId": "hr-1"},
            {"userName": "grace@example.com", "externalId": "HR-2"},
        ],
        "externalId",
    )
    current = [
        {"id": "u1", "userName": "ADA@example.com", "active": True},  # no externalId yet
        {"id": "u2", "userName": "grace@example.com", "externalId": "hr-2", "active": True},
        {"id": "u3", "userName": "grace.old@example.com", "externalId": "hr-2", "active": True},
        {"id": "u4", "userName": "leaver@example.com", "externalId": "hr-9", "active": True},
    ]
    plan = plan_sync(desired, current, match_on="externalId", deactivate_missing=True)
    assert [u.user_id for u in plan.deactivate] == ["u4"]
    assert [c["userName"] for c in plan.create] == ["ada@example.com"]  # 409 then converges onto u1
    assert [u.user_id for u in plan.update] == ["u2"] and plan.update[0].diff == {"externalId": "HR-2"}


def test_sync_on_external_id_converges_a_user_without_one_and_keeps_it_active(
    emulator: EmulatorProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_celonis.hooks.scim import CelonisScimHook

    desired = [*desired_from_team(emulator), {"userName": "no.external@example.com", "externalId": "hr-77"}]
    CelonisScimHook().create_user({"userName": "no.external@example.com", "displayName": "No Ext"})
    first = CelonisScimSyncUsersOperator(
        task_id="s", users=desired, match_on="externalId", deactivate_missing=True
    ).execute(CONTEXT)
    assert first["deactivate"] == 0 and first["create"] == 1  # planned create: 409, then updated
    assert "not deactivating" not in capsys.readouterr().out  # the plan itself no longer lists it
    user = team_users(emulator)["no.external@example.com"]
    assert (user["externalId"], user["active"]) == ("hr-77", True)
    second = CelonisScimSyncUsersOperator(
        task_id="s", users=desired, match_on="externalId", deactivate_missing=True
    ).execute(CONTEXT)
    assert counts(second) == {"create": 0, "update": 0, "deactivate": 0, "unchanged": 25, "dry_run": False}


def test_apply_never_deactivates_a_user_converged_by_409(emulator: EmulatorProcess) -> None:
    """Even if a plan lists one for both (a user created meanwhile), the 409-converged id is kept."""
    from airflow_provider_celonis.hooks.scim import CelonisScimHook
    from airflow_provider_celonis.scim.sync import SyncPlan, Update

    hook = CelonisScimHook()
    raced = hook.create_user({"userName": "raced@example.com"})
    plan = SyncPlan(
        create=[{"userName": "raced@example.com", "displayName": "Raced"}],
        deactivate=[Update(raced["id"], "raced@example.com", {"active": False})],
    )
    op = CelonisScimSyncUsersOperator(task_id="s", users=[{"userName": "raced@example.com"}])
    op._apply(hook, plan, {raced["id"]: raced})
    user = team_users(emulator)["raced@example.com"]
    assert (user["displayName"], user["active"]) == ("Raced", True)
    assert plan.counts()["deactivate"] == 0


def test_protected_users_as_one_string_is_one_user(emulator: EmulatorProcess) -> None:
    desired = desired_from_team(emulator)
    leaver = desired.pop(0)["userName"]  # ada
    result = CelonisScimSyncUsersOperator(
        task_id="s", users=desired, deactivate_missing=True, protected_users=leaver.upper()
    ).execute(CONTEXT)
    assert result["deactivate"] == 0 and team_users(emulator)[leaver]["active"] is True
    calls = emulator.stats()["api_calls"]
    with pytest.raises(CelonisConfigurationError, match=r"^s: 'protected_users'"):
        CelonisScimSyncUsersOperator(task_id="s", users=desired, protected_users=["a", 7]).execute(CONTEXT)
    assert emulator.stats()["api_calls"] == calls


def test_csv_with_a_utf8_bom_from_excel(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes("userName,displayName\r\nexcel.user@example.com,Excel Ü\r\n".encode("utf-8-sig"))
    result = CelonisScimSyncUsersOperator(task_id="s", users_file=str(path)).execute(CONTEXT)
    assert result["create"] == 1
    assert team_users(emulator)["excel.user@example.com"]["displayName"] == "Excel Ü"


def test_max_deactivations_error_names_the_task(emulator: EmulatorProcess) -> None:
    with pytest.raises(CelonisConfigurationError, match=r"^hr_sync: 'max_deactivations'"):
        CelonisScimSyncUsersOperator(
            task_id="hr_sync", users=[{"userName": "a@example.com"}], max_deactivations=-1
        ).execute(CONTEXT)


def test_export_validation_is_scims_own(
    emulator: EmulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_celonis.hooks import usage

    with pytest.raises(CelonisConfigurationError, match="default 100") as caught:
        CelonisScimExportOperator(task_id="exp", output_path=str(tmp_path / "a.jsonl"), page_size=0).execute(
            CONTEXT
        )
    assert "200" not in str(caught.value) and str(caught.value).startswith("exp: ")
    with pytest.raises(CelonisConfigurationError, match="read_ahead"):
        CelonisScimExportOperator(task_id="exp", output_path=str(tmp_path / "a.jsonl"), read_ahead=2)

    def no_usage_hook(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the SCIM export built a usage hook")

    monkeypatch.setattr(usage.CelonisUsageHook, "__init__", no_usage_hook)
    result = CelonisScimExportOperator(task_id="exp", output_path=str(tmp_path / "b.jsonl")).execute(CONTEXT)
    assert result["records"] == 28
