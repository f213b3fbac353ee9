"""SCIM 2.0 user provisioning (docs/celonis-api.md 4 and 6) under both documented prefixes.

Celonis's docs disagree on the prefix (``/api/user-provisioning`` or ``/user-provisioning``),
so the same routes answer under both; ``serve_prefixes`` switches one off, to prove a DAG's
``api_prefixes`` override works. Paging, filters, PatchOp, Bulk and the error schema follow
RFC 7644 (all [guess]); the store lives in :mod:`~airflow_provider_celonis.emulator.stores.scim`,
the protocol pieces (settings, list pages, Bulk, discovery) in :mod:`.scim_protocol`.
A prefix switched off answers like any unknown path (404 ``GENERAL_NOTFOUND_PATH``, before
authentication). A :class:`ScimError` raised by a route becomes a SCIM error response through
the routes' own class (:class:`_ScimRoute`), so no route catches it itself. Settings:
``POST /_emulator/scim/settings``; state: ``GET /_emulator/scim/state``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from dataclasses import asdict, fields
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.apis.scim_protocol import (
    LIST_QUIRKS,
    PREFIXES,
    SCHEMAS,
    SCIM_JSON,
    TYPES,
    ScimSettings,
    bulk_one,
    list_page,
    service_provider_config_body,
)
from airflow_provider_celonis.emulator.oauth import AccessRefused, Principal, requires, state_of
from airflow_provider_celonis.emulator.stores.scim import (
    BULK_REQUEST,
    BULK_RESPONSE,
    ERROR_SCHEMA,
    ScimError,
    ScimStore,
    matches,
    parse_filter,
    seed,
)
from airflow_provider_celonis.emulator.stores.state import EmulatorState


def init_state(state: EmulatorState) -> None:
    state.ext["scim"] = {"store": seed(state.now()), "settings": ScimSettings()}


def _store(request: Request) -> ScimStore:
    store: ScimStore = state_of(request).ext["scim"]["store"]
    return store


def _settings(request: Request) -> ScimSettings:
    settings: ScimSettings = state_of(request).ext["scim"]["settings"]
    return settings


def scim_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=SCIM_JSON)


def scim_error(err: ScimError) -> Response:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(err.status), "detail": err.detail}
    if err.scim_type:
        body["scimType"] = err.scim_type
    return scim_response(body, err.status)


def _location(request: Request) -> str:
    path = request.url.path
    return str(request.base_url).rstrip("/") + path[: path.index("/scim/v2") + len("/scim/v2")]


def _prefix_served(request: Request) -> None:
    """Router dependency, run before authentication: a switched-off prefix is an unknown path."""
    path = request.url.path
    if not any(path.startswith(p + "/") for p in _settings(request).serve_prefixes):
        raise AccessRefused(problems.not_found_path(path))


class _ScimRoute(APIRoute):
    """A route whose :class:`ScimError` (from the endpoint or its dependencies) is a SCIM error body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ScimError as err:
                return scim_error(err)

        return handle


_scim = APIRouter(route_class=_ScimRoute, dependencies=[Depends(_prefix_served)])
router = APIRouter()


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise ScimError(400, "Request body is not JSON", "invalidSyntax") from None
    if not isinstance(body, dict):
        raise ScimError(400, "Request body must be a JSON object", "invalidSyntax")
    return body


def _list(request: Request, resources: list[dict[str, Any]]) -> Response:
    return list_page(request.query_params, resources, _settings(request))


# -- Users ---------------------------------------------------------------------------------
@_scim.get("/scim/v2/Users")
def list_users(request: Request, principal: Principal = Depends(requires("scim"))) -> Response:
    store, where, base = _store(request), parse_filter(request.query_params.get("filter")), _location(request)
    with state_of(request).lock:  # async routes change the store meanwhile
        found = [store.user_view(u, base) for u in store.users.values() if matches(u, where)]
    return _list(request, found)


@_scim.post("/scim/v2/Users")
async def create_user(request: Request, principal: Principal = Depends(requires("scim"))) -> Response:
    body, store, state = await _body(request), _store(request), state_of(request)
    with state.lock:
        view = store.user_view(store.create_user(body, state.now()), _location(request))
    return scim_response(view, 201)


@_scim.get("/scim/v2/Users/{user_id}")
def get_user(request: Request, user_id: str, principal: Principal = Depends(requires("scim"))) -> Response:
    store = _store(request)
    with state_of(request).lock:
        view = store.user_view(store.user(user_id), _location(request))
    return scim_response(view)


@_scim.put("/scim/v2/Users/{user_id}")
async def put_user(
    request: Request, user_id: str, principal: Principal = Depends(requires("scim"))
) -> Response:
    body, store, state = await _body(request), _store(request), state_of(request)
    with state.lock:
        view = store.user_view(store.replace_user(user_id, body, state.now()), _location(request))
    return scim_response(view)


@_scim.patch("/scim/v2/Users/{user_id}")
@_scim.patch("/scim/v2/Groups/{group_id}")
async def patch_resource(
    request: Request,
    user_id: str | None = None,
    group_id: str | None = None,
    principal: Principal = Depends(requires("scim")),
) -> Response:
    if not _settings(request).patch_supported:
        raise ScimError(501, "PATCH is not supported")
    body, store, state = await _body(request), _store(request), state_of(request)
    ignored = _settings(request).ignore_patch_paths
    if user_id and ignored and isinstance(body.get("Operations"), list):
        body = {**body, "Operations": [o for o in body["Operations"] if o.get("path") not in ignored]}
    with state.lock:
        resource = store.user(user_id) if user_id else store.group(str(group_id))
        if body.get("Operations") != []:  # everything dropped: nothing to do, still a 200
            store.patch(resource, body, state.now())
        view = store.user_view(resource, _location(request)) if user_id else None
    if view is not None:
        return scim_response(view)
    return Response(status_code=204)  # "OK, but no content to return" [doc]


@_scim.delete("/scim/v2/Users/{user_id}")
@_scim.delete("/scim/v2/Groups/{group_id}")
def delete_resource(
    request: Request,
    user_id: str | None = None,
    group_id: str | None = None,
    principal: Principal = Depends(requires("scim")),
) -> Response:
    store = _store(request)
    with state_of(request).lock:
        if user_id:
            store.delete_user(user_id)
        else:
            store.group(str(group_id))
            del store.groups[str(group_id)]
    return Response(status_code=204)


# -- Groups --------------------------------------------------------------------------------
@_scim.get("/scim/v2/Groups")
def list_groups(request: Request, principal: Principal = Depends(requires("scim"))) -> Response:
    store, where, base = _store(request), parse_filter(request.query_params.get("filter")), _location(request)
    with state_of(request).lock:
        found = [store.group_view(g, base) for g in store.groups.values() if matches(g, where)]
    return _list(request, found)


@_scim.post("/scim/v2/Groups")
async def create_group(request: Request, principal: Principal = Depends(requires("scim"))) -> Response:
    body, store, state = await _body(request), _store(request), state_of(request)
    with state.lock:
        view = store.group_view(store.create_group(body, state.now()), _location(request))
    return scim_response(view, 201)


@_scim.get("/scim/v2/Groups/{group_id}")
def get_group(request: Request, group_id: str, principal: Principal = Depends(requires("scim"))) -> Response:
    store = _store(request)
    with state_of(request).lock:
        view = store.group_view(store.group(group_id), _location(request))
    return scim_response(view)


# -- Bulk ----------------------------------------------------------------------------------
@_scim.post("/scim/v2/Bulk")
async def bulk(request: Request, principal: Principal = Depends(requires("scim"))) -> Response:
    """RFC 7644 3.7 without ``bulkId`` references: each operation runs on its own."""
    body = await _body(request)
    if BULK_REQUEST not in body.get("schemas", []):
        raise ScimError(400, f"Bulk body must declare schema {BULK_REQUEST}", "invalidSyntax")
    operations = body.get("Operations") or []
    if len(operations) > 1000:
        raise ScimError(413, "At most 1000 operations per bulk request", "tooMany")
    fail_on = int(body.get("failOnErrors") or 0)
    results, errors = [], 0
    store, state, where = _store(request), state_of(request), _location(request)
    for operation in operations:
        method, path = str(operation.get("method", "")).upper(), str(operation.get("path", ""))
        entry: dict[str, Any] = {"method": method}
        if operation.get("bulkId"):
            entry["bulkId"] = operation["bulkId"]
        try:
            with state.lock:
                entry.update(bulk_one(store, method, path, operation.get("data") or {}, state.now(), where))
        except ScimError as err:
            errors += 1
            entry["status"] = str(err.status)
            entry["response"] = {"schemas": [ERROR_SCHEMA], "status": str(err.status), "detail": err.detail}
        results.append(entry)
        if fail_on and errors >= fail_on:
            break
    return scim_response({"schemas": [BULK_RESPONSE], "Operations": results})


# -- discovery -----------------------------------------------------------------------------
@_scim.get("/scim/v2/ServiceProviderConfig")
def service_provider_config(request: Request, principal: Principal = Depends(requires("scim"))) -> Response:
    return scim_response(service_provider_config_body(_settings(request)))


@_scim.get("/scim/v2/Schemas")
@_scim.get("/scim/v2/Schemas/{urn}")
@_scim.get("/scim/v2/ResourceTypes")
@_scim.get("/scim/v2/ResourceTypes/{urn}")
def discovery(
    request: Request, urn: str | None = None, principal: Principal = Depends(requires("scim"))
) -> Response:
    table = SCHEMAS if "/Schemas" in request.url.path else TYPES
    if urn is None:
        return _list(request, list(table.values()))
    if urn not in table:
        raise ScimError(404, f"Resource {urn} not found")
    return scim_response(table[urn])


for _prefix in PREFIXES:
    router.include_router(_scim, prefix=_prefix)


# -- control -------------------------------------------------------------------------------
@router.post("/_emulator/scim/settings")
def set_settings(request: Request, values: dict[str, Any] = Body(...)) -> JSONResponse:
    settings = _settings(request)
    unknown = sorted(set(values) - {f.name for f in fields(ScimSettings)})
    if unknown:
        return JSONResponse({"error": f"unknown SCIM settings {unknown}"}, status_code=400)
    if values.get("list_quirk") not in (None, *LIST_QUIRKS):
        return JSONResponse({"error": f"list_quirk must be one of {sorted(LIST_QUIRKS)}"}, status_code=400)
    with state_of(request).lock:
        for name, value in values.items():
            setattr(settings, name, value)
    return JSONResponse(asdict(settings))


@router.get("/_emulator/scim/state")
def get_state(request: Request) -> JSONResponse:
    """All users (with ``groups``) and groups, as the team now holds them."""
    store = _store(request)
    with state_of(request).lock:
        users = [store.user_view(u, "") for u in store.users.values()]
        groups = [store.group_view(g, "") for g in store.groups.values()]
    return JSONResponse({"users": users, "groups": groups})
