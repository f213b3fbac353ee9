"""Applying a SCIM sync plan through the hook: creates, updates, deactivations, read back.

The plan (:mod:`airflow_provider_celonis.scim.sync`) decides; this module carries it out and
proves each change: an update whose answer does not show the new values is read back, and a
change Celonis acknowledged without applying is a failure. A create that meets an existing
user (409) or loses its answer converges onto that user instead of creating twice. Every
failure is collected and raised once at the end, so one bad user never hides the others;
a re-run only repeats what is still missing.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.exceptions import (
    CelonisConflictError,
    CelonisError,
    CelonisRequestMaybeSentError,
)
from airflow_provider_celonis.scim.identity import changes, flatten, unapplied
from airflow_provider_celonis.scim.sync import SyncPlan, merged_for_put, patch_operations, to_scim
from airflow_provider_celonis.waiting.progress import Cadence

__all__ = ["ApplyProgress", "apply_plan", "update_user"]


def apply_plan(
    hook: Any, plan: SyncPlan, current: dict[str, dict[str, Any]], *, update_method: str, log: Any
) -> None:
    """Create, update and deactivate as planned; raise once, at the end, naming every failure.

    ``current`` maps user ids to the users listed before the plan (updated as the sync
    converges onto users a create met). A create answered 409, or whose answer was lost,
    reads the user back and updates it instead (never a second create); such a user is
    never deactivated in the same run.
    """
    failures: list[str] = []
    converged: set[str] = set()  # users a create met with 409 and updated: never deactivate them
    progress = ApplyProgress(log, len(plan.create) + len(plan.update) + len(plan.deactivate))
    for flat in plan.create:
        progress.step()
        try:
            hook.create_user(to_scim(flat))
        except (CelonisConflictError, CelonisRequestMaybeSentError) as err:
            # a 409 (a user added meanwhile), or an answer lost after Celonis may have created it:
            # read the state back and converge instead of failing or creating twice
            existing = hook.find_user(flat["userName"])
            if existing is None:
                failures.append(f"create {flat['userName']}: {err} (and the user cannot be found)")
                continue
            log.info("  %s exists already; updating it instead", flat["userName"])
            diff = changes(
                flat, {**flatten(existing, desired=False), "active": bool(existing.get("active", True))}
            )
            current[str(existing["id"])] = existing
            converged.add(str(existing["id"]))
            if diff:
                failures += update_user(
                    hook, str(existing["id"]), flat["userName"], diff, current, update_method
                )
        except CelonisError as err:
            failures.append(f"create {flat['userName']}: {err}")
    deactivate = [item for item in plan.deactivate if item.user_id not in converged]
    for item in plan.deactivate:
        if item.user_id in converged:
            log.info("  not deactivating %s: the sync just converged onto it", item.user_name)
    plan.deactivate = deactivate
    for item in [*plan.update, *plan.deactivate]:
        progress.step()
        failures += update_user(hook, item.user_id, item.user_name, item.diff, current, update_method)
    if failures:
        planned = len(plan.create) + len(plan.update) + len(plan.deactivate)
        raise CelonisError(
            f"SCIM sync applied {planned - len(failures)} changes but {len(failures)} failed: "
            + " | ".join(failures[:20]),
            fix="fix the causes named above and re-run: the sync only repeats what is still missing",
        )


def update_user(
    hook: Any,
    user_id: str,
    name: str,
    diff: dict[str, Any],
    current: dict[str, dict[str, Any]],
    update_method: str,
) -> list[str]:
    """PATCH (or PUT) one user and read the answer back; the failures, as lines (none: ``[]``)."""
    answer: dict[str, Any] | None
    try:
        if update_method == "put":
            answer = hook.replace_user(user_id, merged_for_put(current[user_id], diff))
        else:
            answer = hook.patch_user(user_id, patch_operations(diff))
        if not isinstance(answer, dict) or "userName" not in answer:
            answer = hook.get_user(user_id)  # a 204 proves nothing about the change: read it back
    except CelonisError as err:
        return [f"update {name}: {err}"]
    missing = unapplied(diff, answer)
    if missing:
        shown = ", ".join(f"{key}={value!r}" for key, value in missing.items())
        return [
            f"update {name}: Celonis answered {update_method.upper()} with success but the user "
            f"still has {shown} (a path the server ignores?)"
        ]
    return []


class ApplyProgress:
    """A log line every :attr:`EVERY` seconds while a large plan is applied: a long apply shows it moves."""

    EVERY = 30.0

    def __init__(self, log: Any, total: int) -> None:
        self.log, self.total, self.done = log, total, 0
        self.cadence = Cadence(self.EVERY)

    def step(self) -> None:
        if self.cadence.due():
            self.log.info("SCIM sync: %d of %d changes applied", self.done, self.total)
        self.done += 1
