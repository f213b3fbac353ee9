"""``CelonisEventSubscriptionHook``: Knowledge Model triggers and their event subscriptions.

Scope ``intelligence.subscriptions:manage``. A subscription pushes a trigger's events to an
HTTPS callback; its status changes through ``PATCH .../pause|resume|resume-from-latest|replay``,
and ``PATCH .../events`` returns the next page of events whose delivery failed (shared/
celonis-api.md 2.12). Callback headers are checked here against the documented allow-list and
size before anything is sent, so a bad header fails the task without a half-made subscription.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_celonis.apis import EVENT_SUBSCRIPTION
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

ALLOWED_HEADERS = ("Authorization", "Content-Type", "User-Agent", "Host", "Accept")
MAX_HEADER_BYTES = 8192
CONFIGURATIONS = ("SKIP_ERRORS",)
KMS = "/api/knowledge-models"
SUBS = "/api/subscriptions"
MAX_EVENT_PAGES = 10_000


def check_callback(uri: Any, headers: Any, name: Any = "x", configurations: Any = ()) -> dict[str, str]:
    """Validate a subscription's callback as Celonis does; returns the headers as strings.

    Header values are never echoed in the errors (an ``Authorization`` value is a secret).
    """
    if not isinstance(name, str) or not 1 <= len(name) <= 1024:
        raise CelonisConfigurationError(
            "name", "must be 1 to 1024 characters", "give the subscription a name"
        )
    if not isinstance(uri, str) or not uri.lower().startswith("https://") or len(uri) <= len("https://"):
        raise CelonisConfigurationError(
            "callback_uri", f"is {uri!r}", "Celonis delivers only to HTTPS callbacks: use an https:// URI"
        )
    if headers is None:
        headers = {}
    if not isinstance(headers, dict):
        raise CelonisConfigurationError(
            "callback_headers", "is not a mapping", "pass a dict of header: value"
        )
    allowed = {h.lower() for h in ALLOWED_HEADERS}
    refused = sorted(str(h) for h in headers if str(h).lower() not in allowed)
    if refused:
        raise CelonisConfigurationError(
            "callback_headers",
            f"contains {', '.join(refused)}, which Celonis does not allow",
            f"use only {', '.join(ALLOWED_HEADERS)}",
        )
    clean = {str(k): str(v) for k, v in headers.items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in clean.items())
    if size > MAX_HEADER_BYTES:
        raise CelonisConfigurationError(
            "callback_headers",
            f"total {size} bytes",
            f"Celonis allows at most {MAX_HEADER_BYTES} bytes of headers",
        )
    unknown = sorted(set(configurations or ()) - set(CONFIGURATIONS))
    if unknown:
        raise CelonisConfigurationError("configurations", f"contains {unknown}", f"use only {CONFIGURATIONS}")
    return clean


class CelonisEventSubscriptionHook(CelonisOAuthHook):
    """Event Subscription API calls; same arguments as :class:`CelonisOAuthHook`."""

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request_json(method, path, api=EVENT_SUBSCRIPTION, **kwargs)

    def _pages(self, path: str, page_size: int = 50) -> Iterator[dict[str, Any]]:
        seen, number = 0, 0
        while True:
            body = self._call("GET", path, params={"page": number, "pageSize": page_size}) or {}
            content = body.get("content") or []
            yield from content
            seen, number = seen + len(content), number + 1
            if not content or (isinstance(body.get("total"), int) and seen >= body["total"]):
                return

    def list_triggers(self, km_id: str) -> list[dict[str, Any]]:
        return list(self._pages(f"{KMS}/{km_id}/triggers"))

    def get_trigger(self, km_id: str, trigger_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"{KMS}/{km_id}/triggers/{trigger_id}")
        return result

    def list_subscriptions(self) -> list[dict[str, Any]]:
        return list(self._pages(SUBS))

    @staticmethod
    def body(
        name: str, callback_uri: str, headers: dict[str, str] | None, configurations: list[str] | None
    ) -> dict[str, Any]:
        clean = check_callback(callback_uri, headers, name, configurations or [])
        return {
            "name": name,
            "callbackInfo": {"uri": callback_uri, "protocol": "HTTPS", "headers": clean},
            "configurations": list(configurations or []),
        }

    def create_subscription(
        self,
        km_id: str,
        trigger_id: str,
        *,
        name: str,
        callback_uri: str,
        headers: dict[str, str] | None = None,
        configurations: list[str] | None = None,
    ) -> str:
        """Subscribe to a trigger; returns the new subscription's id (POST, not replayed on 5xx)."""
        body = self.body(name, callback_uri, headers, configurations)
        result = self._call("POST", f"{KMS}/{km_id}/triggers/{trigger_id}/subscriptions", json=body) or {}
        return str(result["id"])

    def update_subscription(
        self,
        subscription_id: str,
        *,
        name: str,
        callback_uri: str,
        headers: dict[str, str] | None = None,
        configurations: list[str] | None = None,
    ) -> Any:
        body = self.body(name, callback_uri, headers, configurations)
        return self._call("PUT", f"{SUBS}/{subscription_id}", json=body)

    def delete_subscription(self, subscription_id: str) -> None:
        self._call("DELETE", f"{SUBS}/{subscription_id}")

    def pause(self, subscription_id: str) -> None:
        self._call("PATCH", f"{SUBS}/{subscription_id}/pause", idempotent=True)

    def resume(self, subscription_id: str) -> None:
        self._call("PATCH", f"{SUBS}/{subscription_id}/resume", idempotent=True)

    def resume_from_latest(self, subscription_id: str) -> None:
        """Resume, skipping every event before the newest one."""
        self._call("PATCH", f"{SUBS}/{subscription_id}/resume-from-latest", idempotent=True)

    def replay(self, subscription_id: str, from_offset: int) -> None:
        """Deliver again every event from ``from_offset`` on."""
        self._call(
            "PATCH", f"{SUBS}/{subscription_id}/replay", params={"fromOffset": from_offset}, idempotent=True
        )

    def next_failed_events(self, subscription_id: str) -> dict[str, Any]:
        """The next page of failed events (``SignalResultPage``). Each call moves on: not idempotent."""
        result: dict[str, Any] = (
            self._call("PATCH", f"{SUBS}/{subscription_id}/events", idempotent=False) or {}
        )
        return result

    def iter_failed_events(
        self, subscription_id: str, *, max_events: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Failed events page by page until a page comes back empty (or ``max_events``)."""
        count = 0
        for _ in range(MAX_EVENT_PAGES):
            content = self.next_failed_events(subscription_id).get("content") or []
            for event in content:
                yield event
                count += 1
                if max_events is not None and count >= max_events:
                    return
            if not content:
                return
