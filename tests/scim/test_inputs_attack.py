"""Reviewer's attacks on the SCIM sync's inputs: what a careless HR admin's file does to the team.

Each case runs the operator against the emulator over real HTTP and checks the team it leaves
(``emulator.scim_state()``). Cases that already held are kept as tests too, so they stay held.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisError
from airflow_provider_celonis.hooks.scim import CelonisScimHook
from airflow_provider_celonis.operators.scim import CelonisScimSyncUsersOperator

FAST_RETRIES = {"min_wait": 0.01, "max_wait": 0.05, "max_attempts": 3}
HEADER = "userName,externalId,givenName,familyName,email,active"


class FakeTI:
    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = json.loads(json.dumps(value))


def context(ti: FakeTI | None = None) -> dict[str, Any]:
    return {"ds": "2025-01-02", "run_id": "manual__2025-01-02", "ti": ti or FakeTI()}


def team(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    return sorted(emulator.scim_state()["users"], key=lambda u: u["id"])


def rows_of_team(emulator: EmulatorProcess) -> list[str]:
    return [
        f"{u['userName']},{u['externalId']},{u['name']['givenName']},{u['name']['familyName']},"
        f"{u['emails'][0]['value']},{str(u['active']).lower()}"
        for u in team(emulator)
    ]


def sync(**kwargs: Any) -> CelonisScimSyncUsersOperator:
    kwargs.setdefault("deactivate_missing", True)
    return CelonisScimSyncUsersOperator(task_id="hr_sync", hook_params=FAST_RETRIES, **kwargs)


def write(tmp_path: Path, text: str, name: str = "hr.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return str(path)


def refused_before_any_call(emulator: EmulatorProcess, op: CelonisScimSyncUsersOperator, match: str) -> str:
    before = team(emulator)
    with pytest.raises(CelonisConfigurationError, match=match) as caught:
        op.execute(context())
    assert emulator.stats()["api_calls"] == 0 and team(emulator) == before
    return str(caught.value)


def unchanged(result: dict[str, Any]) -> bool:
    return (result["create"], result["update"], result["deactivate"]) == (0, 0, 0)


# -- held: line endings, BOM, blank lines, embedded newlines, header only ----------------------
def test_mixed_crlf_and_lf_with_a_bom_and_blank_lines_is_the_same_team(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    rows = rows_of_team(emulator)
    text = "\ufeff" + HEADER + "\r\n" + "".join(r + ("\r\n" if i % 2 else "\n\n") for i, r in enumerate(rows))
    assert unchanged(sync(users_file=write(tmp_path, text)).execute(context()))


def test_blank_lines_before_the_header_are_not_a_header_of_zero_columns(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    text = "\ufeff\r\n\n" + HEADER + "\n" + "\n".join(rows_of_team(emulator)) + "\n"
    assert unchanged(sync(users_file=write(tmp_path, text)).execute(context()))


def test_a_quoted_display_name_with_a_line_break_is_one_field(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    ada = next(u for u in team(emulator) if u["userName"].startswith("ada."))
    text = f'userName,displayName\n{ada["userName"]},"Ada\nLovelace"\n'
    result = sync(users_file=write(tmp_path, text), deactivate_missing=False).execute(context())
    assert (result["create"], result["update"]) == (0, 1)
    assert {u["id"]: u for u in team(emulator)}[ada["id"]]["displayName"] == "Ada\nLovelace"


def test_a_header_only_file_with_deactivate_missing_is_refused(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    refused_before_any_call(emulator, sync(users_file=write(tmp_path, HEADER + "\r\n")), "is empty while")


def test_a_file_cut_exactly_at_a_line_end_is_stopped_by_the_cap(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """A cut at a line end looks complete; nothing in the file can tell. The default cap stops it."""
    rows = rows_of_team(emulator)
    text = HEADER + "\n" + "\n".join(rows[:12]) + "\n"
    before, ti = team(emulator), FakeTI()
    with pytest.raises(CelonisConfigurationError, match="max_deactivations"):
        sync(users_file=write(tmp_path, text)).execute(context(ti))
    assert team(emulator) == before and ti.xcom["plan"]["deactivate"] > 3


def test_a_json_file_holding_json_lines_says_so(emulator: EmulatorProcess, tmp_path: Path) -> None:
    text = '{"userName": "a@example.com"}\n{"userName": "b@example.com"}\n'
    message = refused_before_any_call(emulator, sync(users_file=write(tmp_path, text, "hr.json")), "hr.json")
    assert "JSON Lines" in message and ".jsonl" in message


def test_a_jsonl_name_with_a_line_separator_inside_a_string_is_one_line(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """U+2028 and NEL are legal inside a JSON string; only a line feed ends a JSON Lines record."""
    ada = next(u for u in team(emulator) if u["userName"].startswith("ada."))
    line = json.dumps(
        {"userName": ada["userName"], "displayName": "Ada\u2028\x85Lovelace"}, ensure_ascii=False
    )
    path = write(tmp_path, line + "\n", "hr.jsonl")
    result = sync(users_file=path, deactivate_missing=False).execute(context())
    assert (result["create"], result["update"]) == (0, 1)


# -- headers a person typed ----------------------------------------------------------------------
def test_a_header_in_another_case_with_spaces_manages_the_same_attributes(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """SCIM attribute names are case-insensitive (RFC 7643 2.1): ``Active`` is ``active``, not ignored
    (ignored, a leaver marked ``false`` would stay active, and reactivated users would follow)."""
    header = " UserName , ExternalID,GIVENNAME,familyname, Email ,Active "
    rows = rows_of_team(emulator)
    leaver = rows[0].split(",")[0]
    rows[0] = rows[0].rsplit(",", 1)[0] + ",false"
    result = sync(users_file=write(tmp_path, header + "\n" + "\n".join(rows) + "\n")).execute(context())
    assert (result["create"], result["update"], result["deactivate"]) == (0, 1, 0)
    assert {u["userName"]: u for u in team(emulator)}[leaver]["active"] is False


def test_two_columns_that_differ_only_in_case_are_refused(emulator: EmulatorProcess, tmp_path: Path) -> None:
    text = "userName,email,Email\na@example.com,a@example.com,b@example.com\n"
    message = refused_before_any_call(emulator, sync(users_file=write(tmp_path, text)), "repeated column")
    assert "'email'" in message and "'Email'" in message


def test_a_json_record_with_two_spellings_of_one_attribute_is_refused(emulator: EmulatorProcess) -> None:
    users = [{"userName": "a@example.com", "active": True, "Active": False}]
    refused_before_any_call(emulator, sync(users=users), r"users\[1\].*active")


def test_a_header_repeated_inside_the_file_is_not_a_user(emulator: EmulatorProcess, tmp_path: Path) -> None:
    """Two exports concatenated (``cat a.csv b.csv``): the second header must not become user 'userName'."""
    rows = rows_of_team(emulator)
    text = HEADER + "\n" + "\n".join(rows[:12]) + "\n" + HEADER + "\n" + "\n".join(rows[12:]) + "\n"
    message = refused_before_any_call(emulator, sync(users_file=write(tmp_path, text)), r"hr\.csv row 14")
    assert "header" in message


def test_a_semicolon_csv_names_the_delimiter(emulator: EmulatorProcess, tmp_path: Path) -> None:
    text = (
        HEADER.replace(",", ";")
        + "\n"
        + "\n".join(r.replace(",", ";") for r in rows_of_team(emulator))
        + "\n"
    )
    message = refused_before_any_call(emulator, sync(users_file=write(tmp_path, text)), "userName")
    assert "holds semicolons" in message and "delimiter" in message  # (the tmp path says "semicolon")


# -- values ----------------------------------------------------------------------------------------
def test_a_blank_looking_active_cell_does_not_deactivate(emulator: EmulatorProcess, tmp_path: Path) -> None:
    rows = [r.rsplit(",", 1)[0] + ", " for r in rows_of_team(emulator) if r.endswith("true")]
    result = sync(users_file=write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")).execute(context())
    assert unchanged(result)
    assert sum(u["active"] for u in team(emulator)) == 21


def test_a_user_name_that_is_not_text_is_refused(emulator: EmulatorProcess) -> None:
    refused_before_any_call(emulator, sync(users=[{"userName": ["a@example.com"]}]), r"users\[1\].*userName")


def test_every_row_marked_inactive_is_capped_like_deactivations(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """``active=false`` on every row deactivates the team as surely as leaving them out."""
    rows = [r.rsplit(",", 1)[0] + ",false" for r in rows_of_team(emulator)]
    before, ti = team(emulator), FakeTI()
    with pytest.raises(CelonisConfigurationError, match="max_deactivations"):
        sync(users_file=write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n")).execute(context(ti))
    assert team(emulator) == before
    assert ti.xcom["plan"]["refused"] and "deactivates 21 users" in ti.xcom["plan"]["refused"][0]
    with pytest.raises(CelonisConfigurationError, match="max_deactivations"):  # even when not deactivating
        sync(users_file=str(tmp_path / "hr.csv"), deactivate_missing=False).execute(context())
    assert team(emulator) == before


def test_a_protected_user_marked_inactive_in_the_file_stays_active(emulator: EmulatorProcess) -> None:
    users = [{"userName": u["userName"], "active": u["active"]} for u in team(emulator)]
    admin = users[0]["userName"]
    users[0]["active"] = False
    before, ti = team(emulator), FakeTI()
    with pytest.raises(CelonisConfigurationError, match="protected_users") as caught:
        sync(users=users, protected_users=[admin.upper()]).execute(context(ti))
    assert admin in str(caught.value) and team(emulator) == before
    assert ti.xcom["plan"]["refused"]


@pytest.mark.parametrize(
    ("value", "expected"), [("0%", 0), ("100%", 20), ("10.5%", 2), (" 4 ", 4), ("1e1%", 2)]
)
def test_cap_spellings(emulator: EmulatorProcess, value: str, expected: int) -> None:
    users = [{"userName": u["userName"]} for u in team(emulator) if u["active"]][expected:]  # leavers
    assert sync(users=users, max_deactivations=value).execute(context())["deactivate"] == expected


@pytest.mark.parametrize("value", ["²", "٣", "-1%", "nan%", "inf", "5 %%", "None"])
def test_odd_cap_spellings_are_configuration_errors(emulator: EmulatorProcess, value: str) -> None:
    refused_before_any_call(emulator, sync(users=[{"userName": "a@x"}], max_deactivations=value), "max_deac")


def test_a_small_team_is_never_emptied_by_the_default_floor(emulator: EmulatorProcess) -> None:
    """The floor of 3 lets a small team change; it must not let a default run deactivate all of it."""
    hook = CelonisScimHook()
    active = [u for u in team(emulator) if u["active"]]
    for user in active[3:]:
        hook.set_active(user["id"], False)
    assert sum(u["active"] for u in team(emulator)) == 3
    before, ti = team(emulator), FakeTI()
    with pytest.raises(CelonisConfigurationError, match="max_deactivations"):
        sync(users=[{"userName": "joiner@example.com"}]).execute(context(ti))
    assert team(emulator) == before and ti.xcom["plan"]["deactivate"] == 3
    with pytest.raises(CelonisConfigurationError, match=r"allows 1 of 3"):  # 2 of 3 is most of the team
        sync(users=[{"userName": active[0]["userName"]}]).execute(context())
    keep = [{"userName": u["userName"]} for u in active[:2]]
    assert sync(users=keep).execute(context())["deactivate"] == 1  # one leaver of three is allowed


# -- lookalikes: a new user, or the same person typed differently? ---------------------------------
def add_user(user_name: str) -> dict[str, Any]:
    email = {"value": user_name, "type": "work", "primary": True}
    return CelonisScimHook().create_user({"userName": user_name, "emails": [email]})


def everyone_but(emulator: EmulatorProcess, user_name: str) -> list[dict[str, Any]]:
    return [
        {"userName": u["userName"], "active": u["active"]}
        for u in team(emulator)
        if u["userName"] != user_name
    ]


@pytest.mark.parametrize(
    "name",
    [
        "\u0430da.lovelace@example.com",  # Cyrillic a, the rest Latin
        "ada.lovel\u0430ce@ex\u0430mple.com",
        "\u03bfda.lovelace@example.com",  # Greek omicron for o? (here for a: still mixed)
    ],
)
def test_a_name_mixing_latin_with_cyrillic_or_greek_is_an_error(emulator: EmulatorProcess, name: str) -> None:
    users = [*everyone_but(emulator, "ada.lovelace@example.com"), {"userName": name}]
    message = refused_before_any_call(emulator, sync(users=users), "mixes")
    assert "Latin" in message and ("Cyrillic" in message or "Greek" in message)


def test_a_cyrillic_mailbox_at_a_latin_domain_is_a_real_new_user(emulator: EmulatorProcess) -> None:
    name = "\u0438\u0432\u0430\u043d.\u043f\u0435\u0442\u0440\u043e\u0432@example.com"
    users = [*everyone_but(emulator, ""), {"userName": name}]
    assert sync(users=users).execute(context())["create"] == 1


def test_fullwidth_letters_are_an_error_not_a_new_user(emulator: EmulatorProcess) -> None:
    fullwidth = "\uff41da.lovelace@example.com"
    users = [*everyone_but(emulator, "ada.lovelace@example.com"), {"userName": fullwidth}]
    refused_before_any_call(emulator, sync(users=users), "U\\+FF41")


@pytest.mark.parametrize(
    ("existing", "typed"),
    [
        ("ilker.kaya@example.com", "\u0131lker.kaya@example.com"),  # Turkish dotless i
        ("ilker.kaya@example.com", "\u0130LKER.KAYA@example.com"),  # Turkish capital dotted I
        ("\u0430\u0441\u0435", "ace"),  # all-Cyrillic name, all-Latin twin
        ("lukasz@example.com", "\u0142ukasz@example.com"),  # Polish l with stroke
        ("jose.garcia@example.com", "jos\u00e9.garc\u00eda@example.com"),  # accents added by HR
    ],
)
def test_a_lookalike_of_an_existing_user_is_a_conflict_not_create_and_deactivate(
    emulator: EmulatorProcess, existing: str, typed: str
) -> None:
    user = add_user(existing)
    users = [*everyone_but(emulator, existing), {"userName": typed}]
    before, ti = team(emulator), FakeTI()
    with pytest.raises(CelonisError, match="desired users name an existing user") as caught:
        sync(users=users).execute(context(ti))
    assert "looks like" in str(caught.value)
    assert team(emulator) == before  # the real user kept, no twin created
    assert [r["id"] for r in ti.xcom["plan"]["changes"] if r["action"] == "conflict"] == [user["id"]]
    result = sync(users=users, rename_conflicts=True).execute(context())
    assert (result["create"], result["update"], result["deactivate"]) == (0, 1, 0)
    assert {u["id"]: u for u in team(emulator)}[user["id"]]["userName"] == typed


def test_german_sharp_s_is_the_same_user_as_ss(emulator: EmulatorProcess) -> None:
    """Full case folding makes ``ß`` and ``ss`` one identity: no twin, no deactivation."""
    add_user("strauss@example.com")
    users = [*everyone_but(emulator, "strauss@example.com"), {"userName": "Strau\u00df@example.com"}]
    result = sync(users=users).execute(context())
    assert (result["create"], result["deactivate"]) == (0, 0)


def test_emails_in_another_case_are_the_same_email(emulator: EmulatorProcess) -> None:
    users = [
        {"userName": u["userName"], "email": u["emails"][0]["value"].upper(), "active": u["active"]}
        for u in team(emulator)
    ]
    assert unchanged(sync(users=users).execute(context()))


def test_a_protected_user_with_an_invisible_character_is_an_error(emulator: EmulatorProcess) -> None:
    users = [{"userName": u["userName"]} for u in team(emulator)]
    refused_before_any_call(
        emulator, sync(users=users, protected_users=["breakglass\u200b@example.com"]), "protected_users"
    )


def test_a_protected_user_who_is_not_in_the_team_is_warned_about(
    emulator: EmulatorProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    users = [{"userName": u["userName"]} for u in team(emulator)]
    sync(users=users, protected_users=["break.glass@example.com"]).execute(context())
    assert "protected_users" in capsys.readouterr().out


# -- rename_conflicts with two rows claiming one existing user ----------------------------------------
def test_two_rows_claiming_one_existing_user_are_both_conflicts(emulator: EmulatorProcess) -> None:
    jdoe = CelonisScimHook().create_user(
        {"userName": "jdoe", "emails": [{"value": "jdoe@example.com", "primary": True}]}
    )
    users = everyone_but(emulator, "jdoe")
    users.append({"userName": "jdoe@example.com", "email": "jdoe@example.com"})
    users.append({"userName": "john.doe@example.com", "email": "JDOE@example.com"})
    before, ti = team(emulator), FakeTI()
    with pytest.raises(CelonisError, match="2 desired users name an existing user"):
        sync(users=users, rename_conflicts=True).execute(context(ti))
    assert team(emulator) == before  # neither renamed onto one row nor a second jdoe@ created
    conflicts = [r for r in ti.xcom["plan"]["changes"] if r["action"] == "conflict"]
    assert {r["id"] for r in conflicts} == {jdoe["id"]} and len(conflicts) == 2


# -- a page of an export from a server that leaves out totalResults --------------------------------
def test_one_page_without_total_results_is_not_taken_for_the_whole_team(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """A page that says it is a page (startIndex, itemsPerPage) but not of how many: nothing proves
    it whole. Under a raised cap it would have deactivated everyone on the other pages."""
    emulator.configure_scim(list_quirk="no_total")
    page = CelonisScimHook()._page("Users", {"count": 12, "startIndex": 1}).body
    assert "totalResults" not in page and len(page["Resources"]) == 12
    emulator.reset()
    path = write(tmp_path, json.dumps(page), "export.json")
    message = refused_before_any_call(
        emulator, sync(users_file=path, max_deactivations="100%"), "totalResults"
    )
    assert "export.json" in message


def test_a_hand_made_list_response_without_paging_fields_is_still_accepted(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    users = [{"userName": u["userName"], "active": u["active"]} for u in team(emulator)]
    path = write(tmp_path, json.dumps({"Resources": users}), "export.json")
    assert unchanged(sync(users_file=path).execute(context()))


def test_a_dry_run_of_an_all_inactive_file_shows_the_refusal_and_changes_nobody(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    rows = [r.rsplit(",", 1)[0] + ",false" for r in rows_of_team(emulator)]
    before = team(emulator)
    result = sync(users_file=write(tmp_path, HEADER + "\n" + "\n".join(rows) + "\n"), dry_run=True).execute(
        context()
    )
    assert result["dry_run"] and result["refused"] and result["update"] == 21
    assert all("counts as a deactivation" in r["detail"] for r in result["changes"])
    assert team(emulator) == before
