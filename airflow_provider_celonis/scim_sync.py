"""The pure part of SCIM user sync: read the desired users, compare them with the team, plan.

No network here, so the plan logic is easy to read and to test, and the operator
(:class:`~airflow_provider_celonis.operators.scim.CelonisScimSyncUsersOperator`) only fetches,
logs and applies. A desired user is a flat record (``userName``, ``externalId``,
``displayName``, ``givenName``, ``familyName``, ``email``, ``active``) or a SCIM User; only the
attributes it sets are managed, so an HR feed without ``displayName`` never blanks it in
Celonis. Users are deactivated with ``active: false`` and never deleted.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError

MANAGED = ("userName", "externalId", "displayName", "givenName", "familyName", "email", "active")
MATCH_KEYS = ("userName", "externalId")
_CASELESS = ("userName", "email")
_PATCH_PATHS = {"givenName": "name.givenName", "familyName": "name.familyName"}
_TRUE = {"true", "1", "yes", "y", "active"}
_FALSE = {"false", "0", "no", "n", "inactive", ""}


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise CelonisConfigurationError(where, f"has active={value!r}", "use true or false")


def flatten(user: dict[str, Any], where: str = "users") -> dict[str, Any]:
    """The managed attributes a record sets, from the flat form or a SCIM User."""
    name: dict[str, Any] = user["name"] if isinstance(user.get("name"), dict) else {}
    emails: list[Any] = user["emails"] if isinstance(user.get("emails"), list) else []
    primary = next((e for e in emails if isinstance(e, dict) and e.get("primary")), None)
    primary = primary or next((e for e in emails if isinstance(e, dict)), None)
    found = {
        "userName": user.get("userName"),
        "externalId": user.get("externalId"),
        "displayName": user.get("displayName"),
        "givenName": user.get("givenName", name.get("givenName")),
        "familyName": user.get("familyName", name.get("familyName")),
        "email": user.get("email", (primary or {}).get("value")),
    }
    flat: dict[str, Any] = {k: str(v).strip() for k, v in found.items() if v not in (None, "")}
    if "active" in user and user["active"] not in (None, ""):
        flat["active"] = _bool(user["active"], where)
    return flat


def load_users(text: str, name: str) -> list[dict[str, Any]]:
    """Records of a ``.json`` (a list, or a SCIM ListResponse), ``.jsonl`` or ``.csv`` file's text."""
    lowered = name.lower()
    text = text.removeprefix("\ufeff")  # a UTF-8 BOM (Excel's CSV export) is not part of the header
    try:
        if lowered.endswith(".csv"):
            return [dict(row) for row in csv.DictReader(io.StringIO(text))]
        if lowered.endswith((".jsonl", ".ndjson")):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except (ValueError, csv.Error) as err:
        raise CelonisConfigurationError(
            "users_file", f"({name}) cannot be parsed: {err}", "fix the file"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("Resources"), list):
        data = data["Resources"]
    if not isinstance(data, list):
        raise CelonisConfigurationError(
            "users_file",
            f"({name}) holds no list of users",
            "write a JSON list, JSON Lines or CSV with userName",
        )
    return data


def desired_users(records: Any, match_on: str) -> dict[str, dict[str, Any]]:
    """Validated desired users keyed by the (case-folded) match attribute; duplicates are an error."""
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
    for number, record in enumerate(records, 1):
        where = f"users[{number}]"
        if not isinstance(record, dict):
            raise CelonisConfigurationError(where, f"is {record!r}", "give each user as an object")
        flat = flatten(record, where)
        if "userName" not in flat:
            raise CelonisConfigurationError(where, "has no userName", "set userName (usually the e-mail)")
        key = flat.get(match_on)
        if not key:
            raise CelonisConfigurationError(
                where, f"has no {match_on}", f"set {match_on} or match on userName"
            )
        folded = key.casefold()
        if folded in desired:
            raise CelonisConfigurationError(where, f"repeats {match_on} {key!r}", "list each user once")
        desired[folded] = flat
    return desired


def changes(desired: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The desired attributes that differ from the current user (case-insensitive for userName/email)."""
    wanted = {**desired, "active": desired.get("active", True)}
    diff = {}
    for key, value in wanted.items():
        have = current.get(key, True if key == "active" else None)
        same = (
            isinstance(have, str) and have.casefold() == str(value).casefold()
            if key in _CASELESS
            else have == value
        )
        if not same:
            diff[key] = value
    return diff


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


@dataclass
class SyncPlan:
    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[Update] = field(default_factory=list)
    deactivate: list[Update] = field(default_factory=list)
    unchanged: int = 0

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


def plan_sync(
    desired: dict[str, dict[str, Any]],
    current_users: list[dict[str, Any]],
    *,
    match_on: str = "userName",
    deactivate_missing: bool = False,
    protected: frozenset[str] = frozenset(),
) -> SyncPlan:
    """Create the missing, update the changed and (optionally) deactivate the absent users.

    A user is deactivated only when neither its ``userName`` nor its match key is in the
    desired set: with ``match_on="externalId"``, a Celonis user without an ``externalId`` whose
    ``userName`` is desired (the create meets 409 and converges onto it), and a second user
    sharing a desired ``externalId``, are left alone rather than deactivated.
    """
    plan, seen = SyncPlan(), set()
    desired_names = {str(flat["userName"]).casefold() for flat in desired.values()}
    for user in current_users:
        flat = {**flatten(user), "active": bool(user.get("active", True))}
        key = str(flat.get(match_on, "")).casefold()
        name = str(flat.get("userName", user.get("id")))
        if key and key in desired and key not in seen:
            seen.add(key)
            diff = changes(desired[key], flat)
            if diff:
                plan.update.append(Update(str(user["id"]), name, diff))
            else:
                plan.unchanged += 1
        elif (
            deactivate_missing
            and flat["active"]
            and name.casefold() not in protected
            and name.casefold() not in desired_names
            and not (key and key in desired)
        ):
            plan.deactivate.append(Update(str(user["id"]), name, {"active": False}))
    plan.create = [flat for key, flat in desired.items() if key not in seen]
    return plan
