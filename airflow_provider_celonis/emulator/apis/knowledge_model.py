"""Knowledge Model API (docs/celonis-api.md 5.1 and 6) under ``/intelligence``.

Models, records, KPIs, filters and the paged ``/data`` of a model or record (GET query or POST
``KmQueryDataRequest`` body). Documented limits: 20 requests/s and 6,000/day (429 with a
date-time ``X-RateLimit-Reset``), 200 fields per request, and only the first 5,000 records of
a filtered or sorted table. Switches (``POST /_emulator/knowledge-model/settings``):
``per_second``, ``per_day``, ``reset_format``, ``cut_at``, ``cut_total``, ``max_fields``,
``max_page_size``, ``order_rows``, ``customer_rows``. "API not activated" is the generic
``disabled_apis`` setting (403 with an empty body).
"""

from __future__ import annotations

import json
from collections import deque
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
BASE = "/intelligence/api/knowledge-models"


@dataclass
class KmSettings:
    per_second: int = 20
    per_day: int = 6000
    reset_format: str = "datetime"
    """``X-RateLimit-Reset`` as a UTC date-time (the KM spec) or ``seconds``."""
    cut_at: int = 5000
    cut_total: str = "full"
    """[guess] ``total`` of a cut result: ``full`` (all matches) or ``capped`` (at ``cut_at``);
    ``absent``: no data page carries ``total`` (a server that does not count)."""
    max_fields: int = 200
    max_page_size: int = 1000
    """[guess] largest ``pageSize``; beyond it 400."""
    order_rows: int = 12_000
    customer_rows: int = 250
    total_offset: int = 0
    """A hostile server for tests: data pages count this many rows more in ``total`` than they
    serve (rows deleted while the export pages)."""
    ignore_page: bool = False
    """A hostile server for tests: every page is page 0 (the ``page`` parameter is ignored)."""


def init_state(state: EmulatorState) -> None:
    state.ext["knowledge_model"] = {"settings": KmSettings(), "second": deque(), "day": {}}


def _settings(request: Request) -> KmSettings:
    settings: KmSettings = state_of(request).ext["knowledge_model"]["settings"]
    return settings


def rate_limited(request: Request) -> None:
    """Count the call against the per-second and per-day windows; 429 when one is full."""
    state, settings = state_of(request), _settings(request)
    data = state.ext["knowledge_model"]
    now = state.now()
    with state.lock:
        window: deque[float] = data["second"]
        while window and window[0] <= now - 1.0:
            window.popleft()
        today = datetime.fromtimestamp(now, timezone.utc).date().isoformat()
        used = data["day"].get(today, 0)
        if used >= settings.per_day:
            limit, reset = settings.per_day, datetime.fromisoformat(today).replace(tzinfo=timezone.utc)
            reset += timedelta(days=1)
        elif len(window) >= settings.per_second:
            limit, reset = settings.per_second, datetime.fromtimestamp(window[0] + 1.0, timezone.utc)
        else:
            window.append(now)
            data["day"][today] = used + 1
            return
    wait = max(reset.timestamp() - now, 0.0)
    value = (
        reset.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if settings.reset_format == "datetime"
        else str(max(int(wait + 0.999), 1))
    )
    raise AccessRefused(
        problems.problem(
            429,
            "Rate limit for INTELLIGENCE_API_RATE_LIMIT is exceeded. "
            f"Please try again at {reset:%H:%M:%S} UTC.",
            "LIMIT_RATE_EXCEEDED",
            headers={
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": value,
            },
        )
    )


def km_access(request: Request, principal: Principal = Depends(requires("knowledge_model"))) -> Principal:
    rate_limited(request)
    return principal


def _page(
    request: Request, items: list[Any], page: Any = None, size: Any = None, total: int | None = None
) -> Response:
    settings = _settings(request)
    try:
        number = int(page if page is not None else request.query_params.get("page", 0))
        count = int(size if size is not None else request.query_params.get("pageSize", 50))
    except (TypeError, ValueError):
        return problems.bad_parameter("page and pageSize must be integers")
    if number < 0 or not 1 <= count <= settings.max_page_size:
        return problems.bad_parameter(
            f"page must be >= 0 and pageSize between 1 and {settings.max_page_size}"
        )
    sort = request.query_params.get("sort")
    if settings.ignore_page:
        number = 0
    return JSONResponse(
        {
            "content": items[number * count : (number + 1) * count],
            "page": number,
            "pageSize": count,
            "total": len(items) if total is None else total,
            "sort": sort,
        }
    )


def _km(km_id: str) -> None:
    if km_id != km_data.KM_ID:
        raise AccessRefused(problems.problem(404, f"Knowledge Model {km_id} not found", "KM_NOT_FOUND"))


def _record(km_id: str, record_id: str) -> None:
    _km(km_id)
    if record_id not in km_data.FIELDS:
        raise AccessRefused(
            problems.problem(404, f"Record {record_id} not found in {km_id}", "RECORD_NOT_FOUND")
        )


@router.get(BASE)
def list_models(request: Request, principal: Principal = Depends(km_access)) -> Response:
    return _page(request, [{"id": km_data.KM_ID, "name": km_data.KM_NAME}])


@router.get(BASE + "/{km_id}")
def get_model(km_id: str, principal: Principal = Depends(km_access)) -> dict[str, Any]:
    _km(km_id)
    return {"id": km_id, "name": km_data.KM_NAME, "records": list(km_data.FIELDS)}


@router.get(BASE + "/{km_id}/records")
def list_records(request: Request, km_id: str, principal: Principal = Depends(km_access)) -> Response:
    _km(km_id)
    items = [
        {"id": rid, "displayName": rid.title(), "fields": [{"id": f, "type": t} for f, t in spec.items()]}
        for rid, spec in km_data.FIELDS.items()
    ]
    return _page(request, items)


@router.get(BASE + "/{km_id}/kpis")
def list_kpis(request: Request, km_id: str, principal: Principal = Depends(km_access)) -> Response:
    _km(km_id)
    return _page(request, [{"id": k, "displayName": k.replace("_", " ")} for k in km_data.KPIS])


@router.get(BASE + "/{km_id}/filters")
def list_filters(request: Request, km_id: str, principal: Principal = Depends(km_access)) -> Response:
    _km(km_id)
    return _page(request, [{"id": k, "expression": v} for k, v in km_data.NAMED_FILTERS.items()])


async def _query_args(request: Request) -> dict[str, Any]:
    """Query parameters of a GET, or the ``KmQueryDataRequest`` body of a POST."""
    if request.method == "POST":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise AccessRefused(
                problems.problem(415, "Expected a JSON KmQueryDataRequest body", "GENERAL_ERROR")
            )

        def listed(name: str) -> list[str]:
            value = body.get(name) or []
            return km_data.split_list(value if isinstance(value, list) else [value])

        return {
            "fields": listed("fields"),
            "filters": listed("filters"),
            "kpis": listed("kpis"),
            "filter_expr": body.get("filterExpr"),
            "sort": body.get("sort"),
            "page": body.get("page", 0),
            "size": body.get("pageSize", 50),
        }
    params = request.query_params
    return {
        "fields": km_data.split_list(params.getlist("fields")),
        "filters": km_data.split_list(params.getlist("filters")),
        "kpis": km_data.split_list(params.getlist("kpis")),
        "filter_expr": params.get("filterExpr"),
        "sort": params.get("sort"),
        "page": params.get("page", 0),
        "size": params.get("pageSize", 50),
    }


def _data_page(request: Request, record: str, args: dict[str, Any], qualified: bool) -> Response:
    settings = _settings(request)
    sizes = {"ORDER": settings.order_rows, "CUSTOMER": settings.customer_rows}
    try:
        found, cut = km_data.query(
            record,
            sizes,
            fields=args["fields"],
            filter_expr=args["filter_expr"],
            filters=args["filters"],
            kpis=args["kpis"],
            sort=args["sort"],
            qualified=qualified,
            max_fields=settings.max_fields,
        )
    except km_data.QueryError as err:
        return problems.bad_parameter(str(err))
    total = len(found)
    if cut and total > settings.cut_at:
        found = found[: settings.cut_at]  # the documented limit of a filtered or sorted table
        total = settings.cut_at if settings.cut_total == "capped" else total
    response = _page(request, found, args["page"], args["size"], total + settings.total_offset)
    if settings.cut_total == "absent" and response.status_code == 200:
        body = json.loads(bytes(response.body))
        del body["total"]
        return JSONResponse(body)
    return response


@router.api_route(BASE + "/{km_id}/data", methods=["GET", "POST"])
async def km_data_route(request: Request, km_id: str, principal: Principal = Depends(km_access)) -> Response:
    """Model-level data: ``fields`` are ``RECORD.field`` ids of one record."""
    _km(km_id)
    args = await _query_args(request)
    records = {f.split(".", 1)[0] for f in args["fields"] if "." in f}
    if not args["fields"] or len(records) != 1 or any("." not in f for f in args["fields"]):
        return problems.bad_parameter("fields must name RECORD.field ids of exactly one record")
    record = records.pop()
    if record not in km_data.FIELDS:
        return problems.bad_parameter(f"Unknown record {record!r}")
    return _data_page(request, record, args, qualified=True)


@router.api_route(BASE + "/{km_id}/records/{record_id}/data", methods=["GET", "POST"])
async def record_data(
    request: Request, km_id: str, record_id: str, principal: Principal = Depends(km_access)
) -> Response:
    _record(km_id, record_id)
    return _data_page(request, record_id, await _query_args(request), qualified=False)


# -- control -------------------------------------------------------------------------------
@router.post("/_emulator/knowledge-model/settings")
def set_settings(request: Request, values: dict[str, Any] = Body(...)) -> JSONResponse:
    settings = _settings(request)
    unknown = sorted(set(values) - {f.name for f in fields(KmSettings)})
    if unknown:
        return JSONResponse({"error": f"unknown Knowledge Model settings {unknown}"}, status_code=400)
    with state_of(request).lock:
        for name, value in values.items():
            setattr(settings, name, value)
    return JSONResponse(asdict(settings))
