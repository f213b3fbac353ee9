"""The pure part of SCIM user sync: compare the desired users with the team, plan, cap.

No network here, so the plan logic is easy to read and to test, and the operator
(:class:`~airflow_provider_celonis.operators.scim.CelonisScimSyncUsersOperator`) only fetches
and logs; :mod:`airflow_provider_celonis.scim.apply` carries the plan out. A desired user
is a flat record (``userName``, ``externalId``, ``displayName``, ``givenName``,
``familyName``, ``email``, ``active``) or a SCIM User; only the attributes it sets are
managed, so an HR feed without ``displayName`` never blanks it in Celonis. Users are
deactivated with ``active: false`` and never deleted.

The safety rules (docs/scim.md): identities are compared in one normal form
(:func:`~airflow_provider_celonis.scim.identity.identity`); a desired user whose e-mail or
``externalId`` belongs to an existing user of another ``userName`` is a *conflict*, never a
deactivate-and-recreate; a server listing that is not consistent (a user listed twice,
fewer or more users than ``totalResults``) withholds every deactivation; and a plan that
deactivates or creates more than a share of the active users is refused (:func:`cap`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.scim.identity import (
    canonical_keys,
    changes,
    check_visible,
    flatten,
    identity,
    skeleton,
)
from airflow_provider_celonis.scim.inputs import cap, check_caps, load_users

__all__ = [
    "MATCH_KEYS",
    "SyncPlan",
    "cap",
    "changes",
    "check_caps",
    "desired_users",
    "flatten",
    "load_users",
    "plan_sync",
]

MANAGED = ("userName", "externalId", "displayName", "givenName", "familyName", "email", "active")
MATCH_KEYS = ("userName", "externalId")
_PATCH_PATHS = {"givenName": "name.givenName", "familyName": "name.familyName"}


def desired_users(
    records: Any, match_on: str, *, wheres: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Validated desired users keyed by the normalised match attribute.

    ``wheres`` names each record's origin (``hr.csv row 7``); by default ``users[n]``. A second
    record with the same ``userName`` or match key after normalisation is an error naming both.
    """
    if isinstance(records, str):
        try:
            records = json.loads(records)
        except ValueError:
            raise CelonisConfigurationError(
                "users", "is a string that is not JSON", "pass a list of user objects (e.g. an XCom)"
            ) from None
    if not isinstance(records, list):
        raise CelonisConfigurationError(
            "users", f"is a {type(records).__name__}", "pass a list of user objects"
        )
    desired: dict[str, dict[str, Any]] = {}
    first: dict[tuple[str, str], str] = {}
    for number, record in enumerate(records, 1):
        where = wheres[number - 1] if wheres else f"users[{number}]"
        if not isinstance(record, dict):
            raise CelonisConfigurationError(where, f"is {record!r}", "give each user as an object")
        flat = flatten(canonical_keys(record, where), where)
        if "userName" not in flat:
            raise CelonisConfigurationError(where, "has no userName", "set userName (usually the e-mail)")
        key = flat.get(match_on)
        if not key:
            raise CelonisConfigurationError(
                where, f"has no {match_on}", f"set {match_on} or match on userName"
            )
        for attr in ("userName", "externalId", "email"):
            if attr in flat:
                check_visible(str(flat[attr]), attr, where)
        for attr in dict.fromkeys((match_on, "userName")):
            seen = (attr, identity(flat[attr]))
            if seen in first:
                raise CelonisConfigurationError(
                    where,
                    f"repeats {attr} {flat[attr]!r} of {first[seen]} (compared in Unicode NFC, "
                    "trimmed, case-insensitive)",
                    "list each user once",
                )
            first[seen] = where
        desired[identity(key)] = flat
    return desired


def to_scim(flat: dict[str, Any]) -> dict[str, Any]:
    """A SCIM User body from the flat form (for create and PUT)."""
    user: dict[str, Any] = {
        k: flat[k] for k in ("userName", "externalId", "displayName", "active") if k in flat
    }
    name = {k: flat[k] for k in ("givenName", "familyName") if k in flat}
    if name:
        user["name"] = name
    if "email" in flat:
        user["emails"] = [{"value": flat["email"], "type": "work", "primary": True}]
    user.setdefault("active", True)
    return user


def patch_operations(diff: dict[str, Any]) -> list[dict[str, Any]]:
    """PatchOp ``replace`` operations for ``diff`` (the e-mail replaces the ``emails`` list)."""
    ops = []
    for key, value in diff.items():
        if key == "email":
            ops.append(
                {
                    "op": "replace",
                    "path": "emails",
                    "value": [{"value": value, "type": "work", "primary": True}],
                }
            )
        else:
            ops.append({"op": "replace", "path": _PATCH_PATHS.get(key, key), "value": value})
    return ops


def merged_for_put(current: dict[str, Any], diff: dict[str, Any]) -> dict[str, Any]:
    """The current SCIM user with ``diff`` applied: what a PUT must send to change only ``diff``."""
    body = {k: v for k, v in current.items() if k not in ("id", "meta", "groups", "schemas")}
    update = to_scim(diff)
    if "name" in update:
        body["name"] = {**(body.get("name") or {}), **update.pop("name")}
    if "active" not in diff:
        update.pop("active", None)
    body.update(update)
    return body


@dataclass
class Update:
    user_id: str
    user_name: str
    diff: dict[str, Any]
    reason: str = ""

    def detail(self) -> str:
        """The plan table's reason; an update to ``active: false`` says it counts as a deactivation."""
        if self.reason:
            return self.reason
        off = " (to false: counts as a deactivation)" if self.diff.get("active") is False else ""
        return "changes " + ", ".join(sorted(self.diff)) + off


@dataclass
class Conflict:
    """A desired user that names an existing user of another ``userName`` (same e-mail or id)."""

    user_id: str
    current_name: str
    desired_name: str
    reason: str


@dataclass
class SyncPlan:
    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    deactivate: list[Update] = field(default_factory=list)
    unchanged: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    held: list[Update] = field(default_factory=list)
    """Deactivations withheld because the server's listing was not consistent."""
    held_reason: str | None = None
    refused: list[str] = field(default_factory=list)
    """Why apply refuses the plan (a cap exceeded); empty when it may be applied."""

    def counts(self) -> dict[str, int]:
        return {
            "create": len(self.create),
            "update": len(self.update),
            "deactivate": len(self.deactivate),
            "unchanged": self.unchanged,
        }

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.deactivate)

    def rows(self) -> list[dict[str, Any]]:
        """One row per change, in the order apply makes them (the log table and the XCom)."""
        rows: list[dict[str, Any]] = [
            {"action": "create", "userName": flat["userName"], "id": None, "detail": "not in Celonis"}
            for flat in self.create
        ]
        for action, items in (("update", self.update), ("deactivate", self.deactivate)):
            rows += [
                {
                    "action": action,
                    "userName": item.user_name,
                    "id": item.user_id,
                    "detail": item.detail(),
                }
                for item in items
            ]
        rows += [
            {"action": "conflict", "userName": c.desired_name, "id": c.user_id, "detail": c.reason}
            for c in self.conflicts
        ]
        rows += [
            {"action": "deactivate withheld", "userName": i.user_name, "id": i.user_id, "detail": i.reason}
            for i in self.held
        ]
        return rows

    def incomplete(self) -> str | None:
        """Why the team will not match the desired users after apply, if it will not."""
        problems = []
        if self.conflicts:
            shown = "; ".join(
                f"{c.desired_name} vs {c.current_name}: {c.reason}" for c in self.conflicts[:10]
            )
            problems.append(
                f"{len(self.conflicts)} desired users name an existing user of another userName ({shown})"
            )
        if self.held_reason:
            problems.append(
                f"no one was deactivated ({len(self.held)} planned) because the SCIM listing was not "
                f"consistent: {self.held_reason}"
            )
        return " | ".join(problems) or None

    def table(self) -> list[str]:
        """:meth:`rows` as aligned text lines: action, ``userName``, id, reason."""
        rows = self.rows()
        width = max([len(str(r["userName"])) for r in rows] + [8])
        return [
            f"{r['action']:<19} {r['userName']:<{width}} {r['id'] or '-':<36} {r['detail']}" for r in rows
        ]

    def summary(self) -> dict[str, Any]:
        """The plan as JSON-friendly data (the operator's XCom)."""
        return {
            **self.counts(),
            "conflicts": len(self.conflicts),
            "deactivations_withheld": len(self.held),
            "withheld_because": self.held_reason,
            "refused": list(self.refused),
            "changes": self.rows(),
        }


def _conflict(flat: dict[str, Any], user: dict[str, Any], match_on: str) -> str | None:
    """Why an existing ``user`` of another ``userName`` is the person ``flat`` describes, if it is."""
    if identity(user.get("userName", "")) == identity(flat["userName"]):
        return None
    pairs = [("email", "email"), ("userName", "email"), ("email", "userName")]
    if match_on != "externalId":
        pairs.append(("externalId", "externalId"))
    for mine, theirs in pairs:
        if flat.get(mine) and user.get(theirs) and identity(flat[mine]) == identity(user[theirs]):
            return f"its {theirs} {user[theirs]!r} is the desired {mine}"
    for mine, theirs in pairs[
        :3
    ]:  # a lookalike (dotless i, an accent, a Cyrillic twin): the same person typed anew
        if flat.get(mine) and user.get(theirs) and skeleton(flat[mine]) == skeleton(user[theirs]):
            return f"its {theirs} {user[theirs]!r} looks like the desired {mine} {flat[mine]!r}"
    return None


def plan_sync(
    desired: dict[str, dict[str, Any]],
    current_users: list[dict[str, Any]],
    *,
    match_on: str = "userName",
    deactivate_missing: bool = False,
    protected: frozenset[str] = frozenset(),
    listing_problem: str | None = None,
    rename_conflicts: bool = False,
) -> SyncPlan:
    """Create the missing, update the changed and (optionally) deactivate the absent users.

    A user is deactivated only when neither its ``userName`` nor its match key is desired and
    no desired user claims it by e-mail or ``externalId`` (a conflict, reported; with
    ``rename_conflicts`` the existing user is renamed instead). With ``match_on="externalId"``,
    a Celonis user without an ``externalId`` whose ``userName`` is desired (the create meets 409
    and converges onto it), and a second user sharing a desired ``externalId``, are left alone.
    With ``listing_problem`` set, no one is deactivated: the candidates are ``held``.
    """
    plan, seen, claimed = SyncPlan(), set(), set()
    protected = frozenset(identity(p) for p in protected)
    desired_names = {identity(flat["userName"]) for flat in desired.values()}
    flats = [
        (user, {**flatten(user, desired=False), "active": bool(user.get("active", True))})
        for user in current_users
    ]
    for user, flat in flats:
        key = identity(flat.get(match_on, ""))
        if key and key in desired and key not in seen:
            seen.add(key)
            claimed.add(str(user["id"]))
            diff = changes(desired[key], flat)
            if (
                diff.get("active") is False
                and flat["active"]
                and identity(flat.get("userName", "")) in protected
            ):
                plan.refused.append(
                    f"the desired users set {flat.get('userName')!r} inactive, which protected_users forbids"
                )
            if diff:
                plan.update.append(Update(str(user["id"]), str(flat.get("userName")), diff))
            else:
                plan.unchanged += 1
    by_value: dict[str, set[int]] = {}
    for number, (_user, flat) in enumerate(flats):
        for attr in ("userName", "email", "externalId"):
            if flat.get(attr):
                by_value.setdefault(identity(flat[attr]), set()).add(number)
                by_value.setdefault(skeleton(flat[attr]), set()).add(number)
    pending: list[tuple[dict[str, Any], list[tuple[dict[str, Any], dict[str, Any], str]]]] = []
    for key, wanted in desired.items():
        if key in seen:
            continue
        candidates = sorted(
            {
                i
                for attr in ("userName", "email", "externalId")
                if wanted.get(attr)
                for value in (identity(wanted[attr]), skeleton(wanted[attr]))
                for i in by_value.get(value, ())
            }
        )  # only users sharing a value with ``wanted``: no scan of the whole team per desired user
        found = [
            (user, flat, why)
            for user, flat in (flats[i] for i in candidates)
            if str(user["id"]) not in claimed and (why := _conflict(wanted, flat, match_on))
        ]
        if found:
            pending.append((wanted, found))
        else:
            plan.create.append(wanted)
    # a user two desired rows claim is no one's to rename: both rows are conflicts
    claims = Counter(str(user["id"]) for _wanted, found in pending for user, _flat, _why in found)
    for wanted, found in pending:
        user, flat, why = found[0]
        claimed.add(str(user["id"]))
        shared = claims[str(user["id"])] > 1
        if rename_conflicts and len(found) == 1 and not shared:
            diff = changes(wanted, flat)
            reason = f"renamed from {flat.get('userName')!r}: {why}"
            plan.update.append(Update(str(user["id"]), wanted["userName"], diff, reason))
        else:
            also = f" (and {len(found) - 1} more users)" if len(found) > 1 else ""
            also += " (another desired user claims it too)" if shared else ""
            plan.conflicts.append(
                Conflict(str(user["id"]), str(flat.get("userName")), wanted["userName"], why + also)
            )
    for user, flat in flats:
        name = str(flat.get("userName", user.get("id")))
        key = identity(flat.get(match_on, ""))
        if (
            deactivate_missing
            and flat["active"]
            and str(user["id"]) not in claimed
            and identity(name) not in protected
            and identity(name) not in desired_names
            and not (key and key in desired)
        ):
            item = Update(str(user["id"]), name, {"active": False}, "absent from the desired users")
            if listing_problem:
                item.reason = f"withheld: {listing_problem}"
                plan.held.append(item)
            else:
                plan.deactivate.append(item)
    if listing_problem and deactivate_missing:
        plan.held_reason = listing_problem
    return plan
