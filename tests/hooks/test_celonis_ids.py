"""Every hook's endpoints, over real sockets: an id holding ``/``, ``?``, ``#`` or ``..`` reaches
the endpoint it was meant for and gets that endpoint's answer, never another endpoint's.

The emulator logs, for each request, the route template that answered it, so "its own
endpoint" is checked by the template, not guessed from the status. An id that is a dot
segment (``..``) or empty cannot be sent safely at all (HTTP clients resolve ``..`` as the
parent directory, an empty id names the collection), so it fails before any request.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook
from airflow_provider_celonis.hooks.chat import CelonisChatHook
from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook
from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook
from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook
from airflow_provider_celonis.hooks.event_subscriptions import CelonisEventSubscriptionHook
from airflow_provider_celonis.hooks.knowledge_model import CelonisKnowledgeModelHook
from airflow_provider_celonis.hooks.scim import CelonisScimHook
from airflow_provider_celonis.hooks.tools import CelonisToolsHook
from airflow_provider_celonis.push.chunking import Chunk, csv_chunks
from airflow_provider_celonis.push.sources import resolve_sources

Action = Callable[[Any, str], Any]

# Ids that, sent unencoded, would reach another route of the same API (``x/chunks``: the chunk
# list of job x; ``../x``: one level up) or cut the path (``?``, ``#``); a unicode id too.
HOSTILE_IDS = ["zz/chunks", "../zz", "zz?page=1#frag", "zz/../../status", "ü é/x"]
UNSENDABLE_IDS = ["..", ".", ""]


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def _chunk() -> Chunk:
    path = Path(tempfile.mkdtemp(prefix="celonis-ids-")) / "c.csv"
    path.write_text("id\n1\n")
    [file] = resolve_sources(str(path))
    return next(iter(csv_chunks(file, 10_000)))


# (hook class, action(hook, hostile id), route template that must answer)
CASES: dict[str, tuple[type[CelonisOAuthHook], Action, str]] = {
    # data jobs
    "jobs.start": (
        CelonisDataJobHook,
        lambda h, i: h.start_execution(POOL, i),
        "/integration/api/v2/data-pools/{pool_id}/data-jobs/{job_id}/execute",
    ),
    "jobs.start_subset": (
        CelonisDataJobHook,
        lambda h, i: h.start_execution(POOL, i, transformations=["t"]),
        "/integration/api/pools/{pool_id}/jobs/{job_id}/execute",
    ),
    "jobs.astart": (
        CelonisDataJobHook,
        lambda h, i: _run(h.astart_execution(POOL, i)),
        "/integration/api/v2/data-pools/{pool_id}/data-jobs/{job_id}/execute",
    ),
    "jobs.cancel": (
        CelonisDataJobHook,
        lambda h, i: h.cancel_execution(POOL, i),
        "/integration/api/pools/{pool_id}/jobs/{job_id}/cancel",
    ),
    "jobs.status": (
        CelonisDataJobHook,
        lambda h, i: h.get_job_status(POOL, i),
        "/integration/api/pools/{pool_id}/jobs/{job_id}",
    ),
    "jobs.astatus": (
        CelonisDataJobHook,
        lambda h, i: _run(h.aget_job_status(POOL, i)),
        "/integration/api/pools/{pool_id}/jobs/{job_id}",
    ),
    "jobs.status_pool": (
        CelonisDataJobHook,
        lambda h, i: h.get_job_status(i, "job"),
        "/integration/api/pools/{pool_id}/jobs/{job_id}",
    ),
    "jobs.history": (
        CelonisDataJobHook,
        lambda h, i: h.list_executions(POOL, i),
        "/integration/api/pools/{pool_id}/logs/{job_id}/executions",
    ),
    # data models
    "models.load": (
        CelonisDataModelHook,
        lambda h, i: h.start_load(POOL, i),
        "/integration/api/v1/data-pools/{pool_id}/data-models/{model_id}/load",
    ),
    "models.partial": (
        CelonisDataModelHook,
        lambda h, i: h.start_load(POOL, i, tables=["t"]),
        "/integration/api/v1/data-pools/{pool_id}/data-models/{model_id}/load/partial-sync",
    ),
    "models.info": (
        CelonisDataModelHook,
        lambda h, i: h.get_load_info(POOL, i),
        "/integration/api/pools/{pool_id}/data-models/{model_id}/load-history/load-info-sync",
    ),
    "models.ainfo": (
        CelonisDataModelHook,
        lambda h, i: _run(h.aget_load_info(POOL, i)),
        "/integration/api/pools/{pool_id}/data-models/{model_id}/load-history/load-info-sync",
    ),
    # data push
    "push.get": (
        CelonisDataPushHook,
        lambda h, i: h.get_job(POOL, i),
        "/data-ingestion/api/v1/data-push/{pool_id}/jobs/{job_id}",
    ),
    "push.aget": (
        CelonisDataPushHook,
        lambda h, i: _run(h.aget_job(POOL, i)),
        "/data-ingestion/api/v1/data-push/{pool_id}/jobs/{job_id}",
    ),
    "push.delete": (
        CelonisDataPushHook,
        lambda h, i: h.delete_job(POOL, i),
        "/data-ingestion/api/v1/data-push/{pool_id}/jobs/{job_id}",
    ),
    "push.chunks": (
        CelonisDataPushHook,
        lambda h, i: h.list_chunks(POOL, i),
        "/data-ingestion/api/v1/data-push/{pool_id}/jobs/{job_id}/chunks",
    ),
    "push.execute": (
        CelonisDataPushHook,
        lambda h, i: h.execute_job(POOL, i),
        "/data-ingestion/api/v1/data-push/{pool_id}/jobs/{job_id}",
    ),
    "push.upload": (
        CelonisDataPushHook,
        lambda h, i: h.upload_chunk(POOL, i, _chunk()),
        "/data-ingestion/api/v1/data-push/{pool_id}/jobs/{job_id}/chunks/{kind}",
    ),
    # SCIM
    "scim.user": (
        CelonisScimHook,
        lambda h, i: h.get_user(i),
        "/api/user-provisioning/scim/v2/Users/{user_id}",
    ),
    "scim.group": (
        CelonisScimHook,
        lambda h, i: h.get_group(i),
        "/api/user-provisioning/scim/v2/Groups/{group_id}",
    ),
    "scim.replace": (
        CelonisScimHook,
        lambda h, i: h.replace_user(i, {"userName": "u@example.com"}),
        "/api/user-provisioning/scim/v2/Users/{user_id}",
    ),
    "scim.deactivate": (
        CelonisScimHook,
        lambda h, i: h.set_active(i, False),
        "/api/user-provisioning/scim/v2/Users/{user_id}",
    ),
    "scim.members": (
        CelonisScimHook,
        lambda h, i: h.update_group_members(i, add=["u"]),
        "/api/user-provisioning/scim/v2/Groups/{group_id}",
    ),
    # Knowledge Models
    "km.get": (
        CelonisKnowledgeModelHook,
        lambda h, i: h.get_knowledge_model(i),
        "/intelligence/api/knowledge-models/{km_id}",
    ),
    "km.records": (
        CelonisKnowledgeModelHook,
        lambda h, i: h.list_records(i),
        "/intelligence/api/knowledge-models/{km_id}/records",
    ),
    "km.kpis": (
        CelonisKnowledgeModelHook,
        lambda h, i: h.list_kpis(i),
        "/intelligence/api/knowledge-models/{km_id}/kpis",
    ),
    "km.data": (
        CelonisKnowledgeModelHook,
        lambda h, i: list(h.data(i, fields=["R.f"])),
        "/intelligence/api/knowledge-models/{km_id}/data",
    ),
    # Event subscriptions
    "subs.triggers": (
        CelonisEventSubscriptionHook,
        lambda h, i: h.list_triggers(i),
        "/intelligence/api/knowledge-models/{km_id}/triggers",
    ),
    "subs.trigger": (
        CelonisEventSubscriptionHook,
        lambda h, i: h.get_trigger("km", i),
        "/intelligence/api/knowledge-models/{km_id}/triggers/{trigger_id}",
    ),
    "subs.delete": (
        CelonisEventSubscriptionHook,
        lambda h, i: h.delete_subscription(i),
        "/intelligence/api/subscriptions/{sub_id}",
    ),
    "subs.pause": (
        CelonisEventSubscriptionHook,
        lambda h, i: h.pause(i),
        "/intelligence/api/subscriptions/{sub_id}/{action}",
    ),
    "subs.replay": (
        CelonisEventSubscriptionHook,
        lambda h, i: h.replay(i, 0),
        "/intelligence/api/subscriptions/{sub_id}/{action}",
    ),
    "subs.events": (
        CelonisEventSubscriptionHook,
        lambda h, i: h.next_failed_events(i),
        "/intelligence/api/subscriptions/{sub_id}/{action}",
    ),
    # Chat and Tools
    "chat.send": (
        CelonisChatHook,
        lambda h, i: h.send_message(i, "hello"),
        "/intelligence/api/ai/agents/{agent_id}/conversations",
    ),
    "tools.call": (
        CelonisToolsHook,
        lambda h, i: h.call_tool("asset", i, {}),
        "/studio-copilot/api/v1/mcp-servers/mcp/{asset_id}/tool-api/{tool_id}",
    ),
    "tools.asset": (
        CelonisToolsHook,
        lambda h, i: h.call_tool(i, "tool", {}),
        "/studio-copilot/api/v1/mcp-servers/mcp/{asset_id}/tool-api/{tool_id}",
    ),
}


def _api_requests(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in emulator.recent_requests() if "/oauth2/" not in r["path"]]


@pytest.mark.parametrize("ident", HOSTILE_IDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_id_reaches_its_own_endpoint(
    case: str, ident: str, emulator: Any, fast_retries: dict[str, Any]
) -> None:
    hook_class, action, route = CASES[case]
    hook = hook_class(**fast_retries)
    try:
        action(hook, ident)
        status = 200  # e.g. the triggers of an unknown model: an empty list, from its own endpoint
    except CelonisApiError as err:
        status = err.status
    sent = _api_requests(emulator)
    assert sent, "nothing reached the emulator"
    last = sent[-1]
    assert last.get("route") == route, f"{ident!r} reached {last} instead of {route}"
    assert status == last["status"] in (200, 400, 404), last


@pytest.mark.parametrize("ident", UNSENDABLE_IDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_dot_segment_or_empty_id_is_refused_before_any_request(
    case: str, ident: str, emulator: Any, fast_retries: dict[str, Any]
) -> None:
    hook_class, action, _route = CASES[case]
    with pytest.raises(CelonisConfigurationError):
        action(hook_class(**fast_retries), ident)
    assert not [r for r in _api_requests(emulator) if r.get("route") != "/intelligence/api/subscriptions"]
