"""The Celonis APIs this provider calls: default OAuth scope, path prefix and permission of each.

Every request the hook sends names one of these, because Celonis grants access per API: the
token must carry the API's scope *and* the OAuth client must hold a Celonis permission on the
object. Keeping both in one table lets error messages name the exact scope and permission
to add, and lets the README's scope table be generated from the same source.

Scopes and prefixes are defaults taken from ``docs/celonis-api.md``; several are spelled
two ways in Celonis's own docs, so the connection extra ``scopes`` and the hook argument
``api_prefixes`` can override them per API.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CelonisApi:
    """One Celonis API as the provider sees it."""

    key: str
    """Stable identifier used in connection extras (``scopes``, ``api_prefixes``)."""
    title: str
    """Name as Celonis's docs print it."""
    scope: str
    """Default OAuth scope requested for this API."""
    prefix: str
    """Service prefix in front of the API's paths on the team URL."""
    permission: str
    """The Celonis permission the OAuth client also needs, phrased for an error message."""
    scope_variants: tuple[str, ...] = ()
    """Other spellings seen in Celonis docs, offered in the fix for an ``invalid_scope``."""


AUDIT_LOG = CelonisApi(
    "audit_log",
    "Audit Log API",
    "audit.log:read",
    "/log",
    "team permission 'Use Audit Log API'",
    ("audit.log",),
)
PLATFORM_ADOPTION = CelonisApi(
    "platform_adoption",
    "Platform (Studio) Adoption API",
    "platform-adoption.tracking-events:read",
    "/platform-adoption",
    "team permission 'Studio Adoption APIs' (and the Studio tracking service switched on)",
    ("platform-adoption.tracking-events",),
)
LOGIN_HISTORY = CelonisApi(
    "login_history",
    "Team Login History API",
    "team.login-history:read",
    "",
    "team permission 'Use Login History API' (and Login History enabled)",
    ("team.login-history",),
)
TEAM_MEMBERS = CelonisApi(
    "team_members",
    "Team Members (User Group Info) API",
    "team.user-group-info:read",
    "",
    "team permission 'Use User Group Info API'",
    ("team.user-group-info",),
)
DATA_JOBS = CelonisApi(
    "data_jobs",
    "Data Job Execution API",
    "integration.data-pools",
    "/integration",
    "view and manage permission on the data pool",
)
DATA_MODELS = CelonisApi(
    "data_models",
    "Process Data Model API",
    "integration.data-pools",
    "/integration",
    "Edit permission on the data pool",
)
DATA_PUSH = CelonisApi(
    "data_push",
    "Data Push API",
    "integration.data-pools",
    "/data-ingestion",
    "the data pool's 'Data Push API' permission",
    ("integration.data-pools:data-push", "integration.data-pools:data_push"),
)
SCIM = CelonisApi(
    "scim",
    "SCIM API",
    "user-provisioning.scim",
    "/api/user-provisioning",
    "user-provisioning permission 'SCIM'",
)
KNOWLEDGE_MODEL = CelonisApi(
    "knowledge_model",
    "Knowledge Model API",
    "studio",
    "/intelligence",
    "USE PACKAGE on the Studio package that holds the Knowledge Model",
)
EVENT_SUBSCRIPTION = CelonisApi(
    "event_subscription",
    "Event Subscription API",
    "intelligence.subscriptions:manage",
    "/intelligence",
    "USE PACKAGE on the Studio package that holds the Knowledge Model",
)
CHAT = CelonisApi(
    "chat",
    "Chat API",
    "intelligence.conversations:write",
    "/intelligence",
    "USE PACKAGE on the Studio package that holds the agent",
)
TOOLS = CelonisApi(
    "tools",
    "Tools API",
    "intelligence.tools:execute",
    "/studio-copilot",
    "access to the Studio asset that defines the tool",
    ("mcp-asset.tools:execute",),
)
TEAM = CelonisApi(
    "team",
    "Team API (/api/team, /api/cloud)",
    "",
    "",
    "membership of the team",
)

ALL_APIS: dict[str, CelonisApi] = {
    api.key: api
    for api in (
        AUDIT_LOG,
        PLATFORM_ADOPTION,
        LOGIN_HISTORY,
        TEAM_MEMBERS,
        DATA_JOBS,
        DATA_MODELS,
        DATA_PUSH,
        SCIM,
        KNOWLEDGE_MODEL,
        EVENT_SUBSCRIPTION,
        CHAT,
        TOOLS,
        TEAM,
    )
}


def get_api(key_or_api: str | CelonisApi) -> CelonisApi:
    """Resolve an API key such as ``"audit_log"``; raises ``KeyError`` naming the valid keys."""
    if isinstance(key_or_api, CelonisApi):
        return key_or_api
    try:
        return ALL_APIS[key_or_api]
    except KeyError:
        raise KeyError(
            f"Unknown Celonis API {key_or_api!r}; valid keys are: {', '.join(sorted(ALL_APIS))}"
        ) from None
