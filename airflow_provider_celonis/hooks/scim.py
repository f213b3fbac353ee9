"""``CelonisScimHook``: SCIM 2.0 user provisioning (Users, Groups, Bulk, discovery) on a Celonis team.

Scope ``user-provisioning.scim`` and the user-provisioning permission "SCIM". Celonis documents
the paths but not the protocol details, so they follow RFC 7643/7644 ([guess], see
docs/scim.md): list pages with a 1-based ``startIndex`` and ``count``, ``filter=attr eq "v"``,
PatchOp bodies, deactivation by ``active: false``.

The base prefix is disputed in Celonis's own docs: the default is ``/api/user-provisioning``;
set the connection extra ``api_prefixes`` to ``{"scim": "/user-provisioning"}`` (or pass
``api_prefixes`` to the hook) when your team answers there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_celonis.client.apis import SCIM
from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.client.intelligence_pages import Answer, page_list, read_answer, unexpected
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SCIM_HEADERS = {"Content-Type": "application/scim+json", "Accept": "application/scim+json, application/json"}
RESOURCES = ("Users", "Groups")
MAX_PAGES = 100_000
"""A server that never stops paging must not keep a task running forever."""


@dataclass
class ScimListing:
    """All resources of one listing, each once, and whether the server's paging added up."""

    resources: list[dict[str, Any]]
    total: int | None = None
    """``totalResults`` of the last page."""
    duplicates: list[str] = field(default_factory=list)
    """Ids listed more than once (kept once in ``resources``)."""
    problem: str | None = None
    """Why the listing cannot be trusted to hold every resource once; ``None`` when it can."""


def scim_call(
    method: str,
    template: str,
    ids: dict[str, Any] | None = None,
    *,
    reads_answer: bool = True,
    idempotent: bool | None = None,
    **kwargs: Any,
) -> Call:
    """A call under ``/scim/v2`` with the SCIM media types; SCIM answers the resource it wrote."""
    kwargs["headers"] = {**SCIM_HEADERS, **(kwargs.get("headers") or {})}
    return Call(SCIM, method, f"/scim/v2/{template}", ids or {}, kwargs, idempotent, reads_answer)


def quote_filter(value: str) -> str:
    """A SCIM filter string literal: backslashes and double quotes escaped (RFC 7644 3.4.2.2)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class CelonisScimHook(CelonisOAuthHook):
    """SCIM calls, each one :class:`~airflow_provider_celonis.client.calls.Call` sent by the base
    hook (retries, token re-grant, typed errors, ids percent-encoded).

    Takes the same arguments as :class:`CelonisOAuthHook`.
    """

    # -- reading ---------------------------------------------------------------------------
    def _page(self, resource: str, params: dict[str, Any]) -> Answer:
        """One list page, its shape checked (a 200 that is not a ListResponse is an error)."""
        call = scim_call("GET", resource, params=params)
        what, path = f"SCIM {resource} listing", call.path
        with self.call_response(call) as response:
            answer = read_answer(response, what=what, method="GET", path=path)
        body, status, content_type = answer.body, answer.status, answer.content_type
        total = body.get("totalResults") if isinstance(body, dict) else None
        if isinstance(body, dict) and "Resources" not in body and total == 0:
            # RFC 7644 3.4.2: Resources may be left out when empty
            return Answer({**body, "Resources": []}, status, content_type)
        if not isinstance(body, dict) or not isinstance(body.get("Resources"), list):
            page_list(
                body,
                "Resources",
                what=what,
                method="GET",
                path=path,
                status=status,
                content_type=content_type,
            )
        for number, item in enumerate(body["Resources"], 1):
            # the plan keys users by id: a null or id-less resource must not become a crash or a guess
            problem = (
                f"resource {number} of the page is a JSON {type(item).__name__}, not an object"
                if not isinstance(item, dict)
                else f"resource {number} of the page has no id"
                if item.get("id") in (None, "")
                else None
            )
            if problem:
                raise unexpected(
                    what,
                    problem,
                    method="GET",
                    path=path,
                    status=status,
                    content_type=content_type,
                    raw=body,
                )
        start = body.get("startIndex")
        if body["Resources"] and isinstance(start, int) and start != params["startIndex"]:
            raise unexpected(
                what,
                f"the page asked from startIndex {params['startIndex']} starts at {start}",
                method="GET",
                path=path,
                status=status,
                content_type=content_type,
                raw=body,
            )
        return Answer(body, status, content_type)

    def list_resources(
        self,
        resource: str,
        *,
        filter_expr: str | None = None,
        attributes: list[str] | None = None,
        excluded_attributes: list[str] | None = None,
        count: int = 100,
    ) -> ScimListing:
        """Every ``Users`` or ``Groups`` resource, page by page (``startIndex`` 1-based), checked.

        The next ``startIndex`` moves by the number of resources actually returned, so a server
        that caps ``count`` below the request (RFC 7644 allows it) still pages correctly. A page
        that repeats the previous one is an error; a resource listed twice is kept once and,
        like a count that differs from ``totalResults``, makes the listing's ``problem``.
        """
        if resource not in RESOURCES:
            raise CelonisConfigurationError(
                "resource", f"is {resource!r}", f"use one of {', '.join(RESOURCES)}"
            )
        if not isinstance(count, int) or count < 1:
            raise CelonisConfigurationError("count", f"is {count!r}", "use a positive page size, e.g. 100")
        params: dict[str, Any] = {"count": count}
        if filter_expr:
            params["filter"] = filter_expr
        if attributes:
            params["attributes"] = ",".join(attributes)
        if excluded_attributes:
            params["excludedAttributes"] = ",".join(excluded_attributes)
        listing, start, previous, totals = ScimListing([]), 1, None, set()
        by_id: dict[str, dict[str, Any]] = {}
        for _ in range(MAX_PAGES):
            answer = self._page(resource, {**params, "startIndex": start})
            body = answer.body
            page: list[Any] = body["Resources"]
            ids = [str(item.get("id")) if isinstance(item, dict) else repr(item) for item in page]
            if page and ids == previous:
                raise unexpected(
                    f"SCIM {resource} listing",
                    f"the page from startIndex {start} repeats the previous page ({len(page)} resources)",
                    method="GET",
                    path=f"/scim/v2/{resource}",
                    status=answer.status,
                    content_type=answer.content_type,
                    raw=body,
                )
            previous = ids
            total = body.get("totalResults")
            if isinstance(total, int):
                totals.add(total)
                listing.total = total
            for ident, item in zip(ids, page, strict=True):
                if ident in by_id:
                    listing.duplicates.append(ident)
                else:
                    by_id[ident] = item
            start += len(page)
            if not page or (isinstance(total, int) and start > total):
                break
        else:
            raise CelonisApiError(
                f"SCIM {resource} listing did not end after {MAX_PAGES} pages.",
                status=200,
                method="GET",
                path=f"/scim/v2/{resource}",
                fix="check the server's totalResults and startIndex handling",
            )
        listing.resources = list(by_id.values())
        problems = []
        if listing.duplicates:
            problems.append(
                f"{len(listing.duplicates)} resources were listed twice (ids {listing.duplicates[:5]})"
            )
        if len(totals) > 1:
            problems.append(f"totalResults changed while paging ({sorted(totals)})")
        if listing.total is not None and listing.total != len(listing.resources):
            problems.append(
                f"{len(listing.resources)} distinct resources came but totalResults is {listing.total}"
            )
        if listing.total is None and listing.resources:
            # RFC 7644 requires totalResults; without it nothing proves the listing is whole
            problems.append("the pages carry no totalResults, so nothing proves every resource came")
        listing.problem = "; ".join(problems) or None
        return listing

    def iter_resources(
        self,
        resource: str,
        *,
        filter_expr: str | None = None,
        attributes: list[str] | None = None,
        excluded_attributes: list[str] | None = None,
        count: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """The resources of :meth:`list_resources`; an inconsistent listing is an error here."""
        listing = self.list_resources(
            resource,
            filter_expr=filter_expr,
            attributes=attributes,
            excluded_attributes=excluded_attributes,
            count=count,
        )
        if listing.problem:
            raise CelonisApiError(
                f"SCIM {resource} listing is not consistent: {listing.problem}.",
                status=200,
                method="GET",
                path=f"/scim/v2/{resource}",
                fix="re-run (the team may have changed while it was read); if it repeats, report the "
                "server's paging to Celonis support",
            )
        yield from listing.resources

    def iter_users(self, *, filter_expr: str | None = None, count: int = 100) -> Iterator[dict[str, Any]]:
        return self.iter_resources("Users", filter_expr=filter_expr, count=count)

    def iter_groups(self, *, filter_expr: str | None = None, count: int = 100) -> Iterator[dict[str, Any]]:
        return self.iter_resources("Groups", filter_expr=filter_expr, count=count)

    def get_user(self, user_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(scim_call("GET", "Users/{user_id}", {"user_id": user_id}))
        return result

    def find_user(self, user_name: str) -> dict[str, Any] | None:
        """The user whose ``userName`` equals ``user_name`` (SCIM compares it case-insensitively)."""
        found = list(self.iter_users(filter_expr=f"userName eq {quote_filter(user_name)}", count=10))
        return found[0] if found else None

    def get_group(self, group_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(scim_call("GET", "Groups/{group_id}", {"group_id": group_id}))
        return result

    def service_provider_config(self) -> dict[str, Any]:
        """What the server supports: ``patch``, ``bulk`` (max operations), ``filter.maxResults``."""
        result: dict[str, Any] = self.call(scim_call("GET", "ServiceProviderConfig"))
        return result

    def schemas(self) -> list[dict[str, Any]]:
        return list((self.call(scim_call("GET", "Schemas")) or {}).get("Resources") or [])

    def resource_types(self) -> list[dict[str, Any]]:
        return list((self.call(scim_call("GET", "ResourceTypes")) or {}).get("Resources") or [])

    # -- writing ---------------------------------------------------------------------------
    def create_user(self, user: dict[str, Any]) -> dict[str, Any]:
        """POST a user; 409 (``CelonisConflictError``) when the ``userName`` exists already."""
        body = {"schemas": [USER_SCHEMA], **{k: v for k, v in user.items() if k != "schemas"}}
        result: dict[str, Any] = self.call(scim_call("POST", "Users", json=body))
        return result

    def replace_user(self, user_id: str, user: dict[str, Any]) -> dict[str, Any]:
        body = {"schemas": [USER_SCHEMA], **{k: v for k, v in user.items() if k not in ("schemas", "meta")}}
        result: dict[str, Any] = self.call(
            scim_call("PUT", "Users/{user_id}", {"user_id": user_id}, json=body)
        )
        return result

    def patch_user(self, user_id: str, operations: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Apply PatchOp ``operations`` (``{"op": "replace", "path": "active", "value": False}``)."""
        body = {"schemas": [PATCH_SCHEMA], "Operations": operations}
        call = scim_call("PATCH", "Users/{user_id}", {"user_id": user_id}, json=body, idempotent=True)
        result: dict[str, Any] | None = self.call(call)
        return result

    def set_active(self, user_id: str, active: bool) -> dict[str, Any] | None:
        """Deactivate (``False``) or reactivate a user; the provider never deletes users."""
        return self.patch_user(user_id, [{"op": "replace", "path": "active", "value": active}])

    def create_group(self, display_name: str, member_ids: list[str] | None = None) -> dict[str, Any]:
        body = {
            "schemas": [GROUP_SCHEMA],
            "displayName": display_name,
            "members": [{"value": m} for m in member_ids or []],
        }
        result: dict[str, Any] = self.call(scim_call("POST", "Groups", json=body))
        return result

    def update_group_members(
        self, group_id: str, *, add: list[str] | None = None, remove: list[str] | None = None
    ) -> None:
        """Group membership is managed only through the Group resource (Celonis docs); may answer 204."""
        operations: list[dict[str, Any]] = []
        if add:
            operations.append({"op": "add", "path": "members", "value": [{"value": m} for m in add]})
        operations += [{"op": "remove", "path": f"members[value eq {quote_filter(m)}]"} for m in remove or []]
        if operations:
            body = {"schemas": [PATCH_SCHEMA], "Operations": operations}
            ids = {"group_id": group_id}
            self.call(
                scim_call("PATCH", "Groups/{group_id}", ids, json=body, idempotent=True, reads_answer=False)
            )

    def bulk(self, operations: list[dict[str, Any]], *, fail_on_errors: int | None = None) -> dict[str, Any]:
        """POST ``/Bulk`` (RFC 7644 3.7); never replayed after it may have arrived."""
        body: dict[str, Any] = {"schemas": [BULK_SCHEMA], "Operations": operations}
        if fail_on_errors is not None:
            body["failOnErrors"] = fail_on_errors
        result: dict[str, Any] = self.call(scim_call("POST", "Bulk", json=body))
        return result
