"""Process Intelligence operators: event subscriptions and their failed events.

The AI agent chat and Studio tool operators live in :mod:`.agents` and are importable from
here too (their historical path).

Each validates its arguments before any call (``CelonisConfigurationError`` naming the field)
and sends through the provider's hooks (retries, token re-grant, typed errors). Scope:
``intelligence.subscriptions:manage``; see docs/process-intelligence.md.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.client import transport
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisError,
    CelonisEventsMayBeLostError,
)
from airflow_provider_celonis.extracts.outputs import check_format, check_output_path
from airflow_provider_celonis.extracts.records import write_in_order
from airflow_provider_celonis.operators._base import CelonisOperatorBase
from airflow_provider_celonis.operators.agents import CelonisAgentChatOperator, CelonisToolOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "CelonisAgentChatOperator",
    "CelonisEventSubscriptionOperator",
    "CelonisSubscriptionFailedEventsOperator",
    "CelonisToolOperator",
]
ACTIONS = ("create", "update", "pause", "resume", "resume_from_latest", "replay", "delete")


class CelonisEventSubscriptionOperator(CelonisOperatorBase):
    """Create, update, pause, resume, resume from the latest event, replay or delete a subscription.

    Returns the subscription id (for ``create``, the new one). The callback is checked before
    any call: an ``https://`` URI, headers only among Authorization, Content-Type, User-Agent,
    Host and Accept, at most 8,192 bytes. Header values are masked in logs; put secrets in an
    Airflow connection or variable and template them in, e.g.
    ``{"Authorization": "Bearer {{ conn.erp_webhook.password }}"}``. The callback URI is not
    masked and shows in the rendered template fields: when the URI itself is a secret (a Slack
    or Teams webhook), keep it in a connection and limit who can see the task's rendered fields.

    :param action: one of ``create``, ``update``, ``pause``, ``resume``, ``resume_from_latest``,
        ``replay``, ``delete``.
    :param subscription_id: the subscription (all actions but ``create``).
    :param knowledge_model_id: and :param trigger_id: what ``create`` subscribes to.
    :param name: subscription name, 1-1024 characters (``create``, ``update``).
    :param callback_uri: HTTPS URI events are pushed to (``create``, ``update``).
    :param callback_headers: headers sent with each delivery (allow-listed, see above).
    :param configurations: e.g. ``["SKIP_ERRORS"]``.
    :param from_offset: first event offset to deliver again (``replay``).
    """

    template_fields: Sequence[str] = (
        "subscription_id",
        "knowledge_model_id",
        "trigger_id",
        "name",
        "callback_uri",
        "callback_headers",
        "from_offset",
    )

    def __init__(
        self,
        *,
        action: str,
        subscription_id: str | None = None,
        knowledge_model_id: str | None = None,
        trigger_id: str | None = None,
        name: str | None = None,
        callback_uri: str | None = None,
        callback_headers: dict[str, str] | None = None,
        configurations: list[str] | None = None,
        from_offset: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.action = action
        self.subscription_id = subscription_id
        self.knowledge_model_id = knowledge_model_id
        self.trigger_id = trigger_id
        self.name = name
        self.callback_uri = callback_uri
        self.callback_headers = callback_headers
        self.configurations = list(configurations or [])
        self.from_offset = from_offset

    def _offset(self) -> int:
        try:
            offset = int(str(self.from_offset))
        except ValueError:
            offset = -1
        if offset < 0:
            raise CelonisConfigurationError(
                "from_offset",
                f"is {self.from_offset!r}",
                "pass the event offset (>= 0) to replay from",
                where=self.task_id,
            )
        return offset

    def _validate(self) -> int | None:
        # Lazy: the check lives in the hook module, which DAG parsing must not import.
        from airflow_provider_celonis.hooks.event_subscriptions import check_callback

        if self.action not in ACTIONS:
            raise CelonisConfigurationError(
                "action", f"is {self.action!r}", f"use one of {', '.join(ACTIONS)}", where=self.task_id
            )
        if self.action == "create":
            self._require(knowledge_model_id=self.knowledge_model_id, trigger_id=self.trigger_id)
        else:
            self._require(subscription_id=self.subscription_id)
        if self.action in ("create", "update"):
            check_callback(
                self.callback_uri, self.callback_headers, self.name, self.configurations, where=self.task_id
            )
        return self._offset() if self.action == "replay" else None

    def execute(self, context: Context) -> str:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.event_subscriptions import CelonisEventSubscriptionHook

        offset = self._validate()
        for value in (self.callback_headers or {}).values():
            transport.mask(str(value))
        hook = CelonisEventSubscriptionHook(self.celonis_conn_id, **self.hook_params)
        sub_id = str(self.subscription_id or "")
        if self.action in ("create", "update"):
            spec: dict[str, Any] = {
                "name": str(self.name),
                "callback_uri": str(self.callback_uri),
                "headers": self.callback_headers,
                "configurations": self.configurations,
                "where": self.task_id,
            }
            if self.action == "create":
                sub_id = hook.create_subscription(str(self.knowledge_model_id), str(self.trigger_id), **spec)
            else:
                hook.update_subscription(sub_id, **spec)
        elif self.action == "replay":
            assert offset is not None
            hook.replay(sub_id, offset)
        else:
            {
                "pause": hook.pause,
                "resume": hook.resume,
                "resume_from_latest": hook.resume_from_latest,
                "delete": hook.delete_subscription,
            }[self.action](sub_id)
        detail = f" from offset {offset}" if offset is not None else ""
        self.log.info("Event subscription %s: %s%s done", sub_id, self.action, detail)
        return sub_id


class CelonisSubscriptionFailedEventsOperator(CelonisOperatorBase):
    """Read a subscription's failed events (``PATCH .../events``, page by page) into a file.

    Reading moves Celonis's cursor ([guess]): events returned once are not returned again, so
    every page read is written, whole. ``output_path`` is written atomically when the read ends;
    when a later page fails (or the cursor turns out not to advance), the events already read
    are first saved to ``<output_path>.recovered-<UTC time>.jsonl`` next to it (its path is in
    the log and the error), then the task fails. Returns ``{"path", "records"}``.

    :param subscription_id: the subscription. :param output_path: file path or URI (templated).
    :param output_format: ``jsonl`` (default), ``csv`` or ``parquet``.
    :param max_events: stop after the page that reaches this many events (default: all); the
        file may hold up to one page more, because a page read cannot be put back.
    """

    template_fields: Sequence[str] = ("subscription_id", "output_path")

    def __init__(
        self,
        *,
        subscription_id: str,
        output_path: str,
        output_format: str = "jsonl",
        max_events: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.subscription_id = subscription_id
        self.output_path = output_path
        self.output_format = output_format
        self.max_events = max_events

    def execute(self, context: Context) -> dict[str, Any]:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.event_subscriptions import CelonisEventSubscriptionHook

        self._require(subscription_id=self.subscription_id)
        fmt, path = check_format(self.output_format), str(self.output_path)
        check_output_path(path)
        if self.max_events is not None and (
            not isinstance(self.max_events, int) or isinstance(self.max_events, bool) or self.max_events < 1
        ):
            raise CelonisConfigurationError(
                "max_events", f"is {self.max_events!r}", "use a positive number or None", where=self.task_id
            )
        hook = CelonisEventSubscriptionHook(self.celonis_conn_id, **self.hook_params)
        pages = hook.iter_failed_event_pages(str(self.subscription_id), max_events=self.max_events)
        with tempfile.TemporaryFile("w+", encoding="utf-8", prefix="celonis-failed-events-") as spool:
            read = 0
            try:
                for number, page in enumerate(pages, 1):
                    for event in page:
                        spool.write(json.dumps(event) + "\n")
                    read += len(page)
                    self.log.info(
                        "Read page %d of failed events: %d events (%d so far)", number, len(page), read
                    )
                spool.seek(0)
                count = write_in_order(_lines(spool), path, fmt, preferred=_EVENT_COLUMNS)
            except BaseException as err:  # a timeout or kill too: the events read must survive
                lost = err if isinstance(err, CelonisEventsMayBeLostError) else None
                if read or lost:
                    saved = self._recover(spool, path, lost)
                    if not isinstance(err, Exception):
                        raise
                    if lost is not None:
                        raise CelonisError(
                            f"{lost.summary} The {read} events read for certain are saved in {saved}; its "
                            "manifest (.manifest.json) lists the offset ranges that are certain.",
                            fix=lost.fix,
                        ) from err
                    raise CelonisError(
                        f"Reading the failed events of subscription {self.subscription_id} stopped after "
                        f"{read} events, which Celonis will not return again ({err}). They are saved in "
                        f"{saved}.",
                        fix="keep that file (it holds the events already read), fix the cause and re-run: "
                        "the next run reads only the events after them",
                    ) from err
                raise
        self.log.info("Wrote %d failed events of subscription %s to %s", count, self.subscription_id, path)
        return {"path": path, "records": count}

    def _recover(self, spool: Any, path: str, lost: Any = None) -> str:
        """Write the events read so far next to ``path`` (or, failing that, to a local temp file).

        When a page may be lost (``lost``), a ``<file>.manifest.json`` beside it says which offset
        ranges are certain, where the gap may be, and the offset to replay from.
        """
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        targets = [f"{path}.recovered-{stamp}.jsonl"]
        targets.append(os.path.join(tempfile.gettempdir(), f"celonis-failed-events-{stamp}.jsonl"))
        for target in targets:
            spool.seek(0)
            try:
                count = write_in_order(_lines(spool), target, "jsonl", preferred=_EVENT_COLUMNS)
                if lost is not None:
                    manifest = {
                        "subscription_id": str(self.subscription_id),
                        "complete": False,
                        "events_saved": count,
                        "certain_pages": lost.pages,
                        "may_be_missing": "the page after the last certain page (its answer was lost)",
                        "replay_from_offset": lost.replay_from,
                    }
                    write_in_order(iter([manifest]), f"{target}.manifest.json", "jsonl")
            except Exception as err:  # the output storage itself may be what failed
                self.log.error("Could not save the failed events already read to %s: %s", target, err)
                continue
            self.log.error(
                "Saved %d failed events already read (Celonis will not return them again) to %s",
                count,
                target,
            )
            return target
        return "no file (saving failed, see the log)"


_EVENT_COLUMNS = ("offset", "triggerId", "subscriberId", "creationDate", "event")


def _lines(spool: Any) -> Iterator[dict[str, Any]]:
    for line in spool:
        yield json.loads(line)
