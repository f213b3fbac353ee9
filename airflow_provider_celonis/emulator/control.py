"""``/_emulator/...``: the control API tests, the demo and benchmarks use to steer the emulator.

Not part of Celonis; every path sits under ``/_emulator`` so it can never collide with a
Celonis route. :class:`~airflow_provider_celonis.emulator.client.EmulatorClient` wraps it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from airflow_provider_celonis.emulator.faults.core import CONTROL_PREFIX, rule_from_json
from airflow_provider_celonis.emulator.oauth import state_of
from airflow_provider_celonis.emulator.stores.state import ALL_PERMISSIONS, ALL_SCOPES, Client, settings_from

router = APIRouter(prefix=CONTROL_PREFIX)


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/stats")
def stats(request: Request) -> dict[str, Any]:
    return state_of(request).stats()


@router.post("/reset")
def reset(request: Request) -> dict[str, str]:
    state_of(request).reset()
    return {"status": "reset"}


@router.post("/faults")
def add_faults(request: Request, rules: list[dict[str, Any]] = Body(...)) -> JSONResponse:
    state = state_of(request)
    try:
        parsed = [rule_from_json(rule) for rule in rules]
    except (TypeError, ValueError) as err:
        return JSONResponse({"error": str(err)}, status_code=400)
    with state.lock:
        state.faults.extend(parsed)
    return JSONResponse({"faults": len(state.faults)})


@router.delete("/faults")
def clear_faults(request: Request) -> dict[str, int]:
    state = state_of(request)
    with state.lock:
        state.faults.clear()
    return {"faults": 0}


@router.post("/clients")
def add_client(request: Request, spec: dict[str, Any] = Body(...)) -> JSONResponse:
    state = state_of(request)
    try:
        client = Client(
            client_id=spec["client_id"],
            client_secret=spec["client_secret"],
            auth_method=spec.get("auth_method", "client_secret_post"),
            scopes=frozenset(spec.get("scopes", ALL_SCOPES)),
            permissions=frozenset(spec.get("permissions", ALL_PERMISSIONS)),
        )
    except KeyError as err:
        return JSONResponse({"error": f"missing {err}"}, status_code=400)
    with state.lock:
        state.clients[client.client_id] = client
    return JSONResponse({"client_id": client.client_id})


@router.post("/settings")
def settings(request: Request, values: dict[str, Any] = Body(...)) -> JSONResponse:
    state = state_of(request)
    with state.lock:
        try:
            state.settings = settings_from(values, state.settings)
        except (TypeError, ValueError) as err:
            return JSONResponse({"error": str(err)}, status_code=400)
    return JSONResponse({"status": "ok"})


@router.get("/requests")
def recent_requests(request: Request) -> list[dict[str, Any]]:
    """The last 500 requests (method, path, status, time); no headers or bodies, so no secrets."""
    state = state_of(request)
    with state.lock:
        return list(state.log)


@router.get("/tokens")
def issued_tokens(request: Request) -> list[str]:
    """The access tokens issued so far (the emulator's own, worthless elsewhere), so an end-to-end
    test can prove that no task log shows one."""
    state = state_of(request)
    with state.lock:
        return list(state.tokens)


@router.post("/tokens/expire")
def expire_tokens(request: Request) -> dict[str, int]:
    """Expire every issued token now, as if their 15 minutes had passed."""
    state = state_of(request)
    with state.lock:
        for token in state.tokens.values():
            token.expires_at = state.now() - 1
        return {"expired": len(state.tokens)}


@router.post("/clock/advance")
def advance_clock(request: Request, seconds: float = Body(..., embed=True)) -> dict[str, float]:
    state = state_of(request)
    with state.lock:
        state.clock_offset += seconds
    return {"clock_offset": state.clock_offset}
