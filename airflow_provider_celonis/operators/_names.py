"""Names instead of ids for operators and sensors (docs/data-jobs.md, "Names instead of ids").

A class lists the objects it accepts by name (``name_pairs``: ``data_pool`` means the arguments
``data_pool_id`` / ``data_pool_name``) and its subset name arguments (``name_subsets``:
``transformation_names`` beside ``transformations``...). ``check_names`` runs in ``__init__`` (no
I/O: a template counts as given); ``resolve_names`` runs at the start of ``execute`` and of every
resume method, turns the rendered names into ids with
:func:`airflow_provider_celonis.hooks.data_pools.resolve_ids` and stores them in the id
attributes, which everything after uses (start, run ledger, XCom, links, trigger).

A resume method calls ``resolve_names_on_resume``: the names are resolved again (a name that now
means another object fails the resume's check of the event's ids), but when that listing fails
for a transient reason (no answer, 5xx, 429) after Celonis already did the work, the ids the
event carries are used instead, with a warning: they come from the trigger this task built with
the ids its names meant when it started, and failing there would turn a done run red (and a
retried push would push again).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_provider_celonis.client.names import check_id_or_name, check_subset_pair
from airflow_provider_celonis.waiting.status import transient_errors

SUBSET_IDS = {
    "transformation_names": "transformations",
    "extraction_names": "extractions",
    "table_names": "tables",
}
"""Each subset name argument and the id argument it stands in for."""


class NamesInsteadOfIds:
    """Mixin: ``*_name`` arguments beside ``*_id`` ones, resolved at run time, never at parse time."""

    name_pairs: tuple[str, ...] = ()
    name_subsets: tuple[str, ...] = ()
    celonis_conn_id: str
    hook_params: dict[str, Any]

    def _where(self) -> str:
        return f"{type(self).__name__}('{getattr(self, 'task_id', '?')}')"

    def check_names(self) -> None:
        """Exactly one of each pair, at most one of each subset pair (called in ``__init__``)."""
        for kind in self.name_pairs:
            id_field, name_field = f"{kind}_id", f"{kind}_name"
            check_id_or_name(
                id_field, getattr(self, id_field), name_field, getattr(self, name_field), where=self._where()
            )
        for name_field in self.name_subsets:
            id_field = SUBSET_IDS[name_field]
            check_subset_pair(
                id_field, getattr(self, id_field), name_field, getattr(self, name_field), where=self._where()
            )

    def resolve_names(self, *, subsets: bool = True) -> None:
        """Rendered names to ids (logged); without names no call is made. Once per instance: a
        resumed task is a new instance and resolves again, so a name that now means another object
        fails the resume's check of the event's ids instead of passing."""
        if getattr(self, "_names_resolved", False):
            return
        self.check_names()  # again on the rendered values: both, or neither, before any call
        # Lazy: the hook (requests, aiohttp) must not load at DAG parse time.
        from airflow_provider_celonis.hooks.data_pools import resolve_ids

        pairs = {kind.removeprefix("data_"): self._pair(kind) for kind in self.name_pairs}
        names = {field: getattr(self, field) for field in self.name_subsets} if subsets else {}
        found = resolve_ids(
            self.celonis_conn_id,
            dict(self.hook_params),
            where=self._where(),
            pool=pairs.pop("pool"),
            **pairs,
            **names,
        )
        for attribute, value in found.items():
            setattr(self, attribute, value)
        self._names_resolved = True

    def resolve_names_on_resume(self, event: Any, *, subsets: bool = False) -> None:
        """``resolve_names`` in a resume method; on a transient failure of the listing, the ids
        of the event (the caller still checks the event against them) instead of a red task."""
        try:
            self.resolve_names(subsets=subsets)
        except transient_errors() as err:
            carried = self._ids_in(event)
            if carried is None:
                raise  # the event cannot stand in for the names: fail as the listing did
            log = getattr(self, "log", logging.getLogger(__name__))
            log.warning(
                "Could not resolve the names again on resume (%s: %s); using the ids the trigger "
                "event carries, which this task resolved them to when it started: %s",
                type(err).__name__,
                err,
                carried,
            )
            for attribute, value in carried.items():
                setattr(self, attribute, value)
            self._names_resolved = True

    def _ids_in(self, event: Any) -> dict[str, str] | None:
        """The event's id for each object given by name, or None when one is missing."""
        carried: dict[str, str] = {}
        for kind in self.name_pairs:
            if getattr(self, f"{kind}_name") in (None, ""):
                continue  # given by id: nothing to stand in for
            value = event.get(f"{kind}_id") if isinstance(event, dict) else None
            if not isinstance(value, str) or not value.strip():
                return None
            carried[f"{kind}_id"] = value
        return carried

    def _pair(self, kind: str) -> tuple[Any, Any]:
        return getattr(self, f"{kind}_id"), getattr(self, f"{kind}_name")
