"""The emulated Celonis APIs: their routes, and the control routes tests switch them with.

Each module of :data:`API_MODULES` exposes ``router`` (a FastAPI ``APIRouter``) and may expose
``init_state(state)``, called on start and on every reset to seed its data under
``state.ext``. Most serve one Celonis API; ``data_jobs_control`` and ``usage_control`` serve
only control routes (under ``/_emulator/...``, not Celonis) for the API beside them. Not every
module here is a router: ``scim_protocol`` holds the route-free RFC 7644 pieces that ``scim``
serves, and is not in :data:`API_MODULES`. To serve a new API, add a module with a ``router``
and list it in :data:`API_MODULES`.
"""

from __future__ import annotations

from airflow_provider_celonis.emulator.apis import (
    agents,
    data_jobs,
    data_jobs_control,
    data_models,
    data_pools,
    data_push,
    knowledge_model,
    scim,
    subscriptions,
    team,
    usage,
    usage_control,
)

API_MODULES = [
    team,
    usage,
    usage_control,
    data_jobs,
    data_jobs_control,
    data_models,
    data_pools,
    scim,
    data_push,
    knowledge_model,
    subscriptions,
    agents,
]
