"""Team-level APIs: ``/api/team``, ``/api/cloud`` and the Team Members (User Group Info) API.

Members follow docs/celonis-api.md 2.4: ``includeInternal`` is required, ``pageSize`` is
1-200 (default 200), ``lastLogin`` is a display string (sometimes null), and a page past the
end answers 204 with no body, like the Login History API.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any, NoReturn

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.oauth import AccessRefused, Principal, requires, state_of
from airflow_provider_celonis.emulator.stores.state import EmulatorState

router = APIRouter()

TEAM_ID = "3f1c2a9e-5d4b-4c1e-9a7f-0b6d2e8c1a55"
MEMBER_COUNT = 57
INTERNAL_EVERY = 10  # every tenth member is an internal (Celonis) account
_ROLES = ["MEMBER", "ADMIN", "MEMBER", "ANALYST", "VIEWER"]
_GROUPS = [
    ("Process Analysts", "ANALYST"),
    ("Data Engineers", "MEMBER"),
    ("Admins", "ADMIN"),
    ("Viewers", "VIEWER"),
]
_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus"]
_LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Wirth",
]


def display_time(when: datetime) -> str:
    """Celonis's ``lastLogin`` display form, e.g. ``12/10/2023, 6:49:07 AM UTC``."""
    hour = when.hour % 12 or 12
    return f"{when.month}/{when.day}/{when.year}, {hour}:{when:%M:%S} {'AM' if when.hour < 12 else 'PM'} UTC"


def make_members(seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    base = datetime(2025, 11, 1, tzinfo=timezone.utc)
    members = []
    for i in range(MEMBER_COUNT):
        first, last = _FIRST[i % 10], _LAST[(i * 3) % 10]
        internal = i % INTERNAL_EVERY == 9
        email = f"{first.lower()}.{last.lower()}{i}@{'celonis.com' if internal else 'example.com'}"
        login = base - timedelta(seconds=rng.randint(0, 90 * 86400))
        last_login: str | None = display_time(login)
        if i % 13 == 12:
            last_login = None
        elif i % 17 == 16:
            last_login = "Never"
        groups = rng.sample(_GROUPS, k=rng.randint(0, 2))
        members.append(
            {
                "userId": f"{rng.getrandbits(128):032x}"[:8] + f"-0000-4000-8000-{i:012d}",
                "nameAndEmail": f"{first} {last} ({email})",
                "status": "Active" if i % 11 else "Pending",
                "userRole": _ROLES[i % len(_ROLES)],
                "lastLogin": last_login,
                "inactivityPeriod": (base - login).days,
                "group": [{"name": name, "teamRole": role} for name, role in groups],
                "_internal": internal,
            }
        )
    return members


def init_state(state: EmulatorState) -> None:
    state.ext["team"] = {"members": make_members()}


def page_params(request: Request, default_size: int = 200, max_size: int = 200) -> tuple[int, int]:
    """0-based ``pageNumber`` and ``pageSize`` (1..max) of the Team APIs; 400 otherwise."""
    try:
        number = int(request.query_params.get("pageNumber", 0))
        size = int(request.query_params.get("pageSize", default_size))
    except ValueError:
        raise_bad("pageNumber and pageSize must be integers")
    if number < 0 or not 1 <= size <= max_size:
        raise_bad(f"pageNumber must be >= 0 and pageSize between 1 and {max_size}")
    return number, size


def raise_bad(detail: str) -> NoReturn:
    raise AccessRefused(problems.bad_parameter(detail))


@router.get("/api/team")
def team(request: Request, principal: Principal = Depends(requires("team"))) -> dict[str, Any]:
    return {"id": TEAM_ID, "name": "emulated-team", "domain": request.url.hostname, "realm": "local"}


@router.get("/api/cloud")
def cloud(principal: Principal = Depends(requires("team"))) -> dict[str, Any]:
    return {"id": principal.client_id, "name": principal.client_id, "type": "APPLICATION", "teamId": TEAM_ID}


@router.get("/api/external/members")
def members(request: Request, principal: Principal = Depends(requires("team_members"))) -> Response:
    include = request.query_params.get("includeInternal")
    if include not in ("true", "false"):
        return problems.bad_parameter(
            "Required request parameter 'includeInternal' is not present or not boolean"
        )
    number, size = page_params(request)
    rows = [m for m in state_of(request).ext["team"]["members"] if include == "true" or not m["_internal"]]
    page = rows[number * size : (number + 1) * size]
    if not page:
        return Response(status_code=204)
    content = [{k: v for k, v in m.items() if not k.startswith("_")} for m in page]
    return JSONResponse({"content": content, "pageNumber": number, "pageSize": size, "totalCount": len(rows)})
