"""The emulated team's SCIM users and groups: seed data, filters and PatchOp, as RFC 7643/7644 describe.

Kept apart from the routes (:mod:`~airflow_provider_celonis.emulator.apis.scim`) so the
resource rules (case-insensitive ``userName`` uniqueness, group membership kept only on the
Group and mirrored read-only on the User) live in one place. Celonis documents only the paths
(docs/celonis-api.md 4); everything else here is the RFC default, a [guess].
"""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
FILTERABLE = {"userName", "externalId", "displayName", "id"}
_ESCAPE = re.compile(r"\\(.)")
"""A backslash escape in a filter's string literal: ``\\"`` is ``"``, ``\\\\`` is ``\\``."""
_FILTER = re.compile(r'^\s*([A-Za-z.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$')
_MEMBER_PATH = re.compile(r'^members\[value eq "([^"]+)"\]$')

_PEOPLE = [
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Frances", "Allen"),
    ("Ken", "Thompson"),
    ("Margaret", "Hamilton"),
    ("Niklaus", "Wirth"),
    ("Radia", "Perlman"),
    ("John", "Backus"),
]
_GROUPS = {
    "Process Analysts": range(0, 24, 2),
    "Data Engineers": range(1, 24, 3),
    "Admins": (0, 5),
    "Auditors": (),
}


class ScimError(Exception):
    """A SCIM error answer: ``status``, ``scimType`` (RFC 7644 3.12) and ``detail``."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


def iso(when: float) -> str:
    return (
        datetime.fromtimestamp(when, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


@dataclass
class ScimStore:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    seq: int = 0

    def new_id(self) -> str:
        self.seq += 1
        return str(uuid.UUID(int=0x5C1A << 112 | self.seq))

    # -- users -----------------------------------------------------------------------------
    def by_user_name(self, user_name: str) -> dict[str, Any] | None:
        wanted = user_name.casefold()
        return next((u for u in self.users.values() if u["userName"].casefold() == wanted), None)

    def create_user(self, body: dict[str, Any], now: float) -> dict[str, Any]:
        user_name = body.get("userName")
        if not isinstance(user_name, str) or not user_name.strip():
            raise ScimError(400, "Attribute 'userName' is required", "invalidValue")
        if self.by_user_name(user_name):
            raise ScimError(409, f"User with userName {user_name} already exists", "uniqueness")
        user = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "meta", "groups", "schemas")}
        user.setdefault("active", True)
        user["schemas"] = [USER_SCHEMA]
        user["id"] = self.new_id()
        user["meta"] = {"resourceType": "User", "created": iso(now), "lastModified": iso(now)}
        self.users[user["id"]] = user
        return user

    def replace_user(self, user_id: str, body: dict[str, Any], now: float) -> dict[str, Any]:
        current = self.user(user_id)
        other = self.by_user_name(str(body.get("userName", "")))
        if not body.get("userName"):
            raise ScimError(400, "Attribute 'userName' is required", "invalidValue")
        if other is not None and other["id"] != user_id:
            raise ScimError(409, f"User with userName {body['userName']} already exists", "uniqueness")
        kept = {"id": user_id, "schemas": [USER_SCHEMA], "meta": current["meta"]}
        user = {k: copy.deepcopy(v) for k, v in body.items() if k not in ("id", "meta", "groups", "schemas")}
        user.setdefault("active", True)
        user.update(kept)
        user["meta"] = {**current["meta"], "lastModified": iso(now)}
        self.users[user_id] = user
        return user

    def user(self, user_id: str) -> dict[str, Any]:
        if user_id not in self.users:
            raise ScimError(404, f"Resource {user_id} not found")
        return self.users[user_id]

    def user_view(self, user: dict[str, Any], location: str) -> dict[str, Any]:
        """The user with the read-only ``groups`` attribute computed from the groups' members."""
        view = copy.deepcopy(user)
        view["groups"] = [
            {"value": g["id"], "display": g["displayName"], "type": "direct"}
            for g in self.groups.values()
            if any(m["value"] == user["id"] for m in g.get("members", []))
        ]
        view["meta"]["location"] = f"{location}/Users/{user['id']}"
        return view

    def delete_user(self, user_id: str) -> None:
        self.user(user_id)
        del self.users[user_id]
        for group in self.groups.values():
            group["members"] = [m for m in group.get("members", []) if m["value"] != user_id]

    # -- groups ----------------------------------------------------------------------------
    def group(self, group_id: str) -> dict[str, Any]:
        if group_id not in self.groups:
            raise ScimError(404, f"Resource {group_id} not found")
        return self.groups[group_id]

    def _members(self, members: Any) -> list[dict[str, Any]]:
        if not isinstance(members, list):
            raise ScimError(400, "'members' must be a list", "invalidValue")
        out = []
        for member in members:
            value = member.get("value") if isinstance(member, dict) else None
            if value not in self.users:
                raise ScimError(400, f"Member {value} is not a user of this team", "invalidValue")
            out.append({"value": value, "display": self.users[value].get("displayName", "")})
        return out

    def create_group(self, body: dict[str, Any], now: float) -> dict[str, Any]:
        name = body.get("displayName")
        if not isinstance(name, str) or not name.strip():
            raise ScimError(400, "Attribute 'displayName' is required", "invalidValue")
        if any(g["displayName"].casefold() == name.casefold() for g in self.groups.values()):
            raise ScimError(409, f"Group {name} already exists", "uniqueness")
        group: dict[str, Any] = {
            "schemas": [GROUP_SCHEMA],
            "id": self.new_id(),
            "displayName": name,
            "members": self._members(body.get("members", [])),
            "meta": {"resourceType": "Group", "created": iso(now), "lastModified": iso(now)},
        }
        if body.get("externalId"):
            group["externalId"] = body["externalId"]
        self.groups[group["id"]] = group
        return group

    def group_view(self, group: dict[str, Any], location: str) -> dict[str, Any]:
        view = copy.deepcopy(group)
        view["meta"]["location"] = f"{location}/Groups/{group['id']}"
        return view

    # -- PatchOp ---------------------------------------------------------------------------
    def patch(self, resource: dict[str, Any], body: dict[str, Any], now: float) -> None:
        if PATCH_SCHEMA not in body.get("schemas", []):
            raise ScimError(400, f"PATCH body must declare schema {PATCH_SCHEMA}", "invalidSyntax")
        operations = body.get("Operations")
        if not isinstance(operations, list) or not operations:
            raise ScimError(400, "'Operations' must be a non-empty list", "invalidSyntax")
        is_group = resource["meta"]["resourceType"] == "Group"
        work = copy.deepcopy(resource)
        for operation in operations:
            op = str(operation.get("op", "")).lower()
            path, value = operation.get("path"), operation.get("value")
            if op not in ("add", "replace", "remove"):
                raise ScimError(400, f"Unsupported op {operation.get('op')!r}", "invalidSyntax")
            if is_group and path and path.startswith("members"):
                self._patch_members(work, op, path, value)
            elif path:
                _set_path(work, path, None if op == "remove" else value, remove=op == "remove")
            elif isinstance(value, dict) and op != "remove":
                for key, item in value.items():
                    _set_path(work, key, item, remove=False)
            else:
                raise ScimError(400, "An operation without 'path' needs an object 'value'", "invalidSyntax")
        if not is_group and work["userName"] != resource["userName"]:
            other = self.by_user_name(work["userName"])
            if other is not None and other["id"] != resource["id"]:
                raise ScimError(409, f"User with userName {work['userName']} already exists", "uniqueness")
        work["meta"]["lastModified"] = iso(now)
        resource.clear()
        resource.update(work)

    def _patch_members(self, group: dict[str, Any], op: str, path: str, value: Any) -> None:
        members = group.setdefault("members", [])
        match = _MEMBER_PATH.match(path)
        if op == "remove":
            gone = {match.group(1)} if match else {m.get("value") for m in value or []}
            group["members"] = [m for m in members if m["value"] not in gone]
            return
        added = self._members(value if isinstance(value, list) else [value])
        if op == "replace":
            group["members"] = added
            return
        known = {m["value"] for m in members}
        members.extend(m for m in added if m["value"] not in known)


def _set_path(resource: dict[str, Any], path: str, value: Any, *, remove: bool) -> None:
    if path in ("id", "meta", "schemas", "groups"):
        raise ScimError(400, f"Attribute {path} is read-only", "mutability")
    head, _, rest = path.partition(".")
    if rest:
        target = resource.setdefault(head, {})
        if not isinstance(target, dict):
            raise ScimError(400, f"Attribute {head} is not complex", "invalidPath")
        _set_path(target, rest, value, remove=remove)
    elif remove:
        resource.pop(head, None)
    else:
        resource[head] = value


def parse_filter(text: str | None) -> tuple[str, str] | None:
    """``attr eq "value"`` on a filterable attribute, else a 400 ``invalidFilter``."""
    if not text:
        return None
    match = _FILTER.match(text)
    if not match or match.group(1) not in FILTERABLE:
        raise ScimError(
            400,
            f'Unsupported filter {text!r}: use attr eq "value" on {", ".join(sorted(FILTERABLE))}',
            "invalidFilter",
        )
    # one pass, so an escaped backslash before a quote (\\\") stays a backslash then a quote
    return match.group(1), _ESCAPE.sub(r"\1", match.group(2))


def matches(resource: dict[str, Any], condition: tuple[str, str] | None) -> bool:
    if condition is None:
        return True
    attr, value = condition
    found = resource.get(attr)
    if attr in ("userName", "displayName"):  # caseExact false (RFC 7643 4.1.1)
        return isinstance(found, str) and found.casefold() == value.casefold()
    return found == value


def seed(now: float) -> ScimStore:
    """24 users (three deactivated) and four groups, stable across resets."""
    store = ScimStore()
    ids = []
    for i in range(24):
        first, last = _PEOPLE[i % len(_PEOPLE)]
        email = f"{first.lower()}.{last.lower()}{i // len(_PEOPLE) or ''}@example.com"
        user = store.create_user(
            {
                "userName": email,
                "externalId": f"hr-{1000 + i}",
                "name": {"givenName": first, "familyName": last},
                "displayName": f"{first} {last}",
                "emails": [{"value": email, "type": "work", "primary": True}],
                "active": i % 8 != 7,
            },
            now,
        )
        ids.append(user["id"])
    for name, members in _GROUPS.items():
        store.create_group({"displayName": name, "members": [{"value": ids[i]} for i in members]}, now)
    return store
