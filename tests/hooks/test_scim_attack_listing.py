"""Reviewer's attacks on the SCIM listing and apply: a server that lies while paging, and answers
lost after Celonis acted. Against the emulator over real HTTP; "changes nobody" is read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisError, CelonisUnexpectedResponseError
from airflow_provider_celonis.operators.scim import CelonisScimExportOperator, CelonisScimSyncUsersOperator

FAST_RETRIES = {"min_wait": 0.01, "max_wait": 0.05, "max_attempts": 3}
CONTEXT: dict[str, Any] = {"ds": "2025-01-02", "run_id": "manual__2025-01-02"}
USERS = "/api/user-provisioning/scim/v2/Users"


def team(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    return sorted(emulator.scim_state()["users"], key=lambda u: u["id"])


def sync(**kwargs: Any) -> CelonisScimSyncUsersOperator:
    kwargs.setdefault("deactivate_missing", True)
    return CelonisScimSyncUsersOperator(task_id="hr_sync", hook_params=FAST_RETRIES, **kwargs)


def one_leaver(emulator: EmulatorProcess) -> list[dict[str, Any]]:
    return [{"userName": u["userName"], "active": u["active"]} for u in team(emulator)][1:]


def test_a_total_that_changes_between_pages_withholds_every_deactivation(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    emulator.configure_scim(max_results=10, list_quirk="growing_total")
    before = team(emulator)
    with pytest.raises(CelonisError, match=r"no one was deactivated.*totalResults changed while paging"):
        sync(users=one_leaver(emulator)).execute(CONTEXT)
    assert team(emulator) == before
    with pytest.raises(CelonisError, match="not consistent"):
        CelonisScimExportOperator(task_id="review", output_path=str(tmp_path / "r.jsonl")).execute(CONTEXT)
    assert not list(tmp_path.iterdir())


def test_a_page_whose_start_index_goes_backwards_is_a_typed_error(emulator: EmulatorProcess) -> None:
    emulator.configure_scim(max_results=10, list_quirk="stale_start_index")
    before = team(emulator)
    with pytest.raises(CelonisUnexpectedResponseError, match="asked from startIndex 11 starts at 1"):
        sync(users=one_leaver(emulator)).execute(CONTEXT)
    assert team(emulator) == before


@pytest.mark.parametrize(("quirk", "expected"), [("null_resource", "not an object"), ("no_id", "no id")])
def test_a_resource_that_is_not_a_user_is_a_typed_error(
    emulator: EmulatorProcess, tmp_path: Path, quirk: str, expected: str
) -> None:
    """A null or an id-less resource crashed the plan (``TypeError``/``KeyError``), untyped."""
    emulator.configure_scim(max_results=10, list_quirk=quirk)
    before = team(emulator)
    with pytest.raises(CelonisUnexpectedResponseError, match=expected) as caught:
        sync(users=one_leaver(emulator)).execute(CONTEXT)
    assert "SCIM Users listing" in str(caught.value) and team(emulator) == before
    with pytest.raises(CelonisUnexpectedResponseError):
        CelonisScimExportOperator(task_id="review", output_path=str(tmp_path / "r.jsonl")).execute(CONTEXT)
    assert not list(tmp_path.iterdir())


def test_a_deactivation_whose_answer_is_lost_after_it_acted_converges_on_rerun(
    emulator: EmulatorProcess,
) -> None:
    """PATCH is retried (it is idempotent); every answer lost: the task fails, the rerun finds it done."""
    users = one_leaver(emulator)
    leaver = team(emulator)[0]
    emulator.add_faults(
        [{"path": "/scim/v2/Users/", "method": "PATCH", "status": 504, "process": True, "times": -1}]
    )
    with pytest.raises(CelonisError, match=r"applied 0 changes but 1 failed"):
        sync(users=users).execute(CONTEXT)
    assert {u["id"]: u for u in team(emulator)}[leaver["id"]]["active"] is False  # it did act
    emulator.clear_faults()
    result = sync(users=users).execute(CONTEXT)
    assert (result["create"], result["update"], result["deactivate"]) == (0, 0, 0)


def test_a_200_that_did_not_deactivate_is_not_a_success(emulator: EmulatorProcess) -> None:
    """A server that drops a PATCH path it does not support still answers 200 with the user: the
    answer shows the user active, so the task must not report the leaver deactivated."""
    emulator.configure_scim(ignore_patch_paths=["active"])
    users = one_leaver(emulator)
    leaver = team(emulator)[0]
    with pytest.raises(CelonisError, match=r"applied 0 changes but 1 failed.*still has active=True"):
        sync(users=users).execute(CONTEXT)
    assert {u["id"]: u for u in team(emulator)}[leaver["id"]]["active"] is True
    emulator.configure_scim(ignore_patch_paths=[])
    assert sync(users=users).execute(CONTEXT)["deactivate"] == 1


def test_a_200_that_ignored_a_name_change_is_not_a_success(emulator: EmulatorProcess) -> None:
    emulator.configure_scim(ignore_patch_paths=["name.givenName"])
    users = [{"userName": u["userName"], "active": u["active"]} for u in team(emulator)]
    users[0]["givenName"] = "Augusta"
    with pytest.raises(CelonisError, match="still has givenName"):
        sync(users=users).execute(CONTEXT)
