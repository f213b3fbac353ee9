"""``CelonisEventSubscriptionHook``: Knowledge Model triggers and their event subscriptions.

Scope ``intelligence.subscriptions:manage``. A subscription pushes a trigger's events to an
HTTPS callback; its status changes through ``PATCH .../pause|resume|resume-from-latest|replay``,
and ``PATCH .../events`` returns the next page of events whose delivery failed (docs/
celonis-api.md 5.2). That each such PATCH moves a server-side cursor on is a [guess]: a page
that repeats the previous one fails the read instead of looping (see
:meth:`CelonisEventSubscriptionHook.iter_failed_event_pages`). Callback headers are checked
here against the documented allow-list and size before anything is sent, so a bad header
fails the task without a half-made subscription.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from airflow_provider_celonis.client.apis import EVENT_SUBSCRIPTION
from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.client.intelligence_pages import intelligence_pages, page_list, read_answer
from airflow_provider_celonis.exceptions import (
    CelonisApiError,
    CelonisConfigurationError,
    CelonisError,
    CelonisEventsMayBeLostError,
    CelonisRequestMaybeSentError,
    CelonisServerError,
    CelonisTransportError,
    CelonisUnexpectedResponseError,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

ALLOWED_HEADERS = ("Authorization", "Content-Type", "User-Agent", "Host", "Accept")
MAX_HEADER_BYTES = 8192
CONFIGURATIONS = ("SKIP_ERRORS",)
KMS = "/api/knowledge-models"
SUBS = "/api/subscriptions"
TRIGGERS = KMS + "/{km_id}/triggers"
TRIGGER = TRIGGERS + "/{trigger_id}"
SUB = SUBS + "/{subscription_id}"
MAX_EVENT_PAGES = 10_000
"""Most ``PATCH .../events`` calls in one read; reaching it is an error, not a silent stop."""
__all__ = [
    "CelonisEventSubscriptionHook",
    "CelonisEventsMayBeLostError",  # defined in exceptions; imported from here before
    "check_callback",
]


def sub_call(
    method: str, subscription_id: str, action: str = "", *, reads_answer: bool = False, **kwargs: Any
) -> Call:
    """A call to one subscription (``action``: ``pause``, ``events``...); PATCH actions are
    idempotent unless ``idempotent`` says otherwise (reading failed events moves a cursor)."""
    idempotent = kwargs.pop("idempotent", True if method == "PATCH" else None)
    template = f"{SUB}/{action}" if action else SUB
    ids = {"subscription_id": subscription_id}
    return Call(EVENT_SUBSCRIPTION, method, template, ids, kwargs, idempotent, reads_answer)


def callback_secrets(body: dict[str, Any]) -> tuple[str, ...]:
    """The webhook URI and header values of a subscription body: never shown in an error, even
    when Celonis's answer repeats the request (``Call.secrets``)."""
    info = body.get("callbackInfo") or {}
    return (str(info.get("uri") or ""), *(str(v) for v in (info.get("headers") or {}).values()))


def check_callback(
    uri: Any, headers: Any, name: Any = "x", configurations: Any = (), *, where: str | None = None
) -> dict[str, str]:
    """Validate a subscription's callback as Celonis does; returns the headers as strings.

    Header values are never echoed in the errors (an ``Authorization`` value is a secret), nor
    is the URI (a Slack or Teams webhook URI is itself a secret). ``where`` (e.g. the task id)
    prefixes the errors.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= 1024:
        raise CelonisConfigurationError(
            "name", "must be 1 to 1024 characters", "give the subscription a name", where=where
        )
    if not isinstance(uri, str) or not uri.lower().startswith("https://") or len(uri) <= len("https://"):
        shown = f"starts with {uri[:8]!r}" if isinstance(uri, str) else f"is a {type(uri).__name__}"
        raise CelonisConfigurationError(
            "callback_uri",
            shown,
            "Celonis delivers only to HTTPS callbacks: use an https:// URI",
            where=where,
        )
    if headers is None:
        headers = {}
    if not isinstance(headers, dict):
        raise CelonisConfigurationError(
            "callback_headers", "is not a mapping", "pass a dict of header: value", where=where
        )
    allowed = {h.lower() for h in ALLOWED_HEADERS}
    refused = sorted(str(h) for h in headers if str(h).lower() not in allowed)
    if refused:
        raise CelonisConfigurationError(
            "callback_headers",
            f"contains {', '.join(refused)}, which Celonis does not allow",
            f"use only {', '.join(ALLOWED_HEADERS)}",
            where=where,
        )
    clean = {str(k): str(v) for k, v in headers.items()}
    size = sum(len(k.encode()) + len(v.encode()) for k, v in clean.items())
    if size > MAX_HEADER_BYTES:
        raise CelonisConfigurationError(
            "callback_headers",
            f"total {size} bytes",
            f"Celonis allows at most {MAX_HEADER_BYTES} bytes of headers",
            where=where,
        )
    unknown = sorted(set(configurations or ()) - set(CONFIGURATIONS))
    if unknown:
        raise CelonisConfigurationError(
            "configurations", f"contains {unknown}", f"use only {CONFIGURATIONS}", where=where
        )
    return clean


class CelonisEventSubscriptionHook(CelonisOAuthHook):
    """Event Subscription API calls; same arguments as :class:`CelonisOAuthHook`."""

    def _pages(self, template: str, ids: dict[str, Any], page_size: int = 50) -> Iterator[dict[str, Any]]:
        first = Call(EVENT_SUBSCRIPTION, "GET", template, ids)
        what, path = f"Event subscription list {first.path}", first.path

        def fetch(number: int) -> Any:
            params = {"page": number, "pageSize": page_size}
            with self.call_response(Call(EVENT_SUBSCRIPTION, "GET", template, ids, {"params": params})) as r:
                return read_answer(r, what=what, method="GET", path=path)

        for _body, content in intelligence_pages(fetch, what=what, path=path):
            yield from content

    def list_triggers(self, km_id: str) -> list[dict[str, Any]]:
        return list(self._pages(TRIGGERS, {"km_id": km_id}))

    def get_trigger(self, km_id: str, trigger_id: str) -> dict[str, Any]:
        ids = {"km_id": km_id, "trigger_id": trigger_id}
        result: dict[str, Any] = self.call(Call(EVENT_SUBSCRIPTION, "GET", TRIGGER, ids))
        return result

    def list_subscriptions(self) -> list[dict[str, Any]]:
        return list(self._pages(SUBS, {}))

    @staticmethod
    def body(
        name: str,
        callback_uri: str,
        headers: dict[str, str] | None,
        configurations: list[str] | None,
        *,
        where: str | None = None,
    ) -> dict[str, Any]:
        clean = check_callback(callback_uri, headers, name, configurations or [], where=where)
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
        where: str | None = None,
    ) -> str:
        """Subscribe to a trigger; returns the new subscription's id (POST, never replayed).

        The ids that exist before the POST are read first: when its answer is lost (a timeout, a
        5xx) or carries no id, the subscription is the one new id with this trigger, name and
        callback, adopted only when exactly one exists; otherwise the call fails naming what it
        found, and never creates a second one.
        """
        body = self.body(name, callback_uri, headers, configurations, where=where)
        ids = {"km_id": km_id, "trigger_id": trigger_id}
        create = Call(
            EVENT_SUBSCRIPTION,
            "POST",
            TRIGGER + "/subscriptions",
            ids,
            {"json": body},
            reads_answer=True,
            secrets=callback_secrets(body),
        )
        before = {str(s.get("id")) for s in self.list_subscriptions()}
        try:
            result = self.call(create)
        except CelonisRequestMaybeSentError as err:
            return self._adopt(before, trigger_id, name, callback_uri, str(err))
        if isinstance(result, dict) and result.get("id"):
            return str(result["id"])
        return self._adopt(before, trigger_id, name, callback_uri, "the answer had no subscription id")

    def _adopt(self, before: set[str], trigger_id: str, name: str, callback_uri: str, why: str) -> str:
        """The one subscription made by this create (read back), or a fail-closed error."""
        mine = [
            str(s.get("id"))
            for s in self.list_subscriptions()
            if str(s.get("id")) not in before
            and s.get("triggerId") in (None, trigger_id)
            and s.get("name") == name
            and (s.get("callbackInfo") or {}).get("uri", callback_uri) == callback_uri
        ]
        if len(mine) == 1:
            self.log.warning("Subscription create: %s; read back, it created subscription %s", why, mine[0])
            return mine[0]
        found = f"{len(mine)} new subscriptions match ({', '.join(mine)})" if mine else "no new subscription"
        raise CelonisRequestMaybeSentError(
            f"Creating subscription {name!r} on trigger {trigger_id}: {why}; read back, {found}.",
            fix="check the trigger's subscriptions in Celonis (a late create may still appear) and delete "
            "extra ones before re-running; re-running now could subscribe twice",
        )

    def update_subscription(
        self,
        subscription_id: str,
        *,
        name: str,
        callback_uri: str,
        headers: dict[str, str] | None = None,
        configurations: list[str] | None = None,
        where: str | None = None,
    ) -> Any:
        body = self.body(name, callback_uri, headers, configurations, where=where)
        call = replace(
            sub_call("PUT", subscription_id, json=body, reads_answer=True), secrets=callback_secrets(body)
        )
        return self.call(call)

    def delete_subscription(self, subscription_id: str) -> None:
        self.call(sub_call("DELETE", subscription_id))

    def pause(self, subscription_id: str) -> None:
        self.call(sub_call("PATCH", subscription_id, "pause"))

    def resume(self, subscription_id: str) -> None:
        self.call(sub_call("PATCH", subscription_id, "resume"))

    def resume_from_latest(self, subscription_id: str) -> None:
        """Resume, skipping every event before the newest one."""
        self.call(sub_call("PATCH", subscription_id, "resume-from-latest"))

    def replay(self, subscription_id: str, from_offset: int) -> None:
        """Deliver again every event from ``from_offset`` on."""
        self.call(sub_call("PATCH", subscription_id, "replay", params={"fromOffset": from_offset}))

    def next_failed_events(self, subscription_id: str) -> dict[str, Any]:
        """The next page of failed events (``SignalResultPage``). Each call moves on: not idempotent.

        A 200 that is not a page (not JSON, no ``content`` list) is a
        :class:`CelonisUnexpectedResponseError`.
        """
        call = sub_call("PATCH", subscription_id, "events", idempotent=False)
        what, path = f"Failed events of subscription {subscription_id}", call.path
        with self.call_response(call) as response:
            answer = read_answer(response, what=what, method="PATCH", path=path)
        page_list(
            answer.body,
            "content",
            what=what,
            method="PATCH",
            path=path,
            status=answer.status,
            content_type=answer.content_type,
        )
        result: dict[str, Any] = answer.body
        return result

    def iter_failed_event_pages(
        self, subscription_id: str, *, max_events: int | None = None, max_pages: int = MAX_EVENT_PAGES
    ) -> Iterator[list[Any]]:
        """Whole pages of failed events until a page comes back empty.

        Every page is returned whole, because reading it has moved Celonis's cursor past it: with
        ``max_events`` the read stops after the page that reaches it (so up to one page more
        than ``max_events`` comes back). Raises :class:`CelonisError` when a page repeats the
        previous page's events (the cursor did not advance, so the read would never end) or
        when ``max_pages`` pages came without an empty one, and
        :class:`CelonisEventsMayBeLostError` when a call failed in a way that does not prove the
        cursor stayed (a timeout, a dropped connection, a 5xx, a 200 that is not a page).
        """
        count, previous = 0, None
        pages: list[dict[str, Any]] = []
        for _ in range(max_pages):
            try:
                body = self.next_failed_events(subscription_id)
                content = body["content"]
            except (CelonisTransportError, CelonisServerError, CelonisUnexpectedResponseError) as err:
                raise _maybe_lost(subscription_id, pages, err) from err
            except CelonisApiError as err:
                if err.status >= 500:
                    raise _maybe_lost(subscription_id, pages, err) from err
                raise  # Celonis refused the call (4xx): the cursor did not move
            if not content and body.get("hasMore") is True:
                # an empty page moved nothing, but it does not prove the end either ([guess] field)
                raise CelonisError(
                    f"Failed events of subscription {subscription_id}: PATCH .../events answered an "
                    f"empty page that says hasMore: true, after {count} events, so the read cannot "
                    "tell that every failed event came.",
                    fix="re-run later (the empty page consumed nothing); if it repeats, report it to "
                    "Celonis support",
                )
            if not content:
                return
            keys = [_event_key(event) for event in content]
            if keys == previous:
                raise CelonisError(
                    f"Failed events of subscription {subscription_id}: PATCH .../events returned the same "
                    f"{len(content)} events as the call before (offsets {_offsets(content)}), so the "
                    "failed-events cursor does not advance and reading on would never end.",
                    fix="read the failed events once with max_events, or replay the subscription from an "
                    "offset instead; report the behaviour to Celonis support",
                )
            previous = keys
            pages.append(_page_range(content))
            yield content
            count += len(content)
            if max_events is not None and count >= max_events:
                return
        raise CelonisError(
            f"Failed events of subscription {subscription_id}: still not empty after {max_pages} pages "
            f"({count} events read).",
            fix="set max_events to read them in several runs, or check that the cursor advances",
        )

    def iter_failed_events(
        self, subscription_id: str, *, max_events: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The events of :meth:`iter_failed_event_pages` one by one (whole pages, see there)."""
        for page in self.iter_failed_event_pages(subscription_id, max_events=max_events):
            yield from page


def _event_key(event: Any) -> Any:
    """What identifies a failed event: its offset and its event id (the whole event otherwise)."""
    if isinstance(event, dict):
        inner = event.get("event")
        ident = inner.get("id") if isinstance(inner, dict) else None
        if event.get("offset") is not None or ident is not None:
            return (event.get("offset"), ident)
    return repr(event)


def _offsets(content: list[Any]) -> str:
    found: list[Any] = [e["offset"] for e in content if isinstance(e, dict) and e.get("offset") is not None]
    return f"{min(found)} to {max(found)}" if found else "unknown"


def _page_range(content: list[Any]) -> dict[str, Any]:
    found = [e["offset"] for e in content if isinstance(e, dict) and isinstance(e.get("offset"), int)]
    return {
        "events": len(content),
        "first_offset": min(found, default=None),
        "last_offset": max(found, default=None),
    }


def _maybe_lost(
    subscription_id: str, pages: list[dict[str, Any]], err: Exception
) -> CelonisEventsMayBeLostError:
    """The error for a failed-events call whose page may have been consumed without reaching us."""
    offsets = [p["last_offset"] for p in pages if p["last_offset"] is not None]
    replay_from = max(offsets) + 1 if offsets else None
    certain = ", ".join(f"{p['first_offset']}-{p['last_offset']}" for p in pages) or "none"
    if replay_from is not None:
        fix = (
            f"replay the subscription from offset {replay_from} (CelonisEventSubscriptionOperator "
            f"action='replay', from_offset={replay_from}) so Celonis delivers the possibly missing events "
            "again; do not just re-run this read, which would continue after the lost page"
        )
    else:
        before = (
            "the events read before the loss came without an offset"
            if any(p["events"] for p in pages)
            else "no event was read before the loss"
        )
        fix = (
            f"{before}: replay the subscription from the offset of its oldest failed event you know of "
            "(CelonisEventSubscriptionOperator action='replay'); do not just re-run this read, which "
            "would continue after the lost page"
        )
    read = sum(p["events"] for p in pages)
    return CelonisEventsMayBeLostError(
        f"Failed events of subscription {subscription_id}: a PATCH .../events call failed ({err}) after "
        f"Celonis may have moved its cursor past a page, so a page of failed events may be missing. "
        f"Read for certain: {read} events in {len(pages)} pages (offsets {certain}).",
        subscription_id=subscription_id,
        pages=list(pages),
        replay_from=replay_from,
        fix=fix,
    )
