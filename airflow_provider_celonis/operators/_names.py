"""Names instead of ids for operators and sensors (docs/data-jobs.md, "Names instead of ids").

A class lists the objects it accepts by name (``name_pairs``: ``data_pool`` means the arguments
``data_pool_id`` / ``data_pool_name``) and its subset name arguments (``name_subsets``:
``transformation_names`` beside ``transformations``...). ``check_names`` runs in ``__init__`` (no
I/O: a template counts as given); ``resolve_names`` runs at the start of ``execute`` and of every
resume method, turns the rendered names into ids with
:func:`airflow_provider_celonis.hooks.data_pools.resolve_ids` and stores them in the id
attributes, which everything after uses (start, run ledger, XCom, links, trigger).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.client.names import check_id_or_name, check_subset_pair

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

    def _pair(self, kind: str) -> tuple[Any, Any]:
        return getattr(self, f"{kind}_id"), getattr(self, f"{kind}_name")
