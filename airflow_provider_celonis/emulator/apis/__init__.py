"""One module per emulated Celonis API.

Each module exposes ``router`` (a FastAPI ``APIRouter``) and may expose
``init_state(state)``, called on start and on every reset to seed its data under
``state.ext``. Add a module here to make the emulator serve a new API.
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
