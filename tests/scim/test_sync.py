"""SCIM sync safety: broken inputs, caps, identity normalisation, conflicts, inconsistent listings.

Every case runs against the emulator over real HTTP; "changes nobody" is checked on the
emulator's state, and "before any call" on its request counter.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisError,
    CelonisUnexpectedResponseError,
)
from airflow_provider_celonis.hooks.scim import CelonisScimHook
from airflow_provider_celonis.operators.scim import CelonisScimExportOperator, CelonisScimSyncUsersOperator

FAST_RETRIES = {"min_wait": 0.01, "max_wait": 0.05, "max_attempts": 3}

HEADER = "userName,externalId,givenName,familyName,email,active\n"


class FakeTI:
    """Collects ``xcom_push`` calls as a task instance would store them."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = json.loads(json.dumps(value))  # XCom values must be JSON


def context(ti: FakeTI | None = None) -> dict[str, Any]:
    return {"ds": "2025-01-02", "run_id": "manual__2025-01-02", "ti": ti or FakeTI()}


def team(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    return sorted(emulator.scim_state()["users"], key=lambda u: u["id"])


def csv_of_team(emulator: EmulatorProcess) -> str:
    rows = [
        f"{u['userName']},{u['externalId']},{u['name']['givenName']},{u['name']['familyName']},"
        f"{u['emails'][0]['value']},{str(u['active']).lower()}\n"
        for u in team(emulator)
    ]
    return HEADER + "".join(rows)


def sync(**kwargs: Any) -> CelonisScimSyncUsersOperator:
    kwargs.setdefault("deactivate_missing", True)
    return CelonisScimSyncUsersOperator(task_id="hr_sync", hook_params=FAST_RETRIES, **kwargs)


def refuses_before_any_call(emulator: EmulatorProcess, op: CelonisScimSyncUsersOperator, match: str) -> str:
    before = team(emulator)
    with pytest.raises(CelonisConfigurationError, match=match) as caught:
        op.execute(context())
    assert emulator.stats()["api_calls"] == 0 and team(emulator) == before
    return str(caught.value)


# -- 1. broken inputs ------------------------------------------------------------------------
def test_a_csv_cut_mid_row_changes_nobody(emulator: EmulatorProcess, tmp_path: Path) -> None:
    whole = csv_of_team(emulator)
    cut = whole[: whole.index("grace.hopper@example.com") + len("grace")]  # the last row is "grace"
    path = tmp_path / "hr.csv"
    path.write_text(cut)
    message = refuses_before_any_call(emulator, sync(users_file=str(path)), "users_file")
    assert "hr.csv" in message and "without a line break" in message and "export the file again" in message


def test_a_csv_cut_inside_an_unclosed_quote_changes_nobody(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text(csv_of_team(emulator) + 'late.joiner@example.com,hr-9,"Late\n')
    message = refuses_before_any_call(emulator, sync(users_file=str(path)), "quote that is never closed")
    assert "hr.csv" in message


def test_an_unquoted_comma_is_a_row_with_an_extra_field(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    lines = csv_of_team(emulator).splitlines(keepends=True)
    lines[3] = lines[3].replace(",Alan,", ",Alan, Mathison,")  # shifts every later column
    path.write_text("".join(lines))
    message = refuses_before_any_call(emulator, sync(users_file=str(path)), r"hr\.csv row 4\) has 7 fields")
    assert "header has 6" in message and "quote values that hold a comma" in message


def test_a_row_with_a_missing_field(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text(HEADER + "ada.lovelace@example.com,hr-1000,Ada,Lovelace,ada.lovelace@example.com\n")
    refuses_before_any_call(emulator, sync(users_file=str(path)), r"row 2\) has 5 fields")


def test_one_page_of_a_list_response_changes_nobody(emulator: EmulatorProcess, tmp_path: Path) -> None:
    first_page = CelonisScimHook()._page("Users", {"count": 5, "startIndex": 1}).body
    assert first_page["totalResults"] == 24 and len(first_page["Resources"]) == 5
    path = tmp_path / "export.json"
    path.write_text(json.dumps(first_page))
    calls = emulator.stats()["api_calls"]
    with pytest.raises(CelonisConfigurationError, match=r"5 users.*totalResults 24.*one page"):
        sync(users_file=str(path)).execute(context())
    assert emulator.stats()["api_calls"] == calls


def test_a_paged_export_counts_only_with_all_its_pages(emulator: EmulatorProcess, tmp_path: Path) -> None:
    hook = CelonisScimHook()
    pages = [hook._page("Users", {"count": 10, "startIndex": start}).body for start in (1, 11, 21)]
    emulator.reset()  # the same seeded team, request counter back at 0
    path = tmp_path / "pages.jsonl"
    path.write_text("".join(json.dumps(page) + "\n" for page in pages[:2]))  # the last page is missing
    message = refuses_before_any_call(emulator, sync(users_file=str(path)), "pages are missing")
    assert "2 pages holding 20 users but totalResults 24" in message
    path.write_text("".join(json.dumps(page) + "\n" for page in (pages[0], pages[2])))  # a gap
    refuses_before_any_call(emulator, sync(users_file=str(path)), "starts at 21 where 11 was due")
    whole = tmp_path / "pages.json"
    whole.write_text(json.dumps(list(reversed(pages))))  # all pages, any order: the whole team
    result = sync(users_file=str(whole)).execute(context())
    assert (result["create"], result["update"], result["deactivate"], result["unchanged"]) == (0, 0, 0, 24)


def test_jsonl_cut_and_json_cut(emulator: EmulatorProcess, tmp_path: Path) -> None:
    jsonl = tmp_path / "hr.jsonl"
    jsonl.write_text('{"userName": "a@example.com"}\n{"userName": "b@exa')
    refuses_before_any_call(emulator, sync(users_file=str(jsonl)), "without a line break")
    whole = tmp_path / "hr.json"
    whole.write_text('[{"userName": "a@example.com"}, {"userName": "b@exa')
    refuses_before_any_call(emulator, sync(users_file=str(whole)), "not complete JSON")


# -- 3. identities ---------------------------------------------------------------------------
def test_unicode_variants_of_existing_names_change_nobody(emulator: EmulatorProcess, tmp_path: Path) -> None:
    hook = CelonisScimHook()
    hook.create_user({"userName": "josé.garcía@example.com", "externalId": "hr-2000", "displayName": "José"})
    before = team(emulator)
    rows = []
    for user in before:
        name = unicodedata.normalize("NFD", user["userName"]).upper()  # decomposed, other case
        rows.append({"userName": f"  {name} ", "externalId": user["externalId"], "active": user["active"]})
    rows[-1]["displayName"] = unicodedata.normalize("NFD", "José")
    result = sync(users=rows).execute(context())
    assert (result["create"], result["update"], result["deactivate"]) == (0, 0, 0)
    assert team(emulator) == before
    assert emulator.requests_to("POST", "/api/user-provisioning/scim/v2/Users") == 1  # the seed above


@pytest.mark.parametrize("char", ["\u200b", "\u00a0", "\u2009", "\x07", "\ufeff"])
def test_invisible_characters_in_a_desired_name_are_an_error(emulator: EmulatorProcess, char: str) -> None:
    users = [{"userName": f"ada.lovelace{char}@example.com"}]
    message = refuses_before_any_call(emulator, sync(users=users), r"users\[1\]")
    assert f"U+{ord(char):04X}" in message


def test_duplicates_after_normalisation_name_both_rows(emulator: EmulatorProcess, tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text(HEADER + "José@example.com,hr-1,J,G,,true\n" + "jose\u0301@EXAMPLE.com ,hr-2,J,G,,true\n")
    message = refuses_before_any_call(emulator, sync(users_file=str(path)), r"hr\.csv row 3")
    assert "hr.csv row 2" in message and "list each user once" in message


def test_protected_users_are_normalised(emulator: EmulatorProcess) -> None:
    CelonisScimHook().create_user({"userName": "BreakGlass.Admin@example.com"})
    users = [{"userName": u["userName"]} for u in team(emulator) if u["active"]]
    users = [u for u in users if u["userName"] != "BreakGlass.Admin@example.com"]
    result = sync(users=users, protected_users=" breakglass.admin@EXAMPLE.com ").execute(context())
    assert result["deactivate"] == 0
    assert next(u for u in team(emulator) if u["userName"].startswith("BreakGlass"))["active"] is True


def test_same_email_other_user_name_is_a_conflict_not_a_recreate(emulator: EmulatorProcess) -> None:
    hook = CelonisScimHook()
    jdoe = hook.create_user({"userName": "jdoe", "emails": [{"value": "jdoe@example.com", "primary": True}]})
    users = [{"userName": u["userName"]} for u in team(emulator) if u["userName"] != "jdoe"]
    users.append({"userName": "jdoe@example.com", "email": "jdoe@example.com", "displayName": "J Doe"})
    ti = FakeTI()
    with pytest.raises(
        CelonisError, match=r"1 desired users name an existing user.*jdoe@example.com vs jdoe"
    ):
        sync(users=users).execute(context(ti))
    state = {u["userName"]: u for u in team(emulator)}
    assert state["jdoe"]["active"] is True and "jdoe@example.com" not in state  # neither lost nor doubled
    assert ti.xcom["plan"]["conflicts"] == 1
    assert {"action": "conflict", "userName": "jdoe@example.com", "id": jdoe["id"]}.items() <= next(
        r for r in ti.xcom["plan"]["changes"] if r["action"] == "conflict"
    ).items()
    result = sync(users=users, rename_conflicts=True).execute(context())
    assert (result["create"], result["update"], result["deactivate"], result["conflicts"]) == (0, 1, 0, 0)
    renamed = {u["id"]: u for u in team(emulator)}[jdoe["id"]]
    assert (renamed["userName"], renamed["displayName"], renamed["active"]) == (
        "jdoe@example.com",
        "J Doe",
        True,
    )


# -- 2. caps ---------------------------------------------------------------------------------
def test_a_one_row_file_is_refused_by_the_default_cap_and_the_plan_is_kept(emulator: EmulatorProcess) -> None:
    before, ti = team(emulator), FakeTI()
    with pytest.raises(CelonisConfigurationError, match=r"deactivates 20 users but max_deactivations \(the "):
        sync(users=[{"userName": "ada.lovelace@example.com"}]).execute(context(ti))
    assert team(emulator) == before
    plan = ti.xcom["plan"]
    assert plan["deactivate"] == 20 and plan["refused"] and not plan["dry_run"]
    assert sum(r["action"] == "deactivate" for r in plan["changes"]) == 20
    result = sync(users=[{"userName": "ada.lovelace@example.com"}], max_deactivations="100%").execute(
        context()
    )
    assert result["deactivate"] == 20
    assert [u["userName"] for u in team(emulator) if u["active"]] == ["ada.lovelace@example.com"]


def test_caps_as_counts_and_shares_for_deactivations_and_creations(emulator: EmulatorProcess) -> None:
    users = [{"userName": u["userName"]} for u in team(emulator) if u["active"]][:-4]  # 4 leavers of 21
    users += [{"userName": f"joiner{i}@example.com"} for i in range(4)]
    dry = sync(users=users, dry_run=True).execute(context())
    assert len(dry["refused"]) == 2  # 4 > max(3, 10% of 21) for both; a dry run shows it, raises nothing
    with pytest.raises(CelonisConfigurationError, match="max_creations"):
        sync(users=users, max_deactivations=4).execute(context())
    with pytest.raises(CelonisConfigurationError, match="max_deactivations"):
        sync(users=users, max_deactivations="15%", max_creations="20%").execute(context())  # 3 and 4
    assert sum(u["active"] for u in team(emulator)) == 21
    result = sync(users=users, max_deactivations="20%", max_creations=4).execute(context())
    assert (result["create"], result["deactivate"]) == (4, 4)


@pytest.mark.parametrize("value", [-1, "abc", "120%", "%", 1.5, True])
def test_bad_caps_fail_before_any_call(emulator: EmulatorProcess, value: Any) -> None:
    refuses_before_any_call(emulator, sync(users=[{"userName": "a@x"}], max_creations=value), "max_creations")


# -- 4. listings -----------------------------------------------------------------------------
@pytest.mark.parametrize("quirk", ["repeat_resource", "drop_resource", "no_total"])
def test_an_inconsistent_listing_deactivates_nobody(emulator: EmulatorProcess, quirk: str) -> None:
    emulator.configure_scim(max_results=10, list_quirk=quirk)
    users = [{"userName": u["userName"]} for u in team(emulator) if u["active"]][1:]  # one leaver
    users.append({"userName": "joiner@example.com"})
    ti = FakeTI()
    with pytest.raises(CelonisError, match=r"no one was deactivated \(1 planned\).*not consistent"):
        sync(users=users).execute(context(ti))
    state = {u["userName"]: u for u in team(emulator)}
    assert state["ada.lovelace@example.com"]["active"] is True  # withheld
    assert "joiner@example.com" in state  # creates proceed
    assert ti.xcom["plan"]["deactivations_withheld"] == 1 and ti.xcom["plan"]["withheld_because"]
    emulator.configure_scim(list_quirk=None)
    assert sync(users=users).execute(context())["deactivate"] == 1


@pytest.mark.parametrize(
    ("quirk", "expected"),
    [
        ("ignore_start_index", r"application/scim\+json\) but the page from startIndex 11 repeats"),
        ("no_resources", r"application/scim\+json\) but its 'Resources' list is missing"),
        ("html", r"text/html.*not JSON.*Please sign in"),
        ("truncated", r"application/scim\+json.*not JSON"),
    ],
)
def test_pages_the_provider_does_not_understand_are_typed_errors_and_write_nothing(
    emulator: EmulatorProcess, tmp_path: Path, quirk: str, expected: str
) -> None:
    emulator.configure_scim(max_results=10, list_quirk=quirk)
    before = team(emulator)
    with pytest.raises(CelonisUnexpectedResponseError, match=expected) as caught:
        sync(users=[{"userName": u["userName"]} for u in before]).execute(context())
    assert "SCIM Users listing" in str(caught.value) and caught.value.status == 200
    assert team(emulator) == before
    out = tmp_path / "review.jsonl"
    with pytest.raises(CelonisUnexpectedResponseError):
        CelonisScimExportOperator(task_id="review", output_path=str(out)).execute(context())
    assert not out.exists() and not list(tmp_path.iterdir())


# -- 5. plan, then apply ---------------------------------------------------------------------
def test_dry_run_shows_exactly_what_apply_does(emulator: EmulatorProcess) -> None:
    users = [{"userName": u["userName"]} for u in team(emulator) if u["active"]][2:]
    users[0]["displayName"] = "Changed"
    users.append({"userName": "joiner@example.com"})
    dry = sync(users=users, dry_run=True).execute(context())
    ti = FakeTI()
    applied = sync(users=users).execute(context(ti))
    assert {**dry, "dry_run": False} == applied == {**ti.xcom["plan"]}
    assert [r["action"] for r in applied["changes"]] == ["create", "update", "deactivate", "deactivate"]


def test_a_partial_apply_then_a_rerun_converges_without_duplicates(emulator: EmulatorProcess) -> None:
    users = [{"userName": u["userName"], "displayName": "HR name"} for u in team(emulator) if u["active"]][2:]
    users += [{"userName": f"joiner{i}@example.com"} for i in range(3)]
    # the 2nd create is made but its answer is lost; PATCHes fail from the 4th on
    emulator.add_faults(
        [
            {"path": "/scim/v2/Users$", "method": "POST", "status": 504, "skip": 1, "process": True},
            {"path": "/scim/v2/Users/", "method": "PATCH", "status": 500, "skip": 3, "times": -1},
        ]
    )
    with pytest.raises(CelonisError, match=r"applied \d+ changes but \d+ failed"):
        sync(users=users).execute(context())
    emulator.clear_faults()
    result = sync(users=users).execute(context())
    assert result["create"] == 0 and result["update"] + result["deactivate"] > 0
    final = team(emulator)
    names = [u["userName"].casefold() for u in final]
    assert len(names) == len(set(names)) == 24 + 3
    assert sum(u["active"] for u in final) == len(users)
    again = sync(users=users).execute(context())
    assert (again["create"], again["update"], again["deactivate"]) == (0, 0, 0)


@pytest.mark.parametrize("quirk", ["repeat_resource", "drop_resource", "no_total"])
def test_an_inconsistent_listing_writes_no_access_review(
    emulator: EmulatorProcess, tmp_path: Path, quirk: str
) -> None:
    emulator.configure_scim(max_results=10, list_quirk=quirk)
    out = tmp_path / "review.jsonl"
    with pytest.raises(CelonisError, match="SCIM Users listing is not consistent"):
        CelonisScimExportOperator(task_id="review", output_path=str(out)).execute(context())
    assert not list(tmp_path.iterdir())
    emulator.configure_scim(list_quirk=None)
    assert (
        CelonisScimExportOperator(task_id="review", output_path=str(out)).execute(context())["records"] == 28
    )


def test_a_long_apply_logs_progress(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_provider_celonis.scim import apply as scim_apply

    monkeypatch.setattr(scim_apply.ApplyProgress, "EVERY", 0.0)  # every step counts as a long wait
    users = [{"userName": u["userName"], "displayName": "New"} for u in team(emulator)]
    sync(users=users).execute(context())
    logged = capsys.readouterr().out
    assert "SCIM sync: 23 of 24 changes applied" in logged


# -- pure rules ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "active", "expected"),
    [(None, 21, 3), (None, 100, 10), (None, 0, 3), (0, 50, 0), ("7", 50, 7), ("25%", 21, 5), ("0%", 9, 0)],
)
def test_cap_values(value: Any, active: int, expected: int) -> None:
    from airflow_provider_celonis.scim.sync import cap

    assert cap(value, "max_deactivations", active) == expected


def test_a_missing_attribute_never_matches_a_user_named_none() -> None:
    from airflow_provider_celonis.scim.sync import desired_users, plan_sync

    current = [
        {"id": "u1", "userName": "None", "active": True},
        {"id": "u2", "userName": "x", "active": True},
    ]
    plan = plan_sync(desired_users([{"userName": "new@example.com"}], "userName"), current)
    assert [c["userName"] for c in plan.create] == ["new@example.com"] and not plan.conflicts


def test_external_id_shared_under_another_user_name_is_a_conflict_when_matching_on_user_name() -> None:
    from airflow_provider_celonis.scim.sync import desired_users, plan_sync

    current = [{"id": "u1", "userName": "old.name@example.com", "externalId": "HR-7", "active": True}]
    desired = desired_users([{"userName": "new.name@example.com", "externalId": "hr-7"}], "userName")
    plan = plan_sync(desired, current, deactivate_missing=True)
    assert not plan.create and not plan.deactivate
    assert [(c.user_id, c.current_name) for c in plan.conflicts] == [("u1", "old.name@example.com")]
    renamed = plan_sync(desired, current, deactivate_missing=True, rename_conflicts=True)
    assert [(u.user_id, u.diff) for u in renamed.update] == [
        ("u1", {"userName": "new.name@example.com", "externalId": "hr-7"})
    ]
