"""Usage APIs: Audit Log (v1 pages, v2 cursor), Platform (Studio) Adoption (v1, v2), Login History.

Follows docs/celonis-api.md sections 2.1-2.3. Data comes from
:mod:`~airflow_provider_celonis.emulator.stores.usage` (computed by index, so a window may hold
millions of events). Every [guess] in the reference is a setting in :class:`UsageSettings`,
changed through ``POST /_emulator/usage/settings`` (``EmulatorClient.configure_usage``), so
DAGs and tests can be run against each plausible variant of the real service.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import random
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.apis.team import raise_bad
from airflow_provider_celonis.emulator.oauth import AccessRefused, Principal, requires, state_of
from airflow_provider_celonis.emulator.stores import usage as data
from airflow_provider_celonis.emulator.stores.state import EmulatorState

router = APIRouter()
STREAMS = ("audit", "login", "adoption")
_LOCAL_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?$")


@dataclass
class UsageSettings:
    """Switches for the usage APIs; defaults are the reference's defaults."""

    audit_per_hour: int = 120
    login_per_hour: int = 60
    adoption_per_hour: int = 90
    burst: int = 3
    """Events sharing one millisecond."""
    max_page_size: int = 200
    oversize: str = "reject"
    """[guess] pageSize above the maximum: ``reject`` (400) or ``clamp``."""
    newest_first: bool = True
    """[guess] server order before the in-page shuffle; no order is documented."""
    shuffle: bool = True
    """Items in no particular order within a page, as the real API (XSOAR sorts them itself)."""
    to_inclusive: bool = False
    """[guess] whether ``to`` is inclusive."""
    time_resolution: float = 0.0
    """[guess] The server's time resolution in seconds: ``from`` and ``to`` are cut down to a
    multiple of it before events are selected (1: a server that reads whole seconds, so
    ``to=…05.437Z`` selects nothing from 05.000 on); 0: taken to the millisecond as sent."""
    v2_last_page: str = "absent"
    """[guess] the last v2 page's ``nextPageToken``: ``absent``, ``empty`` ("") or ``null``."""
    login_empty_status: int = 204
    """[guess] Login History past the end: 204 with no body, or 200 with ``content: []``."""
    arrivals_per_request: int = 0
    """Events arriving (inside the requested window) after each page served, so pages shift."""
    adoption_timestamp_field: str = "timestamp"
    """[guess] name of the adoption event's timestamp field."""
    adoption_params: dict[str, str] = field(
        default_factory=lambda: {
            "pageNumber": "pageNumber",
            "pageSize": "pageSize",
            "from": "from",
            "to": "to",
        }
    )
    """[guess] query parameter names of the adoption API (v2 uses pageSize/from/to of this map)."""
    adoption_asset_types: list[str] = field(default_factory=lambda: ["STUDIO_ASSET"])
    visibility_delay: float = 0.0
    """Seconds after its timestamp before an event can be queried (ingestion lag): a request at
    emulator time ``now`` sees only events up to ``now - visibility_delay``. 0: at once."""
    visibility_jitter: float = 0.0
    """Up to this many seconds more lag, a fixed share per event: events show up out of order."""
    latency: float = 0.0
    """Seconds added to every usage page answer (network and server time of a real team across
    the internet, 0.05-0.3 s a page); pages of concurrent requests wait in parallel."""
    rate_limit_per_second: int = 0
    """[guess] Celonis publishes no limit for these APIs: requests per second (sliding 1 s window)
    before a 429 ``LIMIT_RATE_EXCEEDED``; 0: unlimited."""
    rate_limit_key: str = "team"
    """``team`` (one budget for every client, as Celonis counts per team) or ``client`` (per OAuth
    client id)."""
    rate_limit_reset_format: str = "seconds"
    """How a 429 announces the wait: ``seconds`` or ``datetime`` in ``x-ratelimit-reset``, or
    ``retry_after`` (``Retry-After`` seconds)."""


def init_state(state: EmulatorState) -> None:
    state.ext["usage"] = {
        "settings": UsageSettings(),
        "arrivals": {s: [] for s in STREAMS},
        "seq": 0,
        "calls": {},  # rate-limit windows: key -> deque of request times
        "stats": {"pages": 0, "rate_limited": 0, "in_flight": 0, "max_in_flight": 0},
    }


def _settings(request: Request) -> UsageSettings:
    settings: UsageSettings = state_of(request).ext["usage"]["settings"]
    return settings


def _rate(settings: UsageSettings, stream: str) -> int:
    return int(getattr(settings, f"{stream}_per_hour"))


# -- parameters ----------------------------------------------------------------------------
def _parse_time(value: str | None, name: str, *, local_only: bool) -> int | None:
    """Milliseconds since epoch; Login History takes ``yyyy-MM-ddTHH:mm:ss`` (UTC, no zone)."""
    if value is None or value == "":
        return None
    if local_only and not _LOCAL_TIME.match(value):
        raise_bad(f"Failed to convert '{name}' value '{value}': expected yyyy-MM-dd'T'HH:mm:ss")
    try:
        # Python 3.10's fromisoformat does not read a trailing Z (3.11+ does).
        when = datetime.fromisoformat(value[:-1] + "+00:00" if value[-1] in "Zz" else value)
    except ValueError:
        raise_bad(f"Failed to convert '{name}' value '{value}' to a date-time (ISO 8601 expected)")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return int(when.timestamp() * 1000)


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise_bad(f"Parameter '{name}' must be an integer, got '{raw}'")


def _page_size(request: Request, settings: UsageSettings, name: str = "pageSize") -> int:
    size = _int_param(request, name, settings.max_page_size)
    if size < 1:
        raise_bad(f"'{name}' must be at least 1")
    if size > settings.max_page_size:
        if settings.oversize != "clamp":
            raise_bad(f"'{name}' must not be greater than {settings.max_page_size}")
        size = settings.max_page_size
    return size


def _window(
    request: Request,
    stream: str,
    names: dict[str, str],
    *,
    local_only: bool = False,
    half_open: bool = False,
    visible_only: bool = True,
) -> data.Window:
    """The events a request's ``from``/``to`` select (``to`` inclusive if so configured, unless
    ``half_open``: the control route always counts ``[start, end)``). With ``visible_only`` an
    event younger than ``visibility_delay`` does not exist yet for the request."""
    state = state_of(request)
    settings = _settings(request)
    now_ms = int(state.now() * 1000)
    stragglers: list[tuple[int, int]] = []
    if visible_only:
        delay_ms, jitter_ms = (
            int(float(v) * 1000) for v in (settings.visibility_delay, settings.visibility_jitter)
        )
        if jitter_ms > 0:
            stragglers = data.visible_stragglers(
                now_ms - delay_ms - jitter_ms,
                now_ms,
                delay_ms,
                jitter_ms,
                _rate(settings, stream),
                settings.burst,
            )
        now_ms -= delay_ms + jitter_ms
    from_ms = _parse_time(request.query_params.get(names["from"]), names["from"], local_only=local_only)
    to_ms = _parse_time(request.query_params.get(names["to"]), names["to"], local_only=local_only)
    unit_ms = round(float(settings.time_resolution) * 1000)
    if unit_ms > 1 and not half_open:  # a coarser server cuts both bounds down to its unit
        from_ms, to_ms = (None if v is None else v - v % unit_ms for v in (from_ms, to_ms))
    start = data.EPOCH_MS if from_ms is None else from_ms
    end = now_ms + 1 if to_ms is None else to_ms + (1 if settings.to_inclusive and not half_open else 0)
    with state.lock:
        arrivals = list(state.ext["usage"]["arrivals"][stream])
    return data.build_window(
        start,
        end,
        now_ms,
        _rate(settings, stream),
        settings.burst,
        arrivals,
        settings.newest_first,
        stragglers,
    )


def _arrive(request: Request, stream: str, window: data.Window, names: dict[str, str]) -> None:
    """After serving a page: new events land in the requested window, shifting later pages."""
    state = state_of(request)
    count = _settings(request).arrivals_per_request
    if count <= 0:
        return
    now_ms = int(state.now() * 1000)
    from_ms = _parse_time(request.query_params.get(names["from"]), "from", local_only=False) or data.EPOCH_MS
    to_ms = _parse_time(request.query_params.get(names["to"]), "to", local_only=False) or now_ms + 1
    with state.lock:
        usage = state.ext["usage"]
        for item in data.arrival_times(from_ms, to_ms, now_ms, count, usage["seq"]):
            bisect.insort(usage["arrivals"][stream], item)
        usage["seq"] += count


# -- latency and rate limit -----------------------------------------------------------------
def _rate_limited(request: Request, principal: Principal) -> None:
    """Count the request against its team's (or client's) 1 s window; 429 when it is full."""
    state, settings = state_of(request), _settings(request)
    limit = settings.rate_limit_per_second
    if limit <= 0:
        return
    usage, now = state.ext["usage"], state.now()
    key = principal.client_id if settings.rate_limit_key == "client" else "team"
    with state.lock:
        window: deque[float] = usage["calls"].setdefault(key, deque())
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) < limit:
            window.append(now)
            return
        usage["stats"]["rate_limited"] += 1
        wait = max(window[0] + 1.0 - now, 0.001)
    reset = datetime.fromtimestamp(now + wait, timezone.utc)
    headers = {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": "0"}
    if settings.rate_limit_reset_format == "retry_after":
        headers["retry-after"] = str(max(int(wait + 0.999), 1))
    elif settings.rate_limit_reset_format == "datetime":
        headers["x-ratelimit-reset"] = reset.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    else:
        headers["x-ratelimit-reset"] = str(max(int(wait + 0.999), 1))
    raise AccessRefused(
        problems.problem(
            429,
            f"Rate limit for API_RATE_LIMIT is exceeded. Please try again at {reset:%H:%M:%S} UTC.",
            "LIMIT_RATE_EXCEEDED",
            headers=headers,
        )
    )


def _served(route: Any) -> Any:
    """Wrap a page route: the configured latency (in the route's worker thread, so concurrent
    requests wait in parallel), the rate limit, and the counters of ``/_emulator/usage/stats``."""

    def serve(request: Request, principal: Principal, *args: Any) -> Response:
        state = state_of(request)
        stats = state.ext["usage"]["stats"]
        with state.lock:
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            latency = float(_settings(request).latency)
            if latency > 0:
                time.sleep(latency)
            _rate_limited(request, principal)
            with state.lock:
                stats["pages"] += 1
            response: Response = route(request, *args)
            return response
        finally:
            with state.lock:
                stats["in_flight"] -= 1

    return serve


# -- pages ---------------------------------------------------------------------------------
def _items(
    request: Request, stream: str, window: data.Window, offset: int, size: int
) -> list[dict[str, Any]]:
    settings = _settings(request)
    ts_field = settings.adoption_timestamp_field
    rows = window.page(offset, size)
    if stream == "audit":
        items = [data.audit_event(i, ms) for i, ms in rows]
    elif stream == "login":
        items = [data.login_event(i, ms) for i, ms in rows]
    else:
        items = [data.adoption_event(i, ms, ts_field) for i, ms in rows]
    if settings.shuffle:
        random.Random(offset * 7919 + size).shuffle(items)
    return items


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), media_type="application/json")


def _v1_page(request: Request, stream: str, names: dict[str, str], *, local_only: bool = False) -> Response:
    settings = _settings(request)
    number = _int_param(request, names["pageNumber"], 0)
    if number < 0:
        raise_bad(f"'{names['pageNumber']}' must be at least 0")
    size = _page_size(request, settings, names["pageSize"])
    window = _window(request, stream, names, local_only=local_only)
    items = _items(request, stream, window, number * size, size)
    _arrive(request, stream, window, names)
    if not items and stream == "login" and settings.login_empty_status == 204:
        return Response(status_code=204)
    return _json({"content": items, "pageNumber": number, "pageSize": size, "totalCount": len(window)})


def _encode_token(offset: int, request: Request, names: dict[str, str]) -> str:
    raw = json.dumps([offset, request.query_params.get(names["from"]), request.query_params.get(names["to"])])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        offset = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))[0]
    except (binascii.Error, ValueError, TypeError, IndexError, KeyError):
        offset = None
    if not isinstance(offset, int) or offset < 0:
        raise_bad(f"Invalid pageToken '{token[:40]}'")
    return offset


def _v2_page(request: Request, stream: str, names: dict[str, str]) -> Response:
    settings = _settings(request)
    token = request.query_params.get("pageToken")
    offset = _decode_token(token) if token else 0
    size = _page_size(request, settings, names["pageSize"])
    window = _window(request, stream, names)
    items = _items(request, stream, window, offset, size)
    _arrive(request, stream, window, names)
    body: dict[str, Any] = {"content": items}
    if offset + size < len(window):
        body["nextPageToken"] = _encode_token(offset + size, request, names)
    elif settings.v2_last_page == "empty":
        body["nextPageToken"] = ""
    elif settings.v2_last_page == "null":
        body["nextPageToken"] = None
    return _json(body)


_STANDARD = {"pageNumber": "pageNumber", "pageSize": "pageSize", "from": "from", "to": "to"}


@router.get("/log/api/external/audit")
def audit_v1(request: Request, principal: Principal = Depends(requires("audit_log"))) -> Response:
    return _served(lambda r: _v1_page(r, "audit", _STANDARD))(request, principal)


@router.get("/log/api/external/v2/audit")
def audit_v2(request: Request, principal: Principal = Depends(requires("audit_log"))) -> Response:
    return _served(lambda r: _v2_page(r, "audit", _STANDARD))(request, principal)


@router.get("/api/external/authentication-events")
def login_history(request: Request, principal: Principal = Depends(requires("login_history"))) -> Response:
    return _served(lambda r: _v1_page(r, "login", _STANDARD, local_only=True))(request, principal)


def _adoption_names(request: Request, asset_type: str) -> dict[str, str]:
    settings = _settings(request)
    if asset_type not in settings.adoption_asset_types:
        raise_bad(f"Unknown asset type '{asset_type}'")
    return {**_STANDARD, **settings.adoption_params}


@router.get("/platform-adoption/api/external/adoption-tracking-events/{asset_type}")
def adoption_v1(
    request: Request, asset_type: str, principal: Principal = Depends(requires("platform_adoption"))
) -> Response:
    return _served(lambda r: _v1_page(r, "adoption", _adoption_names(r, asset_type)))(request, principal)


@router.get("/platform-adoption/api/external/v2/adoption-tracking-events/{asset_type}")
def adoption_v2(
    request: Request, asset_type: str, principal: Principal = Depends(requires("platform_adoption"))
) -> Response:
    return _served(lambda r: _v2_page(r, "adoption", _adoption_names(r, asset_type)))(request, principal)
