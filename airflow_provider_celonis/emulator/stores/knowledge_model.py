"""The emulated Knowledge Model: records computed by index, OData-like ``filterExpr``, KPIs, sort.

A realistic order-to-cash model: ``ORDER`` (12,000 rows by default, enough to cross the
documented 5,000-record cut of a filtered or sorted table) and ``CUSTOMER`` (250 rows). Rows
are computed from their index, so resets are cheap and every test sees the same data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

KM_ID = "km-order-to-cash"
KM_NAME = "Order to Cash"
STATUSES = ("OPEN", "SHIPPED", "INVOICED", "PAID")
_BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)
FIELDS = {
    "ORDER": {
        "id": "string",
        "customer": "string",
        "amount": "float",
        "status": "string",
        "active": "boolean",
        "created": "datetime",
    },
    "CUSTOMER": {"id": "string", "name": "string", "country": "string"},
}
NAMED_FILTERS = {"open_orders": "status eq 'OPEN'", "high_value": "amount gt 900"}
"""Filters defined in the Knowledge Model, applied by id through the ``filters`` parameter."""
KPIS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "order_value_eur": lambda row: round(float(row.get("amount", 0.0)) * 1.0, 2),
    "is_open": lambda row: row.get("status") == "OPEN",
}
_COUNTRIES = ("DE", "US", "NL", "FR", "JP")
_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$")


def order(i: int) -> dict[str, Any]:
    created = _BASE + timedelta(minutes=10 * i)
    return {
        "id": f"ORD-{i:06d}",
        "customer": f"CUST-{i % 250:04d}",
        "amount": round(((i * 7919) % 100_000) / 100, 2),
        "status": STATUSES[i % 4],
        "active": i % 4 != 3,
        "created": created.isoformat().replace("+00:00", "Z"),
    }


def customer(i: int) -> dict[str, Any]:
    return {"id": f"CUST-{i:04d}", "name": f"Customer {i:04d}", "country": _COUNTRIES[i % len(_COUNTRIES)]}


def rows(record: str, sizes: dict[str, int]) -> list[dict[str, Any]]:
    make = order if record == "ORDER" else customer
    return [make(i) for i in range(sizes[record])]


class QueryError(ValueError):
    """A bad ``fields``, ``filterExpr``, ``filters``, ``kpis`` or ``sort`` (answered with 400)."""


def _literal(text: str) -> Any:
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise QueryError(f"Cannot parse value {text!r} in filterExpr") from None


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and a > b,
    "ge": lambda a, b: a is not None and a >= b,
    "lt": lambda a, b: a is not None and a < b,
    "le": lambda a, b: a is not None and a <= b,
}


def predicate(expr: str, record: str) -> Callable[[dict[str, Any]], bool]:
    """``field op value [and ...]`` with op ``eq ne gt ge lt le``; fields may be ``RECORD.field``."""
    clauses = []
    for part in re.split(r"\s+and\s+", expr.strip()):
        match = _CLAUSE.match(part)
        if not match:
            raise QueryError(f"Unsupported filterExpr clause {part!r}")
        name, op, value = match.group(1), match.group(2), _literal(match.group(3))
        name = name.split(".", 1)[1] if name.startswith(record + ".") else name
        if name not in FIELDS[record]:
            raise QueryError(f"Unknown field {match.group(1)!r} in filterExpr")
        clauses.append((name, _OPS[op], value))

    def test(row: dict[str, Any]) -> bool:
        try:
            return all(check(row.get(name), value) for name, check, value in clauses)
        except TypeError:
            return False

    return test


def split_list(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in str(item).split(",") if v.strip()]


def query(
    record: str,
    sizes: dict[str, int],
    *,
    fields: list[str],
    filter_expr: str | None,
    filters: list[str],
    kpis: list[str],
    sort: str | None,
    qualified: bool,
    max_fields: int,
) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a query and whether it is "filtered or sorted" (so the 5,000 cut applies)."""
    if len(fields) + len(kpis) > max_fields:
        raise QueryError(f"At most {max_fields} fields per request, got {len(fields) + len(kpis)}")
    names = []
    for name in fields or list(FIELDS[record]):
        plain = name.split(".", 1)[1] if name.startswith(record + ".") else name
        if plain not in FIELDS[record]:
            raise QueryError(f"Unknown field {name!r} of record {record}")
        names.append(plain)
    tests = [predicate(filter_expr, record)] if filter_expr else []
    for filter_id in filters:
        if filter_id not in NAMED_FILTERS or record != "ORDER":
            raise QueryError(f"Unknown filter {filter_id!r}")
        tests.append(predicate(NAMED_FILTERS[filter_id], record))
    for kpi in kpis:
        if kpi not in KPIS or record != "ORDER":
            raise QueryError(f"Unknown KPI {kpi!r}")
    found = [r for r in rows(record, sizes) if all(t(r) for t in tests)]
    if sort:
        key = sort.lstrip("+-")
        key = key.split(".", 1)[1] if key.startswith(record + ".") else key
        if key not in FIELDS[record]:
            raise QueryError(f"Unknown sort field {sort!r}")
        found.sort(key=lambda r: (r[key] is None, r[key]), reverse=sort.startswith("-"))
    prefix = f"{record}." if qualified else ""
    shaped = [{**{prefix + n: r[n] for n in names}, **{k: KPIS[k](r) for k in kpis}} for r in found]
    return shaped, bool(tests or sort)
