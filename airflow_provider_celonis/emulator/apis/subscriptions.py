"""Event Subscription API (docs/celonis-api.md 5.2 and 6) under ``/intelligence``.

Triggers of the Knowledge Model, subscriptions with their status changes (pause, resume,
resume-from-latest, replay from an offset), delete (204) and the failed-events page, which a
``PATCH .../events`` advances like a cursor ([guess]; ``events_cursor_advances=False`` serves
the same page again and again). Create and update validate the callback as documented:
``https`` uri, header allow-list, at most 8,192 bytes of headers (400 otherwise, a [guess] on
the status; ``reject_invalid_callback=False`` accepts them). Statuses are the reference's
lowercase ``active, failed, suspended, paused, rejected``. Switches: ``POST
/_emulator/subscriptions/settings`` (the fields of :class:`SubscriptionSettings`);
``GET /_emulator/subscriptions`` shows the state.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.oauth import AccessRefused, Principal, requires, state_of
from airflow_provider_celonis.emulator.stores import knowledge_model as km_data
from airflow_provider_celonis.emulator.stores.state import EmulatorState

router = APIRouter()
KM = "/intelligence/api/knowledge-models"
SUBS = "/intelligence/api/subscriptions"
ALLOWED_HEADERS = ("authorization", "content-type", "user-agent", "host", "accept")
MAX_HEADER_BYTES = 8192
TRIGGERS = {
    "trg-late-orders": {"name": "Late orders", "record": "ORDER", "description": "Orders past due date"},
    "trg-new-customer": {"name": "New customer", "record": "CUSTOMER", "description": "Customer created"},
}
SEEDED_ID = "0b7e5a52-5c1a-4e55-9a1e-000000000001"
FAILED_EVENTS = 7
"""Failed events of the seeded subscription."""


@dataclass
class SubscriptionSettings:
    events_page_size: int = 3
    """[guess] failed events returned per ``PATCH .../events``."""
    latest_offset: int = 1042
    """The newest event offset of every trigger (what resume-from-latest jumps to)."""
    events_cursor_advances: bool = True
    """[guess] each ``PATCH .../events`` moves past the page it returns; False: the same page again."""
    events_empty_pages: int = 0
    """A hostile server for tests: this many ``PATCH .../events`` calls answer an empty page that
    says ``hasMore: true`` (nothing consumed), before the real pages."""
    events_without_offset: bool = False
    """A hostile server for tests: failed events come without their ``offset``."""
    reject_invalid_callback: bool = True
    """[guess] an invalid callback (uri, headers, name, configurations) answers 400; False: accepted."""


def _failed_event(number: int, trigger_id: str, subscriber: str, now: float) -> dict[str, Any]:
    row = km_data.order(number)
    when = datetime.fromtimestamp(now, timezone.utc) - timedelta(minutes=number)
    return {
        "subscriberId": subscriber,
        "triggerId": trigger_id,
        "offset": 1000 + number,
        "creationDate": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "event": {
            "id": str(uuid.UUID(int=number + 1)),
            "identifier": row["id"],
            "typedIdentifier": f"ORDER:{row['id']}",
            "fields": [
                {
                    "id": key,
                    "value": value,
                    "type": km_data.FIELDS["ORDER"][key].upper(),
                    "isIdentifier": key == "id",
                }
                for key, value in row.items()
            ],
        },
    }


def init_state(state: EmulatorState) -> None:
    settings = SubscriptionSettings()
    now = state.now()
    seeded = {
        "id": SEEDED_ID,
        "name": "late-orders-to-erp",
        "triggerId": "trg-late-orders",
        "knowledgeModelId": km_data.KM_ID,
        "callbackInfo": {"uri": "https://erp.example.com/celonis/hooks", "protocol": "HTTPS", "headers": {}},
        "configurations": ["SKIP_ERRORS"],
        "status": "failed",
        "offset": 1000,
        "latestSucceedEvent": 999,
        "creationDate": "2025-01-01T00:00:00.000Z",
        "ownerName": "demo-client",
    }
    failed = [_failed_event(n, "trg-late-orders", SEEDED_ID, now) for n in range(FAILED_EVENTS)]
    state.ext["subscriptions"] = {
        "settings": settings,
        "subs": {SEEDED_ID: seeded},
        "failed": {SEEDED_ID: failed},
    }


def _data(request: Request) -> dict[str, Any]:
    data: dict[str, Any] = state_of(request).ext["subscriptions"]
    return data


def _bad(detail: str) -> AccessRefused:
    return AccessRefused(problems.problem(400, detail, "GENERAL_PARAMETER_MISSMATCH"))


def _sub(request: Request, sub_id: str) -> dict[str, Any]:
    sub: dict[str, Any] | None = _data(request)["subs"].get(sub_id)
    if sub is None:
        raise AccessRefused(
            problems.problem(404, f"Subscription {sub_id} not found", "SUBSCRIPTION_NOT_FOUND")
        )
    return sub


def _trigger(km_id: str, trigger_id: str) -> dict[str, Any]:
    if km_id != km_data.KM_ID:
        raise AccessRefused(problems.problem(404, f"Knowledge Model {km_id} not found", "KM_NOT_FOUND"))
    if trigger_id not in TRIGGERS:
        raise AccessRefused(problems.problem(404, f"Trigger {trigger_id} not found", "TRIGGER_NOT_FOUND"))
    return {"id": trigger_id, "knowledgeModelId": km_id, **TRIGGERS[trigger_id]}


async def _validated(request: Request) -> dict[str, Any]:
    """The documented body checks: name 1-1024, https callback, header allow-list and size."""
    try:
        body = await request.json()
    except ValueError:
        raise _bad("Body must be JSON") from None
    if not isinstance(body, dict):
        raise _bad("Body must be a JSON object")
    if not isinstance(body.get("callbackInfo"), dict):
        raise _bad("callbackInfo must be an object")
    settings: SubscriptionSettings = _data(request)["settings"]
    if settings.reject_invalid_callback:
        _check_callback(body)
    return body


def _check_callback(body: dict[str, Any]) -> None:
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 1024:
        raise _bad("name must be 1 to 1024 characters")
    callback = body.get("callbackInfo")
    if not isinstance(callback, dict) or not str(callback.get("uri", "")).lower().startswith("https://"):
        raise _bad("callbackInfo.uri must be an https URI")
    headers = callback.get("headers") or {}
    if not isinstance(headers, dict):
        raise _bad("callbackInfo.headers must be an object")
    refused = sorted(h for h in headers if h.lower() not in ALLOWED_HEADERS)
    if refused:
        raise _bad(f"Headers not allowed: {', '.join(refused)}")
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in headers.items())
    if size > MAX_HEADER_BYTES:
        raise _bad(f"Callback headers exceed {MAX_HEADER_BYTES} bytes ({size})")
    configurations = body.get("configurations") or []
    if not isinstance(configurations, list) or set(configurations) - {"SKIP_ERRORS"}:
        raise _bad("configurations may only contain SKIP_ERRORS")


def _page(request: Request, items: list[Any]) -> Response:
    try:
        number = int(request.query_params.get("page", 0))
        size = int(request.query_params.get("pageSize", 50))
    except ValueError:
        return problems.bad_parameter("page and pageSize must be integers")
    if number < 0 or size < 1:
        return problems.bad_parameter("page must be >= 0 and pageSize >= 1")
    content = items[number * size : (number + 1) * size]
    return JSONResponse(
        {"content": content, "page": number, "pageSize": size, "total": len(items), "sort": None}
    )


@router.get(KM + "/{km_id}/triggers")
def list_triggers(
    request: Request, km_id: str, principal: Principal = Depends(requires("event_subscription"))
) -> Response:
    return _page(request, [_trigger(km_id, t) for t in TRIGGERS] if km_id == km_data.KM_ID else [])


@router.get(KM + "/{km_id}/triggers/{trigger_id}")
def get_trigger(
    km_id: str, trigger_id: str, principal: Principal = Depends(requires("event_subscription"))
) -> dict[str, Any]:
    return _trigger(km_id, trigger_id)


@router.post(KM + "/{km_id}/triggers/{trigger_id}/subscriptions")
async def create(
    request: Request,
    km_id: str,
    trigger_id: str,
    principal: Principal = Depends(requires("event_subscription")),
) -> Response:
    _trigger(km_id, trigger_id)
    body = await _validated(request)
    state = state_of(request)
    sub_id = str(uuid.uuid4())
    with state.lock:
        _data(request)["subs"][sub_id] = {
            "id": sub_id,
            "name": body.get("name"),
            "triggerId": trigger_id,
            "knowledgeModelId": km_id,
            "callbackInfo": {**body["callbackInfo"], "protocol": "HTTPS"},
            "configurations": body.get("configurations") or [],
            "status": "active",
            "offset": _data(request)["settings"].latest_offset,
            "latestSucceedEvent": None,
            "creationDate": datetime.fromtimestamp(state.now(), timezone.utc)
            .isoformat()
            .replace("+00:00", "Z"),
            "ownerName": principal.client_id,
        }
        _data(request)["failed"][sub_id] = []
    return JSONResponse({"id": sub_id}, status_code=201)


@router.get(SUBS)
def list_subscriptions(
    request: Request, principal: Principal = Depends(requires("event_subscription"))
) -> Response:
    with state_of(request).lock:
        subs = [dict(s) for s in _data(request)["subs"].values()]
    return _page(request, sorted(subs, key=lambda s: s["creationDate"]))


@router.get(SUBS + "/{sub_id}")
def get_subscription(
    request: Request, sub_id: str, principal: Principal = Depends(requires("event_subscription"))
) -> dict[str, Any]:
    with state_of(request).lock:
        return dict(_sub(request, sub_id))


@router.put(SUBS + "/{sub_id}")
async def update(
    request: Request, sub_id: str, principal: Principal = Depends(requires("event_subscription"))
) -> Any:
    sub = _sub(request, sub_id)
    body = await _validated(request)
    with state_of(request).lock:
        sub["name"] = body.get("name")
        sub["callbackInfo"] = {**body["callbackInfo"], "protocol": "HTTPS"}
        sub["configurations"] = body.get("configurations") or []
        return dict(sub)


@router.delete(SUBS + "/{sub_id}")
def delete(
    request: Request, sub_id: str, principal: Principal = Depends(requires("event_subscription"))
) -> Response:
    _sub(request, sub_id)
    with state_of(request).lock:
        del _data(request)["subs"][sub_id]
        _data(request)["failed"].pop(sub_id, None)
    return Response(status_code=204)


@router.patch(SUBS + "/{sub_id}/{action}")
def change(
    request: Request, sub_id: str, action: str, principal: Principal = Depends(requires("event_subscription"))
) -> Response:
    sub, data = _sub(request, sub_id), _data(request)
    settings: SubscriptionSettings = data["settings"]
    with state_of(request).lock:
        if action == "events":
            queue = data["failed"].setdefault(sub_id, [])
            if settings.events_empty_pages > 0:
                settings.events_empty_pages -= 1
                return JSONResponse({"content": [], "pageSize": settings.events_page_size, "hasMore": True})
            page = queue[: settings.events_page_size]
            if settings.events_without_offset:
                page = [{k: v for k, v in event.items() if k != "offset"} for event in page]
            if settings.events_cursor_advances:
                data["failed"][sub_id] = queue[settings.events_page_size :]
            return JSONResponse(
                {"content": page, "pageSize": settings.events_page_size, "hasMore": bool(queue[len(page) :])}
            )
        if action == "pause":
            sub["status"] = "paused"
        elif action == "resume":
            sub["status"] = "active"
        elif action == "resume-from-latest":
            sub["status"], sub["offset"] = "active", settings.latest_offset
        elif action == "replay":
            raw = request.query_params.get("fromOffset")
            if raw is None or not raw.lstrip("-").isdigit() or int(raw) < 0:
                return problems.bad_parameter("fromOffset is required and must be a non-negative integer")
            if int(raw) > settings.latest_offset:
                return problems.bad_parameter(
                    f"fromOffset {raw} is beyond the latest offset {settings.latest_offset}"
                )
            sub["status"], sub["offset"] = "active", int(raw)
        else:
            return problems.not_found_path(request.url.path)
    return Response(status_code=204)


# -- control -------------------------------------------------------------------------------
@router.post("/_emulator/subscriptions/settings")
def set_settings(request: Request, values: dict[str, Any] = Body(...)) -> JSONResponse:
    settings: SubscriptionSettings = _data(request)["settings"]
    unknown = sorted(set(values) - {f.name for f in fields(SubscriptionSettings)})
    if unknown:
        return JSONResponse({"error": f"unknown subscription settings {unknown}"}, status_code=400)
    with state_of(request).lock:
        for name, value in values.items():
            setattr(settings, name, value)
    return JSONResponse(asdict(settings))


@router.get("/_emulator/subscriptions")
def subscriptions_state(request: Request) -> JSONResponse:
    data = _data(request)
    with state_of(request).lock:
        snapshot = {
            "subscriptions": [dict(s) for s in data["subs"].values()],
            "failed": {k: len(v) for k, v in data["failed"].items()},
        }
    return JSONResponse(snapshot)
