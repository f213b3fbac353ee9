"""Names instead of ids: which argument of a pair is used, and which listed object a name means.

Light on purpose (no hook, no HTTP): operators call :func:`check_id_or_name` in ``__init__`` at DAG
parse time; the lists themselves are read at run time by
:class:`~airflow_provider_celonis.hooks.data_pools.CelonisDataPoolHook`, which calls :func:`pick`.

The matching rule (docs/data-jobs.md, "Names instead of ids"):

1. **Exact**: the name equals the object's name character for character (case-sensitive; for a
   data model table, its name or its alias). One object: that one. Several objects: ambiguous,
   never "the first".
2. **Friendly fallback**: only when nothing matches exactly, names compared case-insensitively
   and with outer whitespace removed; used only if exactly one object matches (logged as a
   warning, so the DAG can be corrected), ambiguous otherwise.
3. Nothing: :class:`~airflow_provider_celonis.exceptions.CelonisNameError` listing what Celonis
   listed (at most :data:`MAX_SHOWN` names with their ids).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisNameError

MAX_SHOWN = 15
"""Candidates shown in an error message; the rest are counted."""

__all__ = ["MAX_SHOWN", "check_id_or_name", "chosen", "pick"]


def _given(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple)):
        return True  # an empty list of names is still "given" (it means: none of them)
    return True


def check_id_or_name(id_field: str, id_value: Any, name_field: str, name_value: Any, *, where: str) -> None:
    """Exactly one of ``id_field`` and ``name_field`` is given (before or after rendering).

    Called in ``__init__`` (a template counts as given: it renders later) and again at run time
    on the rendered values, so both given, or none, fails before any call.
    """
    has_id, has_name = _given(id_value), _given(name_value)
    if has_id and has_name:
        raise CelonisConfigurationError(
            name_field,
            f"is given together with {id_field!r}",
            f"give either {id_field} or {name_field}, not both",
            where=where,
        )
    if not has_id and not has_name:
        raise CelonisConfigurationError(
            id_field,
            f"is missing (and so is {name_field!r})",
            f"give {id_field} or {name_field}",
            where=where,
        )


def check_subset_pair(id_field: str, id_value: Any, name_field: str, name_value: Any, *, where: str) -> None:
    """At most one of an optional pair (``transformations`` / ``transformation_names``)."""
    if _given(id_value) and _given(name_value):
        raise CelonisConfigurationError(
            name_field,
            f"is given together with {id_field!r}",
            f"give either {id_field} or {name_field}, not both",
            where=where,
        )


def chosen(value: Any) -> str | None:
    """A rendered id or name as text, or None when blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _names(item: dict[str, Any], keys: Sequence[str]) -> list[str]:
    return [item[k] for k in keys if isinstance(item.get(k), str)]


def _ids(items: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(item["id"]): item for item in items}  # the same object listed twice is one object


def _shown(items: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    pairs = sorted((" / ".join(dict.fromkeys(_names(i, keys))) or "(no name)", str(i["id"])) for i in items)
    text = ", ".join(f"{name!r} ({id_})" for name, id_ in pairs[:MAX_SHOWN])
    more = len(pairs) - MAX_SHOWN
    return text + (f", and {more} more" if more > 0 else "") if text else "none"


def pick(
    kind: str,
    field: str,
    wanted: str,
    items: Sequence[dict[str, Any]],
    *,
    where: str,
    keys: Sequence[str] = ("name",),
    log: logging.Logger | None = None,
) -> dict[str, Any]:
    """The one item of ``items`` (each with an ``id``) whose name is ``wanted``, by the module's rule.

    ``kind`` names the objects in messages ("data pool"), ``field`` the argument ("data_pool_name"),
    ``where`` the scope ("in data pool 0f5c...").
    """
    exact = _ids(i for i in items if wanted in _names(i, keys))
    if len(exact) == 1:
        return next(iter(exact.values()))
    folded = wanted.strip().casefold()
    loose = _ids(i for i in items if folded in {n.strip().casefold() for n in _names(i, keys)})
    if not exact and len(loose) == 1:
        item = next(iter(loose.values()))
        if log is not None:
            log.warning(
                "%s %r matched %s %s only ignoring case and outer spaces (%r): using it; write the "
                "exact name to silence this warning.",
                field,
                wanted,
                kind,
                item["id"],
                _names(item, keys)[0],
            )
        return item
    matches = list((exact or loose).values())
    if matches:
        how = "exactly" if exact else "ignoring case"
        raise CelonisNameError(
            field,
            f"{wanted!r} is ambiguous: {len(matches)} {kind}s {where} are named so ({how}): "
            f"{_shown(matches, keys)}",
            f"rename all but one in Celonis, or give the id instead of {field}",
            candidates=[(_names(i, keys)[0] if _names(i, keys) else "", str(i["id"])) for i in matches],
            ambiguous=True,
        )
    every = list(_ids(items).values())
    raise CelonisNameError(
        field,
        f"{wanted!r} matches no {kind} {where}; Celonis lists {len(every)}: {_shown(every, keys)}",
        f"use one of the listed names (compared exactly), or give the id instead of {field}",
        candidates=[(_names(i, keys)[0] if _names(i, keys) else "", str(i["id"])) for i in every],
        ambiguous=False,
    )
