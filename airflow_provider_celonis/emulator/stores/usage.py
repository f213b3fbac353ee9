"""Synthetic usage events computed from their index, so a window of a million events costs no memory.

Event ``i`` of a stream (audit, login, adoption) has a timestamp computed from ``i`` and the
stream's rate (events per hour since :data:`EPOCH_MS`), and its fields come from a cheap
integer hash of ``i``. A time window is therefore an index range found by binary search, and
any page of it can be built on demand. Events come in bursts of ``burst`` sharing one
millisecond, because real Celonis logs do and clients that assume unique timestamps
(docs/celonis-api.md section 2.1) lose records.

Late arrivals (events added while a client pages) are kept as a short sorted list per stream
and merged into the index order by position arithmetic, so pages shift exactly as they would
on a server whose data grows during pagination.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

EPOCH_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z: the first synthetic event
HOUR_MS = 3_600_000
ARRIVAL_BASE = 10**12  # indices of late arrivals, apart from the synthetic ones
_MASK = (1 << 64) - 1

AUDIT_EVENTS = (
    "STUDIO_NODE_UPDATED",
    "STUDIO_NODE_CREATED",
    "STUDIO_PACKAGE_PUBLISHED",
    "DATA_JOB_EXECUTED",
    "DATA_MODEL_LOADED",
    "USER_INVITED",
    "USER_ROLE_CHANGED",
    "PERMISSION_CHANGED",
    "APPLICATION_KEY_CREATED",
    "OAUTH_CLIENT_UPDATED",
)
ROLES = ("ADMIN", "MEMBER", "ANALYST", "VIEWER")
NODE_TYPES = ("VIEW", "ANALYSIS", "KNOWLEDGE_MODEL", "SKILL", "ACTION_FLOW")
AUTH_TYPES = (
    "LOGIN",
    "LOGIN_SSO",
    "LOGIN_CELONIS_ID",
    "LOGIN_OIDC",
    "LOGOUT",
    "ACCOUNT_TEMPORARILY_LOCKED",
    "ACCOUNT_NOT_CONFIRMED",
    "ACCOUNT_NOT_ACTIVE",
    "NOT_MEMBER_OF_TEAM",
    "TEAM_MEMBERSHIP_NOT_ACTIVE",
    "TEAM_MEMBERSHIP_NOT_CONFIRMED",
    "BAD_CREDENTIALS",
    "INVALID_2FA_TOKEN",
    "INVALID_PROVIDER",
)
SUCCESS_TYPES = frozenset({"LOGIN", "LOGIN_SSO", "LOGIN_CELONIS_ID", "LOGIN_OIDC", "LOGOUT"})
ADOPTION_EVENTS = ("VIEW_OPENED", "VIEW_CLOSED", "PACKAGE_OPENED", "SPACE_OPENED", "FILTER_APPLIED")
SPACES = ("Order to Cash", "Procure to Pay", "Accounts Payable", "Sandbox")
USERS = 40


def mix(i: int, salt: int = 0) -> int:
    """splitmix64: a fast, well-spread hash of an integer (deterministic across runs)."""
    z = (i + 0x9E3779B97F4A7C15 * (salt + 1)) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


# A fixed shuffle of the users: any USERS consecutive login events have distinct users.
_USER_ORDER = sorted(range(USERS), key=lambda n: mix(n, 4))


def iso_ms(ms: int) -> str:
    """``2025-02-25T14:52:10.903Z``, the form Celonis uses in responses."""
    when = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def timestamp_of(i: int, rate: int, burst: int) -> int:
    """Milliseconds of event ``i``: ``rate`` events per hour, ``burst`` of them per millisecond."""
    return EPOCH_MS + ((i - i % burst) * HOUR_MS) // rate


def first_index_at(ms: int, rate: int, burst: int) -> int:
    """Smallest index whose timestamp is ``>= ms``."""
    if ms <= EPOCH_MS:
        return 0
    lo, hi = 0, ((ms - EPOCH_MS) * rate) // HOUR_MS + 2 * burst + 2
    while lo < hi:
        mid = (lo + hi) // 2
        if timestamp_of(mid, rate, burst) < ms:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _user(h: int) -> tuple[str, str]:
    n = h % USERS
    return f"{n:08x}-7c1e-4a2b-9d3f-{mix(n, 9) % 16**12:012x}", f"user{n}@example.com"


def audit_event(i: int, ms: int) -> dict[str, Any]:
    h = mix(i)
    user_id, _ = _user(h)
    node = (h >> 16) % 500
    return {
        "userId": user_id,
        "userRole": ROLES[(h % USERS) % len(ROLES)],
        "event": AUDIT_EVENTS[(h >> 8) % len(AUDIT_EVENTS)],
        "timestamp": iso_ms(ms),
        "message": {
            "id": f"{i:012x}-{h % 16**8:08x}",
            "nodeName": f"Node {node}",
            "nodeKey": f"node-{node}",
            "packageKey": f"package-{node % 23}",
            "nodeType": NODE_TYPES[(h >> 24) % len(NODE_TYPES)],
            "assetType": "STUDIO_ASSET",
        },
        "ipAddress": None if h % 7 == 0 else f"10.{(h >> 32) % 256}.{(h >> 40) % 256}.{(h >> 48) % 254 + 1}",
        "port": 443,
        "diffPayload": None,
    }


def login_event(i: int, ms: int) -> dict[str, Any]:
    h = mix(i, 1)
    # Distinct users within one millisecond: Login History items have no id, so two identical
    # items would be indistinguishable (and de-duplicated by clients).
    user = _USER_ORDER[i % USERS]
    # Mostly logins, every type present: the first 5 types take 3/4 of the events.
    kind = AUTH_TYPES[h % 5] if (h >> 8) % 4 else AUTH_TYPES[(h >> 12) % len(AUTH_TYPES)]
    return {
        "authenticationEventType": kind,
        "email": _user(user)[1],
        "success": kind in SUCCESS_TYPES,
        "timestamp": iso_ms(ms),
    }


def adoption_event(i: int, ms: int, timestamp_field: str = "timestamp") -> dict[str, Any]:
    h = mix(i, 2)
    asset = (h >> 8) % 120
    return {
        "id": f"{i:012x}-{h % 16**8:08x}",
        "eventType": ADOPTION_EVENTS[h % len(ADOPTION_EVENTS)],
        "assetType": "STUDIO_ASSET",
        "assetId": f"asset-{asset}",
        "assetName": f"View {asset}",
        "packageKey": f"package-{asset % 23}",
        "spaceName": SPACES[asset % len(SPACES)],
        "userId": _user(h)[0],
        timestamp_field: iso_ms(ms),
        "durationSeconds": (h >> 20) % 900,
    }


class Window:
    """The events of one stream in ``[from_ms, to_ms)``, in server order, addressable by position.

    Synthetic events are the index range ``[lo, hi)``; ``extras`` are late arrivals
    ``(ms, index)`` inside the window, sorted. Ascending order is by timestamp, then index,
    with an arrival placed after synthetic events of the same millisecond.
    """

    def __init__(
        self, lo: int, hi: int, extras: Sequence[tuple[int, int]], rate: int, burst: int, newest_first: bool
    ) -> None:
        self.lo, self.hi, self.rate, self.burst = lo, hi, rate, burst
        self.extras = list(extras)
        self.newest_first = newest_first
        # Ascending position of each arrival among all events of the window.
        self.extra_pos = [
            k + min(max(first_index_at(ms + 1, rate, burst), lo), hi) - lo
            for k, (ms, _) in enumerate(self.extras)
        ]

    def __len__(self) -> int:
        return self.hi - self.lo + len(self.extras)

    def _ascending(self, a: int, b: int) -> list[tuple[int, int]]:
        """Events at ascending positions ``[a, b)`` as ``(index, ms)``."""
        out = []
        k = bisect.bisect_left(self.extra_pos, a)
        for p in range(a, b):
            if k < len(self.extra_pos) and self.extra_pos[k] == p:
                ms, index = self.extras[k]
                out.append((index, ms))
                k += 1
            else:
                i = self.lo + p - k
                out.append((i, timestamp_of(i, self.rate, self.burst)))
        return out

    def page(self, offset: int, size: int) -> list[tuple[int, int]]:
        """Positions ``[offset, offset + size)`` in server order (``[]`` past the end)."""
        n = len(self)
        a, b = max(0, min(offset, n)), max(0, min(offset + size, n))
        if not self.newest_first:
            return self._ascending(a, b)
        return self._ascending(n - b, n - a)[::-1]


def build_window(
    from_ms: int,
    to_ms: int,
    now_ms: int,
    rate: int,
    burst: int,
    arrivals: Sequence[tuple[int, int]],
    newest_first: bool,
    stragglers: Sequence[tuple[int, int]] = (),
) -> Window:
    """The window ``[from_ms, to_ms)``, capped at ``now_ms``: no event exists in the future.

    ``stragglers`` are synthetic events after ``now_ms`` that are visible anyway (see
    :func:`visible_stragglers`), ``(ms, index)`` sorted; they join the window as extras.
    """
    end = min(to_ms, now_ms + 1)
    lo = first_index_at(from_ms, rate, burst)
    hi = max(lo, first_index_at(end, rate, burst)) if end > from_ms else lo
    start = bisect.bisect_left(arrivals, (from_ms, -1))
    stop = bisect.bisect_left(arrivals, (end, -1))
    extras = list(arrivals[start:stop])
    if stragglers:
        extras = sorted(extras + [(ms, i) for ms, i in stragglers if from_ms <= ms < to_ms])
    return Window(lo, hi, extras, rate, burst, newest_first)


def visible_stragglers(
    certain_ms: int, now_ms: int, delay_ms: int, jitter_ms: int, rate: int, burst: int
) -> list[tuple[int, int]]:
    """Events after ``certain_ms`` (when all are visible) already visible at ``now_ms``: event ``i``
    shows ``delay_ms`` plus a fixed pseudo-random share of ``jitter_ms`` after its timestamp, so
    events show up out of order, as from an ingestion pipeline with parallel workers."""
    out = []
    for i in range(
        first_index_at(certain_ms + 1, rate, burst), first_index_at(now_ms - delay_ms + 1, rate, burst)
    ):
        ms = timestamp_of(i, rate, burst)
        if ms + delay_ms + mix(i, 6) % (jitter_ms + 1) <= now_ms:
            out.append((ms, i))
    return out


def arrival_times(from_ms: int, to_ms: int, now_ms: int, count: int, seq: int) -> list[tuple[int, int]]:
    """``count`` late arrivals spread over the window (not after now), with fresh indices."""
    end = min(to_ms, now_ms + 1)
    if end <= from_ms:
        return []
    return [(from_ms + mix(seq + k, 5) % (end - from_ms), ARRIVAL_BASE + seq + k) for k in range(count)]


Generator = Callable[[int, int], dict[str, Any]]
