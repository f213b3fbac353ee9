"""Writes whose answer is read (``Call.reads_answer``), against a server that acts and then
answers a body cut in half or a proxy's HTML page: the hook never reports success nor a raw
``JSONDecodeError``; it says Celonis may have acted, and where it can, reads the state back."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisRequestMaybeSentError
from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook
from airflow_provider_celonis.hooks.event_subscriptions import CelonisEventSubscriptionHook
from airflow_provider_celonis.hooks.scim import CelonisScimHook

KM, TRIGGER = "km-order-to-cash", "trg-late-orders"


@pytest.mark.parametrize("kind", ["truncate", "html"])
def test_scim_create_with_a_broken_answer_may_have_acted(
    kind: str, emulator: Any, fast_retries: dict[str, Any]
) -> None:
    path = "/api/user-provisioning/scim/v2/Users"
    emulator.add_faults([{"path": path, "method": "POST", "kind": kind, "times": 1}])
    with pytest.raises(CelonisRequestMaybeSentError, match="POST"):
        CelonisScimHook(**fast_retries).create_user({"userName": "cut@example.com"})
    users = [u["userName"] for u in emulator.scim_state()["users"]]
    assert ("cut@example.com" in users) == (kind == "truncate")  # truncate: it acted, then the answer broke
    assert emulator.requests_to("POST", path) == 1  # never sent again


@pytest.mark.parametrize("kind", ["truncate", "html"])
def test_push_job_create_with_a_broken_answer_may_have_acted(
    kind: str, emulator: Any, fast_retries: dict[str, Any]
) -> None:
    path = f"/data-ingestion/api/v1/data-push/{POOL}/jobs/"
    emulator.add_faults([{"path": path, "method": "POST", "kind": kind, "times": 1}])
    with pytest.raises(CelonisRequestMaybeSentError):
        CelonisDataPushHook(**fast_retries).create_job(POOL, target_name="orders")
    assert emulator.requests_to("POST", path) == 1


def test_subscription_create_with_a_cut_answer_adopts_the_one_it_made(
    emulator: Any, fast_retries: dict[str, Any]
) -> None:
    hook = CelonisEventSubscriptionHook(**fast_retries)
    path = f"/intelligence/api/knowledge-models/{KM}/triggers/{TRIGGER}/subscriptions"
    emulator.add_faults([{"path": path, "method": "POST", "kind": "truncate", "times": 1}])
    made = hook.create_subscription(KM, TRIGGER, name="cut", callback_uri="https://hooks.example.com/x")
    mine = [s for s in hook.list_subscriptions() if s.get("name") == "cut"]
    assert [s["id"] for s in mine] == [made]  # read back: exactly the one created, not a second
    assert emulator.requests_to("POST", path) == 1


def test_subscription_create_answered_by_a_proxy_fails_closed(
    emulator: Any, fast_retries: dict[str, Any]
) -> None:
    """The HTML page came instead of Celonis's answer and nothing was created: no id to adopt."""
    hook = CelonisEventSubscriptionHook(**fast_retries)
    path = f"/intelligence/api/knowledge-models/{KM}/triggers/{TRIGGER}/subscriptions"
    emulator.add_faults([{"path": path, "method": "POST", "kind": "html", "times": 1}])
    with pytest.raises(CelonisRequestMaybeSentError, match="no new subscription"):
        hook.create_subscription(KM, TRIGGER, name="proxy", callback_uri="https://hooks.example.com/x")
    assert emulator.requests_to("POST", path) == 1
