"""The desired users of a SCIM sync, read so that a broken HR file can never become a plan.

A file cut while it was written, a row whose columns shifted, a ListResponse that holds one
page of a paged export, the same person twice under Unicode variants of one name: each would
make real people look absent (and get them deactivated) or add junk accounts. Each is a
:class:`CelonisConfigurationError` here, naming the file, the row and the fix, before any
network call. How identities are compared and which names are refused lives in
:mod:`~airflow_provider_celonis.scim.identity` (re-exported here).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.outputs import is_uri
from airflow_provider_celonis.scim.identity import (
    canonical_keys,
    canonical_name,
    check_visible,
    identity,
    nfc,
    protected_names,
    skeleton,
)

if TYPE_CHECKING:
    from airflow_provider_celonis.scim.sync import SyncPlan

__all__ = [
    "canonical_keys",
    "cap",
    "check_caps",
    "check_visible",
    "identity",
    "load_users",
    "nfc",
    "protected_names",
    "read_text",
    "skeleton",
]

DEFAULT_SHARE = 0.10
"""By default a plan may deactivate (or create) at most this share of the active users ..."""
DEFAULT_FLOOR = 3
"""... or this many, whichever is more, so a small team can still lose or gain a person."""


def read_text(path: str, where: str | None = None) -> str:
    """A desired-users file's text (local path or object-storage URI); Excel's BOM is dropped."""
    if is_uri(path):
        # Lazy: object storage (fsspec) is loaded only when a URI is given.
        from airflow.sdk import ObjectStoragePath

        return str(ObjectStoragePath(path).read_text(encoding="utf-8-sig"))
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:  # newline="": CSV sees \r\n as is
            return handle.read()
    except OSError as err:
        raise CelonisConfigurationError(
            "users_file", f"({path}) cannot be read: {err.strerror}", "check the path", where=where
        ) from None
    except UnicodeDecodeError as err:
        raise CelonisConfigurationError(
            "users_file", f"({path}) is not UTF-8 text ({err.reason})", "save it as UTF-8", where=where
        ) from None


def load_users(text: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    """``(where, record)`` pairs of a ``.json``, ``.jsonl`` or ``.csv`` file's text.

    ``where`` names the file and the row (``hr.csv row 7``) for the errors that follow.
    """
    lowered = name.lower()
    text = text.removeprefix("\ufeff")  # a UTF-8 BOM (Excel's CSV export) is not part of the header
    if not text.strip():
        raise CelonisConfigurationError(
            "users_file", f"({name}) is empty", "check the HR export; it must list every user"
        )
    if lowered.endswith(".csv"):
        return _csv(text, name)
    if lowered.endswith((".jsonl", ".ndjson")):
        return _pages(_jsonl(text, name), name)
    try:
        data = json.loads(text)
    except ValueError as err:
        if "Extra data" in str(err):
            raise CelonisConfigurationError(
                "users_file",
                f"({name}) holds more than one JSON value ({err})",
                "if it is JSON Lines (one user per line), name it .jsonl; else export it again",
            ) from None
        raise CelonisConfigurationError(
            "users_file",
            f"({name}) is not complete JSON: {err}",
            "the file may have been cut while it was written: export it again",
        ) from None
    if isinstance(data, dict) and "Resources" in data:
        data = _list_response(data, name)
    if not isinstance(data, list):
        raise CelonisConfigurationError(
            "users_file",
            f"({name}) holds no list of users",
            "write a JSON list, a SCIM ListResponse, JSON Lines or CSV with userName",
        )
    return _pages([(f"{name} item {number}", record) for number, record in enumerate(data, 1)], name)


def _pages(rows: list[tuple[str, Any]], name: str) -> list[tuple[str, Any]]:
    """A paged export (one SCIM ListResponse per item or line) merged, once proven whole."""
    if not rows or not all(isinstance(r, dict) and "Resources" in r for _w, r in rows):
        return rows
    pages = sorted((r for _w, r in rows), key=lambda r: r.get("startIndex") or 0)
    totals = {p.get("totalResults") for p in pages}
    merged: list[tuple[str, Any]] = []
    for page in pages:
        resources = page.get("Resources")
        expected = len(merged) + 1
        if not isinstance(resources, list) or page.get("startIndex") != expected or len(totals) != 1:
            raise CelonisConfigurationError(
                "users_file",
                f"({name}) is a paged SCIM export whose pages do not join up: a page starts at "
                f"{page.get('startIndex')!r} where {expected} was due "
                f"(totalResults {sorted(map(str, totals))})",
                "export every page, with startIndex and totalResults, or merge them into one list",
            )
        start = len(merged)
        merged += [(f"{name} resource {start + n}", item) for n, item in enumerate(resources, 1)]
    (total,) = totals
    if total != len(merged):
        raise CelonisConfigurationError(
            "users_file",
            f"({name}) is a paged SCIM export of {len(pages)} pages holding {len(merged)} users but "
            f"totalResults {total!r}: pages are missing",
            "export every page of the listing (the SCIM export operator does)",
        )
    return merged


def _cut(name: str, what: str) -> CelonisConfigurationError:
    return CelonisConfigurationError(
        "users_file",
        f"({name}) {what}, as a file cut while it was being written does",
        "export the file again; if it is complete, end its last line with a line break",
    )


def _header(row: list[str], name: str) -> list[str]:
    """The header's column names (stripped), checked: each once, compared case-insensitively."""
    header = [column.strip() for column in row]
    folded = [canonical_name(column).casefold() for column in header]
    if not all(header) or len(set(folded)) != len(folded):
        raise CelonisConfigurationError(
            "users_file",
            f"({name}) has an empty or repeated column name in its header {header!r} (column names "
            "are compared case-insensitively)",
            "name each column once (userName, externalId, email, ...)",
        )
    if "username" not in folded:
        hint = (
            "; the header holds semicolons: save the file with commas as the delimiter"
            if any(";" in column for column in header)
            else ""
        )
        raise CelonisConfigurationError(
            "users_file",
            f"({name}) has no userName column in its header {header[:8]!r}{hint}",
            "name the columns in the first line: userName, externalId, email, ...",
        )
    return header


def _csv(text: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    if not text.endswith(("\n", "\r")):
        raise _cut(name, "ends without a line break after its last row")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        first = next((row for row in reader if row and row != [""]), None)  # blank lines before it
        if first is None:
            raise CelonisConfigurationError("users_file", f"({name}) is empty", "check the HR export")
        header = _header(first, name)
        folded_header = [column.casefold() for column in header]
        for row in reader:
            if not row or row == [""]:
                continue  # a blank line is not a user
            where = f"{name} row {reader.line_num}"
            if len(row) != len(header):
                raise CelonisConfigurationError(
                    "users_file",
                    f"({where}) has {len(row)} fields but the header has {len(header)}",
                    'quote values that hold a comma ("Lovelace, Ada") and give every row every column',
                )
            if [value.strip().casefold() for value in row] == folded_header:
                raise CelonisConfigurationError(
                    "users_file",
                    f"({where}) repeats the header: two exports joined into one file?",
                    "export the users once, as one file with one header line",
                )
            rows.append((where, dict(zip(header, row, strict=True))))
    except csv.Error as err:
        line = reader.line_num
        raise _cut(name, f"has a quote that is never closed (from around line {line}: {err})") from None
    return rows


def _jsonl(text: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    if not text.endswith(("\n", "\r")):
        raise _cut(name, "ends without a line break after its last line")
    rows = []
    # only a line feed ends a record: U+2028, NEL and the like are legal inside a JSON string
    for number, line in enumerate(text.split("\n" if "\n" in text else "\r"), 1):
        if not line.strip():
            continue
        try:
            rows.append((f"{name} line {number}", json.loads(line)))
        except ValueError as err:
            raise CelonisConfigurationError(
                "users_file", f"({name} line {number}) is not JSON: {err}", "fix or re-export the file"
            ) from None
    return rows


def _list_response(data: dict[str, Any], name: str) -> Any:
    """The Resources of a SCIM ListResponse that holds the whole listing, else an error."""
    resources = data.get("Resources")
    if not isinstance(resources, list):
        raise CelonisConfigurationError(
            "users_file", f"({name}) has 'Resources' that is not a list", "export the users again"
        )
    total, start = data.get("totalResults"), data.get("startIndex", 1)
    if total is None and ("startIndex" in data or "itemsPerPage" in data):
        raise CelonisConfigurationError(
            "users_file",
            f"({name}) is a page of a SCIM listing ({len(resources)} users, startIndex {start}) without "
            "totalResults, so nothing proves it holds the whole team",
            "export every page with a server that reports totalResults (the SCIM export operator "
            'checks it), or give a plain JSON list or {"Resources": [...]} without paging fields',
        )
    if (total is not None and (not isinstance(total, int) or total != len(resources))) or start not in (
        1,
        None,
    ):
        raise CelonisConfigurationError(
            "users_file",
            f"({name}) is a SCIM ListResponse with {len(resources)} users (startIndex {start}) but "
            f"totalResults {total!r}: one page of a paged export, not the whole team",
            "export every page and merge them into one list (the SCIM export operator does)",
        )
    return resources


# -- caps: how much one run may change -----------------------------------------------------
def cap(value: Any, field_name: str, active: int, where: str | None = None) -> int:
    """The most changes allowed: ``None`` is the default share, an int a count, ``"25%"`` a share.

    Shares are of the team's currently active users, rounded down; the default never goes below
    :data:`DEFAULT_FLOOR`.
    """
    if value is None:
        return max(DEFAULT_FLOOR, math.floor(active * DEFAULT_SHARE))
    text = value.strip() if isinstance(value, str) else None
    if text and not text.isascii():
        text = "not a number"  # a superscript or another script's digit is not a count anyone meant
    if text and text.endswith("%"):
        try:
            share = float(text[:-1])
        except ValueError:
            share = -1.0
        if math.isfinite(share) and 0 <= share <= 100:
            return math.floor(active * share / 100)
    elif text is not None and text.isdigit():
        return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise CelonisConfigurationError(
        field_name,
        f"is {value!r}",
        'give a count (e.g. 5), a share of the active users (e.g. "25%") or None for the default '
        f"({DEFAULT_SHARE:.0%}, at least {DEFAULT_FLOOR})",
        where=where,
    )


def check_caps(
    plan: SyncPlan, active: int, max_deactivations: Any, max_creations: Any, where: str | None = None
) -> None:
    """Record in ``plan.refused`` each cap the plan exceeds (see :func:`cap`).

    A deactivation is any change that leaves an active user inactive: a leaver absent from the
    input, and an update to ``active: false`` (a file marking every row inactive locks the team
    out as surely as an empty one). The default deactivation cap is also never more than half
    the active users, so the floor cannot let a small team be emptied.
    """
    switched_off = sum(1 for item in plan.update if item.diff.get("active") is False)
    for name, value, planned, what in (
        ("max_deactivations", max_deactivations, len(plan.deactivate) + switched_off, "deactivates"),
        ("max_creations", max_creations, len(plan.create), "creates"),
    ):
        limit = cap(value, name, active, where)
        if value is None and name == "max_deactivations":
            limit = min(limit, active // 2)
        if planned > limit:
            given = "the default" if value is None else f"{value!r}"
            plan.refused.append(
                f"the plan {what} {planned} users but {name} ({given}) allows {limit} of {active} "
                "active users"
            )
