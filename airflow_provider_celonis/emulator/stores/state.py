"""The emulated Celonis team: OAuth clients, issued tokens, counters, clock and fault rules.

One :class:`EmulatorState` per running emulator. API modules keep their own state under
``state.ext[<module name>]`` (created by their ``init_state``) so the emulator grows one
module per Celonis API without this file changing. ``reset()`` puts everything back to
the start configuration, which tests call between cases.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

ALL_PERMISSIONS = frozenset(
    {
        "USE_AUDIT_LOGS_API",
        "USE_LOGIN_HISTORY_API",
        "USE_STUDIO_ADOPTION_API",
        "USE_USER_GROUP_INFO_API",
        "SCIM",
        "DATA_POOL_MANAGE",
        "DATA_PUSH_API",
        "USE_PACKAGE",
    }
)


@dataclass(frozen=True)
class ApiAccess:
    """What real Celonis checks for one API: accepted scopes and the permission id."""

    scopes: tuple[str, ...]
    permission: str | None
    variants: tuple[str, ...] = ()


# The emulator's own record of Celonis's access rules (docs/celonis-api.md 1.3); kept apart
# from the provider's defaults on purpose, so a wrong default in the provider fails a test.
API_ACCESS: dict[str, ApiAccess] = {
    "audit_log": ApiAccess(("audit.log:read",), "USE_AUDIT_LOGS_API", ("audit.log",)),
    "platform_adoption": ApiAccess(
        ("platform-adoption.tracking-events:read",),
        "USE_STUDIO_ADOPTION_API",
        ("platform-adoption.tracking-events",),
    ),
    "login_history": ApiAccess(
        ("team.login-history:read",), "USE_LOGIN_HISTORY_API", ("team.login-history",)
    ),
    "team_members": ApiAccess(
        ("team.user-group-info:read",), "USE_USER_GROUP_INFO_API", ("team.user-group-info",)
    ),
    "data_jobs": ApiAccess(("integration.data-pools",), "DATA_POOL_MANAGE"),
    "data_models": ApiAccess(("integration.data-pools",), "DATA_POOL_MANAGE"),
    "data_push": ApiAccess(
        ("integration.data-pools", "integration.data-pools:data-push"),
        "DATA_PUSH_API",
        ("integration.data-pools:data_push",),
    ),
    "scim": ApiAccess(("user-provisioning.scim",), "SCIM"),
    "knowledge_model": ApiAccess(("studio",), "USE_PACKAGE"),
    "event_subscription": ApiAccess(("intelligence.subscriptions:manage",), "USE_PACKAGE"),
    "chat": ApiAccess(("intelligence.conversations:write",), "USE_PACKAGE"),
    "tools": ApiAccess(("intelligence.tools:execute",), None, ("mcp-asset.tools:execute",)),
    "team": ApiAccess((), None),
}
ALL_SCOPES = frozenset(s for a in API_ACCESS.values() for s in a.scopes + a.variants)


@dataclass
class Client:
    client_id: str
    client_secret: str = field(repr=False)
    auth_method: str = "client_secret_post"
    scopes: frozenset[str] = ALL_SCOPES
    permissions: frozenset[str] = ALL_PERMISSIONS


@dataclass
class Token:
    client_id: str
    scopes: frozenset[str]
    permissions: frozenset[str]
    expires_at: float


@dataclass
class FaultRule:
    """A fault to inject on matching requests, ``times`` times (-1: until cleared).

    kinds: ``status`` (answer ``status`` with a realistic body), ``rate_limit`` (429 with
    ``x-ratelimit-*`` headers, reset in ``reset`` seconds as ``reset_format`` ``seconds``,
    ``datetime`` or ``retry_after``), ``drop`` (close the connection mid-response), ``delay``
    (sleep ``delay`` seconds, then answer normally), and the page shapes of
    ``faults.PAGE_SHAPE_KINDS`` (``ignore_paging``, ``html``, ``truncate``, ``no_list``,
    ``rename_list``: a 200 a client must refuse), and the hostile servers of
    ``faults.hostile.HOSTILE_KINDS`` (``redirect`` to ``location``, ``echo`` of the request's
    credentials, ``trickle`` one byte per ``delay``). With ``process`` the request is handled
    first and the fault replaces its answer: the server acted, the client cannot know.
    """

    path: str = ".*"
    method: str | None = None
    kind: str = "status"
    status: int = 503
    times: int = 1
    skip: int = 0
    delay: float = 0.0
    reset: float = 1.0
    reset_format: str = "seconds"
    process: bool = False
    location: str = ""
    """Kind ``redirect``: the ``Location`` to answer (absolute, or a path on the emulator)."""
    late: float = 0.0
    """With ``process``: Celonis acts this many seconds after the fault answered (kind
    ``timeout`` stalls instead of answering); see ``emulator/faults/ambiguous.py``."""

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return re.search(self.path, path) is not None


@dataclass
class Settings:
    token_lifetime: int = 899
    scope_denied_status: int = 403
    """Status for a valid token lacking the route's scope (401 or 403: unknown on real Celonis)."""
    accept_scope_variants: bool = True
    disabled_apis: set[str] = field(default_factory=set)
    legacy_keys: dict[str, str] = field(default_factory=dict)
    """API key -> "AppKey" or "Bearer"; legacy keys get every permission."""


MAX_TOKENS = 10_000


def settings_from(values: dict[str, Any], base: Settings | None = None) -> Settings:
    """Settings from a JSON object, rejecting unknown names (a typo must not be a silent no-op)."""
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown settings {unknown}; known: {sorted(known)}")
    values = dict(values)
    if "disabled_apis" in values:
        values["disabled_apis"] = set(values["disabled_apis"])
        if values["disabled_apis"] - set(API_ACCESS):
            raise ValueError(f"disabled_apis must be among {sorted(API_ACCESS)}")
    return replace(base or Settings(), **values)


DEFAULT_CLIENTS = (
    Client("demo-client", "demo-secret", "client_secret_post"),
    Client("basic-client", "basic-secret", "client_secret_basic"),
)


class EmulatorState:
    def __init__(
        self,
        base_settings: Settings | None = None,
        initializers: list[Callable[[EmulatorState], None]] | None = None,
    ) -> None:
        self._base_settings = base_settings or Settings()
        self._initializers = list(initializers or [])
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            s = self._base_settings
            self.settings = replace(s, disabled_apis=set(s.disabled_apis), legacy_keys=dict(s.legacy_keys))
            self.clients: dict[str, Client] = {c.client_id: Client(**c.__dict__) for c in DEFAULT_CLIENTS}
            self.tokens: dict[str, Token] = {}
            self.clock_offset = 0.0
            self.faults: list[FaultRule] = []
            self.token_requests: Counter[str] = Counter()
            self.requests: Counter[str] = Counter()
            self.log: deque[dict[str, Any]] = deque(maxlen=500)
            self.ext: dict[str, Any] = {}
            for init in self._initializers:
                init(self)

    def now(self) -> float:
        """The emulator's wall clock; tests move it with ``advance_clock``."""
        return time.time() + self.clock_offset

    def issue_token(self, client: Client, scopes: frozenset[str]) -> tuple[str, Token]:
        value = secrets.token_urlsafe(32)
        token = Token(client.client_id, scopes, client.permissions, self.now() + self.settings.token_lifetime)
        with self.lock:
            if len(self.tokens) >= MAX_TOKENS:  # a long-running emulator: forget expired tokens
                now = self.now()
                self.tokens = {k: t for k, t in self.tokens.items() if t.expires_at > now}
            self.tokens[value] = token
            self.token_requests[client.client_id] += 1
        return value, token

    def take_fault(self, method: str, path: str) -> FaultRule | None:
        with self.lock:
            for rule in self.faults:
                if rule.times != 0 and rule.matches(method, path):
                    if rule.skip > 0:
                        rule.skip -= 1
                        return None
                    if rule.times > 0:
                        rule.times -= 1
                    return rule
        return None

    def stats(self) -> dict[str, Any]:
        with self.lock:
            api_calls = sum(n for key, n in self.requests.items() if " /oauth2/" not in key)
            return {
                "token_requests": sum(self.token_requests.values()),
                "token_requests_by_client": dict(self.token_requests),
                "api_calls": api_calls,
                "requests": dict(self.requests),
                "faults_pending": sum(1 for r in self.faults if r.times != 0),
            }
