"""Control routes of the emulated usage APIs (``/_emulator/usage/...``): settings, counters, counts.

Split from :mod:`.usage` (the API routes). ``EmulatorClient.configure_usage``, ``usage_stats``
and ``usage_count`` call these.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.apis.usage import STREAMS, UsageSettings, _settings, _window
from airflow_provider_celonis.emulator.oauth import state_of

router = APIRouter()


@router.get("/_emulator/usage/settings")
def get_settings(request: Request) -> dict[str, Any]:
    return asdict(_settings(request))


@router.post("/_emulator/usage/settings")
def set_settings(request: Request, values: dict[str, Any] = Body(...)) -> JSONResponse:
    settings = _settings(request)
    known = {f.name for f in fields(UsageSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        return JSONResponse(
            {"error": f"unknown usage settings {unknown}; known: {sorted(known)}"}, status_code=400
        )
    if (
        values.get("oversize", "reject") not in ("reject", "clamp")
        or values.get("v2_last_page", "absent") not in ("absent", "empty", "null")
        or values.get("login_empty_status", 204) not in (200, 204)
    ):
        return JSONResponse(
            {"error": "oversize: reject|clamp; v2_last_page: absent|empty|null; login_empty_status: 200|204"},
            status_code=400,
        )
    if values.get("rate_limit_key", "team") not in ("team", "client") or values.get(
        "rate_limit_reset_format", "seconds"
    ) not in ("seconds", "datetime", "retry_after"):
        return JSONResponse(
            {"error": "rate_limit_key: team|client; rate_limit_reset_format: seconds|datetime|retry_after"},
            status_code=400,
        )
    for name in (
        "visibility_delay",
        "visibility_jitter",
        "latency",
        "rate_limit_per_second",
        "time_resolution",
    ):
        delay = values.get(name, 0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay < 10**9:
            return JSONResponse({"error": f"{name}: seconds, 0 or more"}, status_code=400)
    for stream in STREAMS:
        if int(values.get(f"{stream}_per_hour", 1)) < 1:
            return JSONResponse({"error": f"{stream}_per_hour must be >= 1"}, status_code=400)
    with state_of(request).lock:
        for name, value in values.items():
            setattr(settings, name, value)
    return JSONResponse(asdict(settings))


@router.get("/_emulator/usage/stats")
def stats(request: Request) -> dict[str, Any]:
    """Pages served, 429s answered by the rate limit, and the most requests in flight at once."""
    state = state_of(request)
    with state.lock:
        return dict(state.ext["usage"]["stats"])


@router.post("/_emulator/usage/stats/reset")
def reset_stats(request: Request) -> dict[str, Any]:
    state = state_of(request)
    with state.lock:
        state.ext["usage"]["stats"].update(pages=0, rate_limited=0, max_in_flight=0)
        state.ext["usage"]["calls"].clear()
        return dict(state.ext["usage"]["stats"])


@router.get("/_emulator/usage/count")
def count(request: Request, stream: str, start: str, end: str, visible: bool = False) -> JSONResponse:
    """How many events of ``stream`` exist in ``[start, end)`` right now (for tests and benchmarks):
    every event whose time has come, queryable or not yet (``visible=true``: queryable only)."""
    if stream not in STREAMS:
        return problems.bad_parameter(f"stream must be one of {STREAMS}")
    names = {"from": "start", "to": "end"}
    window = _window(request, stream, names, half_open=True, visible_only=visible)
    return JSONResponse({"count": len(window)})
