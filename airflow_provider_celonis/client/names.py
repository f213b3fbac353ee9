"""Names instead of ids: which argument of a pair is used, and which listed object a name means.

Light on purpose (no hook, no HTTP): operators call :func:`check_id_or_name` in ``__init__`` at DAG
parse time; the lists themselves are read at run time by
:class:`~airflow_provider_celonis.hooks.data_pools.CelonisDataPoolHook`, which calls :func:`pick`.

The matching rule (docs/data-jobs.md, "Names instead of ids"):

1. **Exact**: the name equals the object's name character for character (case-sensitive; for a
   data model table, its name or its alias). One object: that one. Several objects: ambiguous,
   never "the first".
2. **Friendly fallback**: only when nothing matches exactly, names compared case-insensitively,
   Unicode-normalized (NFKC) and with outer whitespace removed; used only if exactly one object
   matches (logged as a warning, so the DAG can be corrected), ambiguous otherwise.
3. Nothing: :class:`~airflow_provider_celonis.exceptions.CelonisNameError` listing what Celonis
   listed (at most :data:`MAX_SHOWN` names with their ids).

Names are taken as written (:func:`one_name`, :func:`name_list`): outer spaces stay for the exact
match, a plain string is one name, and two names of one object are refused (:func:`distinct`).
"""

from __future__ import annotations

import ast
import logging
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisNameError

MAX_SHOWN = 15
"""Candidates shown in an error message; the rest are counted."""

__all__ = ["MAX_SHOWN", "check_id_or_name", "chosen", "distinct", "name_list", "one_name", "pick"]


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


SHOWN_CHARS = 80
"""Characters of one name or id in a message (a listed name can be any length; the whole names
stay in the error's ``candidates``)."""


def _short(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def _shown(items: Sequence[dict[str, Any]], keys: Sequence[str]) -> str:
    pairs = sorted((" / ".join(dict.fromkeys(_names(i, keys))) or "(no name)", str(i["id"])) for i in items)
    text = ", ".join(f"{_short(name)!r} ({_short(id_)})" for name, id_ in pairs[:MAX_SHOWN])
    more = len(pairs) - MAX_SHOWN
    return text + (f", and {more} more" if more > 0 else "") if text else "none"


_ID_FIELDS = {
    "transformation_names": "transformations",
    "extraction_names": "extractions",
    "table_names": "tables",
}


def _folded(name: str) -> str:
    """A name as the fallback compares it: Unicode-normalized (NFKC: 'é' typed as one code point
    or as 'e' plus an accent, a no-break space), without outer spaces, case-folded."""
    return unicodedata.normalize("NFKC", name).strip().casefold()


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
    folded = _folded(wanted)
    loose = _ids(i for i in items if folded in {_folded(n) for n in _names(i, keys)})
    if not exact and len(loose) == 1:
        item = next(iter(loose.values()))
        if log is not None:
            log.warning(
                "%s %r matched %s %s only ignoring case, outer spaces and Unicode composition "
                "(%r): using it; write the exact name to silence this warning.",
                field,
                wanted,
                kind,
                item["id"],
                _short(next(n for n in _names(item, keys) if _folded(n) == folded)),  # name or alias
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
    id_field = _ID_FIELDS.get(field, field.removesuffix("_name") + "_id")
    if wanted.strip() in {str(i["id"]) for i in every}:  # a pasted id: say where it belongs
        raise CelonisNameError(
            field,
            f"{wanted!r} is the id of a {kind} {where}, not a name",
            f"give it as {id_field}",
            candidates=[],
            ambiguous=False,
        )
    raise CelonisNameError(
        field,
        f"{wanted!r} matches no {kind} {where}; Celonis lists {len(every)}: {_shown(every, keys)}",
        f"use one of the listed names (compared exactly), or give the id instead of {field}",
        candidates=[(_names(i, keys)[0] if _names(i, keys) else "", str(i["id"])) for i in every],
        ambiguous=False,
    )


def one_name(field: str, value: Any) -> str | None:
    """A rendered ``*_name`` as written (outer spaces kept: names are matched exactly first), or
    None when blank; a number is its text; anything else (a list, a bool, a list rendered as
    text by a template: ``"['a']"``) is refused."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        if isinstance(_as_list(value), list):
            raise CelonisConfigurationError(field, f"is a list rendered as text ({value!r})", "give one name")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise CelonisConfigurationError(field, f"is a {type(value).__name__} ({value!r})", "give one name (text)")


def _as_list(text: str) -> list[Any] | None:
    """``text`` as the list it spells (``"['a', 'b']"``, a templated list rendered as text), or
    None: ``"[Draft] job"`` is a name."""
    if not text.strip().startswith("["):
        return None
    try:
        parsed = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return list(parsed) if isinstance(parsed, (list, tuple)) else None


def _name_item(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value  # as written: 'Sales ' and 'Sales' may be two objects
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def name_list(value: Any, field: str, *, with_tables: bool = False) -> list[Any] | None:
    """A subset of names, as written; None (or blank) means "not given".

    A plain string is one name (names may hold commas, unlike ids, and may start with ``[``); a
    list, or a string that reads as a Python list (a templated list rendered as text,
    ``"['a', 'b']"``), is several. With ``with_tables`` an item may be ``{"name", "tables"}``.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        parsed = _as_list(value)
        if parsed is None:
            return [value]
        value = parsed
    if not isinstance(value, (list, tuple)):
        raise CelonisConfigurationError(
            field, f"is a {type(value).__name__}", "give a name or a list of names"
        )
    shape = "names (text)" + (" or {'name': ..., 'tables': [...]}" if with_tables else "")
    items: list[Any] = []
    for item in value:
        if (
            with_tables
            and isinstance(item, dict)
            and _name_item(item.get("name"))
            and set(item)
            <= {
                "name",
                "tables",
            }
        ):
            tables = _tables(item.get("tables"), field)
            items.append({"name": _name_item(item["name"]), "tables": tables})
        elif (name := _name_item(item)) is not None:
            items.append(name)
        else:
            raise CelonisConfigurationError(field, f"has the item {item!r}", f"use {shape}")
    return items


def distinct(field: str, kind: str, names: Sequence[str], ids: Sequence[str]) -> list[str]:
    """``ids`` unless two names mean one object (sent twice, or a typo hiding another object)."""
    seen: dict[str, str] = {}
    for name, id_ in zip(names, ids, strict=True):
        if id_ in seen:
            raise CelonisConfigurationError(
                field,
                f"names {seen[id_]!r} and {name!r} both mean {kind} {id_}",
                f"give each {kind} once",
            )
        seen[id_] = name
    return list(ids)


def _tables(value: Any, field: str) -> list[str]:
    """An extraction's ``tables`` (names of extraction tables): a list, or names separated by commas."""
    if value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(t, str) and t.strip() for t in value):
        return [t.strip() for t in value]
    raise CelonisConfigurationError(field, f"has the tables {value!r}", "give a list of table names")
