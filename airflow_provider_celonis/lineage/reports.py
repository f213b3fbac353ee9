"""What each operator reports, read from the operator when its task completes.

One function per operator family, each returning a :class:`~.facts.Lineage` built from the
operator's rendered arguments and the facts it kept while it ran (:func:`~.facts.remember`):

* extracts (usage APIs, SCIM export, Knowledge Model export): the API in, the final
  ``output_path`` out with its record count; a run that wrote nothing reports no output;
* data push: the source files in (the files the plan resolved; after a deferral, which starts
  a fresh operator, the ``source`` arguments, a glob as its folder), the pool table out with
  the rows and bytes pushed;
* data job: its pool in and out; data model reload: its pool in, the data model out.

The team host comes from URLs the operators build anyway (``celonis_url``,
``celonis_pool_url``, the hook's team URL), never from a new connection lookup.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.lineage.facts import (
    FACTS_ATTRIBUTE,
    Lineage,
    data_job_lineage,
    data_model_lineage,
    extract_lineage,
    push_lineage,
)

__all__ = [
    "api_names",
    "data_job_report",
    "data_model_report",
    "extract_report",
    "push_report",
    "source_items",
]

_API_OF_CLASS = {
    "CelonisAuditLogOperator": "audit-log",
    "CelonisLoginHistoryOperator": "login-history",
    "CelonisStudioAdoptionOperator": "studio-adoption",
    "CelonisTeamMembersOperator": "team-members",
}
_GLOB = frozenset("*?[")


def _facts(operator: Any) -> dict[str, Any]:
    facts = getattr(operator, FACTS_ATTRIBUTE, None)
    return facts if isinstance(facts, dict) else {}


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def api_names(operator: Any) -> list[str]:
    """The dataset names of the API(s) an export operator reads (its class, or a base class)."""
    for cls in type(operator).__mro__:
        if cls.__name__ in _API_OF_CLASS:
            return [_API_OF_CLASS[cls.__name__]]
        if cls.__name__ == "CelonisScimExportOperator":
            return [f"scim/{r}" for r in getattr(operator, "scim_resources", ("Users", "Groups"))]
        if cls.__name__ == "CelonisKnowledgeModelDataOperator":
            name = f"knowledge-models/{operator.knowledge_model_id}"
            record = _text(getattr(operator, "record_id", None))
            return [f"{name}/records/{record}" if record else name]
    return [type(operator).__name__]


def extract_report(operator: Any) -> Lineage:
    facts = _facts(operator)
    return extract_lineage(
        _text(facts.get("team_url")), api_names(operator), _text(facts.get("output")), facts.get("records")
    )


def source_items(source: Any) -> list[str]:
    """A push's ``source`` argument as dataset URIs without I/O: a glob becomes its folder."""
    items = source if isinstance(source, (list, tuple)) else [source]
    found: list[str] = []
    for item in items:
        text = str(item).strip() if item is not None else ""
        if not text:
            continue
        if _GLOB & set(text):
            parts = text.split("/")
            first = next(i for i, part in enumerate(parts) if _GLOB & set(part))
            text = "/".join(parts[:first]) or "."
        if text not in found:
            found.append(text)
    return found


def push_report(operator: Any) -> Lineage:
    facts = _facts(operator)
    sources = facts.get("sources")
    if not isinstance(sources, list):
        sources = source_items(getattr(operator, "source", None))
    pool, table = (
        _text(getattr(operator, "data_pool_id", None)),
        _text(getattr(operator, "target_table", None)),
    )
    if pool is None or table is None:  # a pool name never resolved (the run failed before)
        return push_lineage(None, "", "", sources=sources)  # the sources only
    return push_lineage(
        _text(getattr(operator, "celonis_pool_url", None)) or _text(facts.get("team_url")),
        pool,
        table,
        data_connection_id=_text(getattr(operator, "data_connection_id", None)),
        sources=sources,
        rows=facts.get("rows"),
        size=facts.get("bytes"),
        job_id=_text(facts.get("job_id")),
    )


def data_job_report(operator: Any) -> Lineage:
    pool = _text(getattr(operator, "data_pool_id", None))  # resolved from data_pool_name at run time
    if pool is None:
        return Lineage()  # a name that was never resolved (the run failed before): nothing to name
    return data_job_lineage(
        _text(getattr(operator, "celonis_url", None)), pool, _text(_facts(operator).get("execution_id"))
    )


def data_model_report(operator: Any) -> Lineage:
    pool = _text(getattr(operator, "data_pool_id", None))
    model = _text(getattr(operator, "data_model_id", None))
    if pool is None or model is None:
        return Lineage()
    return data_model_lineage(
        _text(getattr(operator, "celonis_url", None)), pool, model, _text(_facts(operator).get("load_id"))
    )
