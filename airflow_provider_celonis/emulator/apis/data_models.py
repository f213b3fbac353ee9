"""Process Data Model API (docs/celonis-api.md 3.2 and 6): reloads and their load history.

A load is evaluated lazily against the emulator clock: RUNNING (optionally passing through
the ``transient`` statuses, e.g. LOST_CONNECTION or CANCELLING) for ``load_seconds``, then the
model's ``outcome`` (SUCCESS, WARNING or ERROR with ``message``, CANCELED, or any other
string to test fail-closed handling). Every load gets a new ``dataLoadId``;
``currentComputeLoad`` is null until the first load. [guess] ``stale_seconds``: after a
load request, ``load-info-sync`` keeps showing the previous load for that long.

Control API: ``POST /_emulator/data-pools/{pool}/data-models/{model}`` creates or
reconfigures a model; ``GET`` on it reports the loads requested through the API.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID
from airflow_provider_celonis.emulator.faults.core import CONTROL_PREFIX
from airflow_provider_celonis.emulator.oauth import Principal, requires, state_of
from airflow_provider_celonis.emulator.stores.data_jobs import KEY as POOLS_KEY
from airflow_provider_celonis.emulator.stores.state import EmulatorState

router = APIRouter()
KEY = "data_models"
DEFAULT_DATA_MODEL_ID = "3c9e7b1d-5a2f-4c8e-9d6b-1e4f7a0c2b03"
V1 = "/integration/api/v1/data-pools/{pool_id}/data-models/{model_id}"
INTERNAL = "/integration/api/pools/{pool_id}/data-models/{model_id}"


@dataclass
class ModelConfig:
    id: str
    name: str = "Order-to-Cash"
    tables: list[str] = field(default_factory=lambda: ["VBAK", "VBAP", "_CEL_O2C_ACTIVITIES"])
    load_seconds: float = 1.5
    outcome: str = "SUCCESS"
    message: str | None = None
    transient: list[str] = field(default_factory=list)
    stale_seconds: float = 0.5
    table_aliases: dict[str, str] = field(default_factory=dict)
    """Table name -> alias (``alias``/``aliasOrName`` in the tables list)."""


@dataclass
class Load:
    data_load_id: str
    load_type: str
    start: float
    duration: float
    outcome: str
    message: str | None
    transient: list[str]
    stale_until: float

    def view(self, now: float) -> tuple[str, float | None]:
        """(loadStatus, endDate) at emulator time ``now``."""
        if now < self.start + self.duration:
            statuses = ["RUNNING", *self.transient]
            step = self.duration / len(statuses)
            return statuses[min(int((now - self.start) / step), len(statuses) - 1)], None
        return self.outcome, self.start + self.duration


def init_state(state: EmulatorState) -> None:
    state.ext[KEY] = {
        "models": {(DEFAULT_POOL_ID, DEFAULT_DATA_MODEL_ID): ModelConfig(DEFAULT_DATA_MODEL_ID)},
        "loads": {},
        "requests": {},
    }


def _table_id(model_id: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{model_id}/{name}"))


def _model(
    request: Request, pool_id: str, model_id: str
) -> tuple[EmulatorState, dict[str, Any], ModelConfig | None]:
    state = state_of(request)
    data = state.ext[KEY]
    return state, data, data["models"].get((pool_id, model_id))


def _not_found(pool_id: str, model_id: str) -> JSONResponse:
    return problems.problem(
        404, f"Data model {model_id} in data pool {pool_id} not found", "INTEGRATION_NOT_FOUND"
    )


def _start(
    state: EmulatorState, data: dict[str, Any], pool_id: str, model: ModelConfig, load_type: str
) -> Response:
    with state.lock:
        now = state.now()
        load = Load(
            str(uuid.uuid4()),
            load_type,
            now,
            model.load_seconds,
            model.outcome,
            model.message,
            list(model.transient),
            now + model.stale_seconds,
        )
        data["loads"].setdefault((pool_id, model.id), []).append(load)
        counts = data["requests"].setdefault(
            f"{pool_id}/{model.id}", {"COMPLETE": 0, "FROM_CACHE": 0, "PARTIAL": 0}
        )
        counts[load_type] += 1
    return Response(status_code=200)  # body undocumented [guess]


def _flag(request: Request, name: str, default: bool) -> bool | Response:
    value = request.query_params.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        return problems.bad_parameter(f"{name} must be true or false")
    return value.lower() == "true"


@router.post(V1 + "/load")
def load(
    request: Request, pool_id: str, model_id: str, principal: Principal = Depends(requires("data_models"))
) -> Response:
    state, data, model = _model(request, pool_id, model_id)
    if model is None:
        return _not_found(pool_id, model_id)
    full = _flag(request, "fullReload", True)
    if isinstance(full, Response):
        return full
    return _start(state, data, pool_id, model, "COMPLETE" if full else "FROM_CACHE")


@router.post(V1 + "/load/partial-sync")
def partial_load(
    request: Request,
    pool_id: str,
    model_id: str,
    tables: list[str] = Body(...),
    principal: Principal = Depends(requires("data_models")),
) -> Response:
    state, data, model = _model(request, pool_id, model_id)
    if model is None:
        return _not_found(pool_id, model_id)
    known = {_table_id(model_id, t) for t in model.tables} | set(model.tables)
    if unknown := [t for t in tables if t not in known]:
        return problems.bad_parameter(f"Unknown table ids {unknown}")  # [guess] 400
    return _start(state, data, pool_id, model, "PARTIAL")


@router.post(INTERNAL + "/reload")
def internal_reload(
    request: Request, pool_id: str, model_id: str, principal: Principal = Depends(requires("data_models"))
) -> Response:
    state, data, model = _model(request, pool_id, model_id)
    if model is None:
        return _not_found(pool_id, model_id)
    force = _flag(request, "forceComplete", False)
    if isinstance(force, Response):
        return force
    return _start(state, data, pool_id, model, "COMPLETE" if force else "FROM_CACHE")


@router.get(V1 + "/last-load")
def last_load(
    request: Request, pool_id: str, model_id: str, principal: Principal = Depends(requires("data_models"))
) -> Response:
    """The newest visible load ([guess] body: the same shape as ``currentComputeLoad``), 204 if none."""
    state, data, model = _model(request, pool_id, model_id)
    if model is None:
        return _not_found(pool_id, model_id)
    now = state.now()
    shown = [ld for ld in data["loads"].get((pool_id, model_id), []) if now >= ld.stale_until]
    return JSONResponse(_load_json(shown[-1], model_id, now)) if shown else Response(status_code=204)


@router.get(V1 + "/tables")
def tables(
    request: Request, pool_id: str, model_id: str, principal: Principal = Depends(requires("data_models"))
) -> Response:
    _, _, model = _model(request, pool_id, model_id)
    if model is None:
        return _not_found(pool_id, model_id)
    return JSONResponse(
        [
            {
                "id": _table_id(model_id, name),
                "dataModelId": model_id,
                "dataSourceId": None,
                "name": name,
                "alias": model.table_aliases.get(name),
                "aliasOrName": model.table_aliases.get(name) or name,
            }
            for name in model.tables
        ]
    )


def _load_json(load: Load, model_id: str, now: float) -> dict[str, Any]:
    status, end = load.view(now)
    return {
        "dataLoadId": load.data_load_id,
        "dataModelId": model_id,
        "startDate": int(load.start * 1000),
        "endDate": None if end is None else int(end * 1000),
        "loadStatus": status,
        "message": load.message if status == load.outcome else None,
        "loadType": load.load_type,
        "dataPoolVersion": 1,
    }


@router.get(INTERNAL + "/load-history/load-info-sync")
def load_info(
    request: Request, pool_id: str, model_id: str, principal: Principal = Depends(requires("data_models"))
) -> Response:
    state, data, model = _model(request, pool_id, model_id)
    if model is None:
        return _not_found(pool_id, model_id)
    now = state.now()
    visible = [ld for ld in data["loads"].get((pool_id, model_id), []) if now >= ld.stale_until]
    history = [_load_json(ld, model_id, now) for ld in reversed(visible)]
    good = [h for h in history if h["loadStatus"] in ("SUCCESS", "WARNING")]
    return JSONResponse(
        {
            "loadInfo": {
                "liveDataModel": good[0] if good else None,
                "currentComputeLoad": history[0] if history else None,
            },
            "loadHistory": {
                "lastSuccessfulDataModel": good[0] if good else None,
                "dataLoadHistory": history,
                "averageLoadTime": [
                    {"type": "COMPLETE", "averageLoadingTime": int(model.load_seconds * 1000)}
                ],
            },
        }
    )


@router.post(CONTROL_PREFIX + "/data-pools/{pool_id}/data-models/{model_id}")
def control_model(
    request: Request, pool_id: str, model_id: str, spec: dict[str, Any] = Body(default={})
) -> Response:
    state = state_of(request)
    data = state.ext[KEY]
    unknown = set(spec) - set(ModelConfig.__dataclass_fields__) - {"id"}
    if unknown:
        return JSONResponse({"error": f"unknown data model fields {sorted(unknown)}"}, status_code=400)
    with state.lock:
        current = data["models"].get((pool_id, model_id)) or ModelConfig(model_id)
        model = ModelConfig(**{**asdict(current), **spec, "id": model_id})
        data["models"][(pool_id, model_id)] = model
        state.ext[POOLS_KEY]["pools"].setdefault(pool_id, f"Pool {pool_id[:8]}")  # listed with its pool
    return JSONResponse({**asdict(model), "table_ids": {t: _table_id(model_id, t) for t in model.tables}})


@router.get(CONTROL_PREFIX + "/data-pools/{pool_id}/data-models/{model_id}")
def control_model_report(request: Request, pool_id: str, model_id: str) -> Response:
    state, data, model = _model(request, pool_id, model_id)
    if model is None:
        return _not_found(pool_id, model_id)
    now = state.now()
    loads = [_load_json(ld, model_id, now) for ld in data["loads"].get((pool_id, model_id), [])]
    counts = data["requests"].get(f"{pool_id}/{model_id}", {"COMPLETE": 0, "FROM_CACHE": 0, "PARTIAL": 0})
    return JSONResponse(
        {
            "config": asdict(model),
            "load_requests": counts,
            "loads": loads,
            "table_ids": {t: _table_id(model_id, t) for t in model.tables},
        }
    )
