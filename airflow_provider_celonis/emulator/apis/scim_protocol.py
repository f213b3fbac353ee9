"""The RFC 7644 side of the SCIM emulator: settings, list pages, Bulk operations, discovery.

Route-free pieces used by :mod:`airflow_provider_celonis.emulator.apis.scim` (which serves
them under both documented prefixes): the settings a test switches through
``POST /_emulator/scim/settings`` (including the hostile listings of :data:`LIST_QUIRKS`),
one page of a ListResponse, one Bulk operation on the store, and the discovery documents.
Everything about them is a [guess] from RFC 7644 (docs/celonis-api.md 4).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import Response

from airflow_provider_celonis.emulator.stores.scim import (
    GROUP_SCHEMA,
    LIST_SCHEMA,
    USER_SCHEMA,
    ScimError,
    ScimStore,
)

PREFIXES = ("/api/user-provisioning", "/user-provisioning")
SCIM_JSON = "application/scim+json"


@dataclass
class ScimSettings:
    max_results: int = 100
    """[guess] most resources per list page; a larger ``count`` is cut to it (RFC 7644 3.4.2.4)."""
    serve_prefixes: list[str] = field(default_factory=lambda: list(PREFIXES))
    """Which of the two documented prefixes answer; the other gives 404."""
    patch_supported: bool = True
    """[guess] whether PATCH is accepted (False: 501, as a server without PATCH support)."""
    ignore_patch_paths: list[str] = field(default_factory=list)
    """A hostile server for tests: User PATCH operations on these paths are dropped silently and
    the answer is 200 with the user as it was (a server that does not support a path)."""
    list_quirk: str | None = None
    """A hostile listing, for tests (Users and Groups lists; see :data:`LIST_QUIRKS`)."""


LIST_QUIRKS = {
    "repeat_resource": "every page after the first starts one resource early: one is on two pages",
    "drop_resource": "the second resource is on no page; totalResults still counts it",
    "ignore_start_index": "every page is the first page (the server ignores startIndex)",
    "no_resources": "a 200 whose Resources field is missing although totalResults is not 0",
    "html": "a 200 text/html page (a proxy's login or error page)",
    "truncated": "a 200 whose JSON body is cut in the middle",
    "no_total": "pages without totalResults",
    "growing_total": "each page after the first counts one more totalResults (users added meanwhile)",
    "stale_start_index": "pages after the first say startIndex 1 while holding the asked page",
    "null_resource": "the first page holds a null where a resource should be",
    "no_id": "the first resource of the first page has no id",
}


def list_page(query: Mapping[str, str], resources: list[dict[str, Any]], settings: ScimSettings) -> Response:
    """One page of a SCIM ListResponse (RFC 7644 3.4.2.4), or the hostile page ``list_quirk`` asks for."""
    try:
        start = int(query.get("startIndex", 1))
        count = int(query.get("count", settings.max_results))
    except ValueError:
        raise ScimError(400, "startIndex and count must be integers", "invalidValue") from None
    start, count = max(start, 1), max(min(count, settings.max_results), 0)
    quirk, total = settings.list_quirk, len(resources)
    first = 0 if quirk == "ignore_start_index" else start - 1
    if quirk == "repeat_resource" and start > 1:
        first -= 1
    if quirk == "drop_resource":
        resources = resources[:1] + resources[2:]
    page = resources[first : first + count]
    body: dict[str, Any] = {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(page),
        "Resources": page,
    }
    if quirk == "growing_total" and start > 1:
        body["totalResults"] = total + 1 + (start - 1) // max(count, 1)
    if quirk == "stale_start_index":
        body["startIndex"] = 1
    if quirk == "null_resource" and start == 1 and page:
        body["Resources"] = [None, *page[1:]]
    if quirk == "no_id" and start == 1 and page:
        body["Resources"] = [{k: v for k, v in page[0].items() if k != "id"}, *page[1:]]
    if quirk == "no_resources" and resources:
        del body["Resources"]
    if quirk == "no_total":
        del body["totalResults"]
    if quirk == "html":
        return Response("<html><body>Please sign in</body></html>", media_type="text/html")
    text = json.dumps(body)
    if quirk == "truncated":
        return Response(text[: len(text) // 2], media_type=SCIM_JSON)
    return Response(text, media_type=SCIM_JSON)


def bulk_one(
    store: ScimStore, method: str, path: str, data: dict[str, Any], now: float, where: str
) -> dict[str, Any]:
    """One Bulk operation on the store; its ``status`` and ``location`` (a :class:`ScimError` on failure)."""
    kind, _, ident = path.strip("/").partition("/")
    if kind not in ("Users", "Groups"):
        raise ScimError(400, f"Unsupported bulk path {path!r}", "invalidPath")
    if method == "POST" and not ident:
        created = store.create_user(data, now) if kind == "Users" else store.create_group(data, now)
        return {"status": "201", "location": f"{where}/{kind}/{created['id']}"}
    if method == "PATCH" and ident:
        store.patch(store.user(ident) if kind == "Users" else store.group(ident), data, now)
        return {"status": "200" if kind == "Users" else "204", "location": f"{where}/{kind}/{ident}"}
    if method == "PUT" and ident and kind == "Users":
        store.replace_user(ident, data, now)
        return {"status": "200", "location": f"{where}/{kind}/{ident}"}
    if method == "DELETE" and ident:
        if kind == "Users":
            store.delete_user(ident)
        else:
            store.group(ident)
            del store.groups[ident]
        return {"status": "204"}
    raise ScimError(400, f"Unsupported bulk operation {method} {path}", "invalidSyntax")


def service_provider_config_body(settings: ScimSettings) -> dict[str, Any]:
    """What ``/ServiceProviderConfig`` announces, following the current settings."""
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": settings.patch_supported},
        "bulk": {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576},
        "filter": {"supported": True, "maxResults": settings.max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": True}
        ],
    }


SCHEMAS: dict[str, dict[str, Any]] = {
    USER_SCHEMA: {
        "id": USER_SCHEMA,
        "name": "User",
        "attributes": [{"name": "userName", "uniqueness": "server"}],
    },
    GROUP_SCHEMA: {"id": GROUP_SCHEMA, "name": "Group", "attributes": [{"name": "displayName"}]},
}
TYPES: dict[str, dict[str, Any]] = {
    "User": {"id": "User", "name": "User", "endpoint": "/Users", "schema": USER_SCHEMA},
    "Group": {"id": "Group", "name": "Group", "endpoint": "/Groups", "schema": GROUP_SCHEMA},
}
