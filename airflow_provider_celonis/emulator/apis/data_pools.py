"""Discovery lists of the integration service (docs/celonis-api.md 3.5 and 6): pools, their
jobs, a job's task instances, the pool's data models.

The routes are the ones pycelonis and content-cli call. They list what the data job and data
model stores hold (:mod:`~airflow_provider_celonis.emulator.stores.data_jobs`, ``data_models``),
so a pool, job, task or model created through the control API is listed with its name. The
tables of a data model are served by :mod:`~airflow_provider_celonis.emulator.apis.data_models`.

Control API (not Celonis): ``POST /_emulator/data-pools/{pool}`` creates or renames a pool
(``{"name": ...}``); ``POST /_emulator/data-pools`` changes the listing switches
(``{"serve_unpaged": false}``: ``GET /integration/api/pools`` answers 404, as on a team that
only serves the paged list [guess]; ``{"total_counts": "pages"}``: the paged list's
``totalCount`` counts pages, not pools [guess]) and plays a pool list that changes while a client pages
through it (``{"while_paging": {"after_page": 0, "remove": "<pool id>"}}`` or ``{..., "insert":
["<pool id>", "<name>"]}``: after that page is served the pool is removed, or a new one put
first, so the items of later pages shift, as on a team where someone creates or deletes a pool;
once, or on ``"times"`` reads (-1: every read; the n-th insert gets the id ``<pool id>-<n>``)).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_celonis.emulator import problems
from airflow_provider_celonis.emulator.apis.data_jobs import _data, _not_found, _page_args
from airflow_provider_celonis.emulator.apis.data_models import KEY as MODELS_KEY
from airflow_provider_celonis.emulator.faults.core import CONTROL_PREFIX
from airflow_provider_celonis.emulator.oauth import Principal, requires, state_of
from airflow_provider_celonis.emulator.stores.data_jobs import job_of, ms, task_instances
from airflow_provider_celonis.emulator.stores.state import EmulatorState

router = APIRouter()
SETTINGS = "pool_listing"
SEEDED = "pool_listing_seeded"


def init_state(state: EmulatorState) -> None:
    state.ext[SETTINGS] = {"serve_unpaged": True, "while_paging": None, "total_counts": "pools"}
    state.ext[SEEDED] = state.now()  # every object's timeStamp: fixed, so two reads compare equal


def _pool(pool_id: str, name: str, now: float) -> dict[str, Any]:
    """A ``DataPoolTransport`` (the fields a client reads, plus a few pycelonis models)."""
    return {
        "id": pool_id,
        "name": name,
        "description": None,
        "timeStamp": ms(now),
        "configurationStatus": "CONFIGURED",
        "locked": False,
        "permissions": ["MANAGE"],
    }


@router.get("/integration/api/pools")
def pools(request: Request, principal: Principal = Depends(requires("data_jobs"))) -> Response:
    state, data = _data(request)
    if not state.ext[SETTINGS]["serve_unpaged"]:
        return problems.problem(404, "No endpoint GET /integration/api/pools", "GENERAL_NOTFOUND_PATH")
    now = state.ext[SEEDED]
    return JSONResponse([_pool(pool_id, name, now) for pool_id, name in data["pools"].items()])


@router.get("/integration/api/pools/paged")
def pools_paged(request: Request, principal: Principal = Depends(requires("data_jobs"))) -> Response:
    """``{content, pageNumber, pageSize, totalCount}`` with ``limit``/``page`` (0-based), as
    content-cli reads it. ``totalCount`` counts pools [guess]; content-cli's loop suggests pages
    (``total_counts="pages"``)."""
    state, data = _data(request)
    args = _page_args(request, 100)
    if isinstance(args, Response):
        return args
    limit, page = args
    now = state.ext[SEEDED]
    listed = [_pool(pool_id, name, now) for pool_id, name in data["pools"].items()]
    _change_while_paging(state, data, page)
    return JSONResponse(
        {
            "content": listed[page * limit : (page + 1) * limit],
            "pageNumber": page,
            "pageSize": limit,
            "totalCount": _total(len(listed), limit, state.ext[SETTINGS]["total_counts"]),
        }
    )


def _total(pools: int, limit: int, counts: str) -> int:
    """``totalCount``: the pools (default) or the pages (``total_counts="pages"``), a [guess]."""
    return pools if counts == "pools" else -(-pools // limit)


def _change_while_paging(state: EmulatorState, data: dict[str, Any], page: int) -> None:
    """The one-shot ``while_paging`` change, applied once ``page`` has been served."""
    change = state.ext[SETTINGS]["while_paging"]
    if not change or change["after_page"] != page:
        return
    with state.lock:
        done = change.get("done", 0)
        times = change.get("times", 1)
        left = times < 0 or done + 1 < times
        state.ext[SETTINGS]["while_paging"] = {**change, "done": done + 1} if left else None
        if "remove" in change:
            data["pools"].pop(change["remove"], None)
        else:
            pool_id, name = change["insert"]
            pool_id = f"{pool_id}-{done}" if done else pool_id
            pools = dict(data["pools"])
            data["pools"].clear()
            data["pools"].update({pool_id: name, **pools})


@router.get("/integration/api/pools/{pool_id}/jobs")
def jobs(request: Request, pool_id: str, principal: Principal = Depends(requires("data_jobs"))) -> Response:
    """The pool's ``JobTransport`` list (pycelonis ``get_jobs``)."""
    state, data = _data(request)
    if pool_id not in data["pools"]:
        return _not_found(pool_id)
    now = state.ext[SEEDED]
    return JSONResponse(
        [
            {
                "id": job.id,
                "name": job.name,
                "dataPoolId": pool_id,
                "dataSourceId": None,
                "timeStamp": ms(now),
                "status": None,
                "currentExecutionId": None,
                "dagBasedExecutionEnabled": False,
                "latestExecutionItemId": None,
            }
            for (pool, _), job in data["jobs"].items()
            if pool == pool_id
        ]
    )


@router.get("/integration/api/pools/{pool_id}/jobs/{job_id}/tasks/")
def tasks(
    request: Request, pool_id: str, job_id: str, principal: Principal = Depends(requires("data_jobs"))
) -> Response:
    """The job's ``TaskInstanceTransport`` list (pycelonis ``get_tasks``, trailing slash kept);
    ``taskType`` tells extractions from transformations."""
    _, data = _data(request)
    job = job_of(data, pool_id, job_id)
    if job is None:
        return _not_found(pool_id, job_id)
    return JSONResponse(task_instances(pool_id, job))


@router.get("/integration/api/pools/{pool_id}/data-models")
def data_models(
    request: Request, pool_id: str, principal: Principal = Depends(requires("data_models"))
) -> Response:
    """The pool's ``DataModelTransport`` list (pycelonis ``get_data_models``)."""
    state = state_of(request)
    if pool_id not in state.ext["data_jobs"]["pools"]:
        return _not_found(pool_id)
    now = state.ext[SEEDED]
    return JSONResponse(
        [
            {
                "id": model.id,
                "name": model.name,
                "poolId": pool_id,
                "description": None,
                "createDate": ms(now - 86400),
                "changedDate": ms(now),
                "unavailable": False,
                "editable": True,
            }
            for (pool, _), model in state.ext[MODELS_KEY]["models"].items()
            if pool == pool_id
        ]
    )


@router.post(CONTROL_PREFIX + "/data-pools/{pool_id}")
def control_pool(request: Request, pool_id: str, spec: dict[str, Any] = Body(default={})) -> Response:
    """Create a pool or rename it: ``{"name": "..."}`` (several pools may share a name)."""
    state, data = _data(request)
    if set(spec) - {"name"} or not isinstance(spec.get("name", ""), str):
        return JSONResponse({"error": "only a string 'name' can be set on a pool"}, status_code=400)
    with state.lock:
        data["pools"][pool_id] = spec.get("name") or data["pools"].get(pool_id) or f"Pool {pool_id[:8]}"
    return JSONResponse({"id": pool_id, "name": data["pools"][pool_id]})


@router.post(CONTROL_PREFIX + "/data-pools")
def control_listing(request: Request, spec: dict[str, Any] = Body(default={})) -> Response:
    """Listing switches: ``serve_unpaged`` (bool), ``total_counts`` (``"pools"`` or ``"pages"``),
    ``while_paging`` (one change, or null)."""
    state = state_of(request)
    settings = state.ext[SETTINGS]
    if (
        set(spec) - set(settings)
        or not isinstance(spec.get("serve_unpaged", True), bool)
        or spec.get("total_counts", "pools") not in ("pools", "pages")
    ):
        return JSONResponse({"error": f"known switches: {sorted(settings)}"}, status_code=400)
    if not _valid_change(spec.get("while_paging")):
        return JSONResponse(
            {
                "error": 'while_paging: null, {"after_page": n, "remove": id} or {"after_page": n, '
                '"insert": [id, name]}'
            },
            status_code=400,
        )
    with state.lock:
        settings.update(spec)
    return JSONResponse(dict(settings))


def _valid_change(change: Any) -> bool:
    if change is None:
        return True
    if not isinstance(change, dict) or not isinstance(change.get("after_page"), int):
        return False
    if not isinstance(change.get("times", 1), int) or change.get("times") == 0:
        return False
    keys = set(change) - {"times"}
    if keys == {"after_page", "remove"}:
        return isinstance(change["remove"], str)
    insert = change.get("insert")
    return (
        keys == {"after_page", "insert"}
        and isinstance(insert, list)
        and len(insert) == 2
        and all(isinstance(v, str) and v for v in insert)
    )
