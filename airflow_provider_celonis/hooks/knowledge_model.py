"""``CelonisKnowledgeModelHook``: Knowledge Model metadata and paged record data under ``/intelligence``.

Documented limits (docs/celonis-api.md 1.4, 5.1): 20 requests/s and 6,000/day per team
(the hook honours the 429's date-time ``X-RateLimit-Reset``), at most 200 fields per request,
and ``/data`` returns only the **first 5,000 records of a filtered or sorted table**. The data
generators stop at that cut instead of asking for pages that cannot come, and warn, because
a silently truncated export is worse than a failed one. Scope: ``studio`` by default (the
Intelligence getting-started page); override with the connection extra ``scopes``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from airflow_provider_celonis.client.apis import KNOWLEDGE_MODEL
from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.client.intelligence_pages import MAX_PAGES, intelligence_pages, read_answer
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

BASE = "/api/knowledge-models"
MODEL = BASE + "/{km_id}"
CUT_LIMIT = 5000
MAX_FIELDS = 200
__all__ = ["BASE", "CUT_LIMIT", "MAX_FIELDS", "MAX_PAGES", "CelonisKnowledgeModelHook", "KmData"]


class KmData:
    """Iterate the rows of one ``/data`` query; afterwards ``total``, ``fetched`` and ``cut`` tell
    what the server reported and whether the 5,000-record cut truncated the result."""

    def __init__(
        self,
        hook: CelonisKnowledgeModelHook,
        call: Call,
        query: dict[str, Any],
        *,
        page_size: int,
        method: str,
        limited: bool,
        cut_limit: int,
    ) -> None:
        self.hook, self.call, self.path, self.query = hook, call, call.path, query
        self.page_size, self.method, self.limited, self.cut_limit = page_size, method, limited, cut_limit
        self.total: int | None = None
        self.fetched = 0
        self.cut = False

    def _page(self, number: int) -> Any:
        what, page = f"Knowledge Model data {self.path}", {"page": number, "pageSize": self.page_size}
        if self.method == "POST":  # a query, not a write: safe to repeat
            kwargs, idempotent = {"json": {**self.query, **page}}, True
        else:
            kwargs, idempotent = {"params": {**self.query, **page}}, None
        call = Call(KNOWLEDGE_MODEL, self.method, self.call.template, self.call.ids, kwargs, idempotent)
        return self.hook.page(what, call)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.total, self.fetched, self.cut = None, 0, False
        what = f"Knowledge Model data {self.path}"
        for body, content in intelligence_pages(self._page, what=what, path=self.path, method=self.method):
            if isinstance(body.get("total"), int):
                self.total = body["total"]
            for row in content:
                self.fetched += 1
                yield row
            if self.limited and self.fetched >= self.cut_limit:
                break  # the server returns no more of a filtered or sorted table
        self._check_cut()

    def _check_cut(self) -> None:
        """Cut when the server counted more rows than came; without a total, when the cut was hit.

        A filtered result of exactly 5,000 rows whose total says 5,000 is complete, not cut.
        """
        at_cut = self.limited and self.fetched >= self.cut_limit
        if self.total is not None and self.total > self.fetched and not at_cut:
            # nothing cuts this result: rows missing against the count are lost, not "cut", and
            # allow_cut must not turn them into a green partial export
            raise CelonisError(
                f"Knowledge Model data {self.path}: {self.fetched} rows came but the server counted "
                f"{self.total} (the table changed while it was paged, or pages came short), so the "
                "export would be incomplete. Nothing was written.",
                fix="re-run; if it repeats, narrow the query (filterExpr) or report it to Celonis support",
            )
        if self.total is not None:
            cut = self.total > self.fetched
        else:
            cut = self.limited and self.fetched >= self.cut_limit
        if not cut and self.limited and self.fetched == self.cut_limit == self.total:
            # complete, unless this server caps ``total`` at the cut too ([guess]): say so, don't fail
            self.hook.log.warning(
                "Knowledge Model data %s returned exactly %d records, the cut limit of a filtered or "
                "sorted table, and a total of %d: complete, unless the server reports a cut result's "
                "total as %d. Narrow the query to be sure.",
                self.path,
                self.fetched,
                self.total,
                self.cut_limit,
            )
        if cut:
            self.cut = True
            self.hook.log.warning(
                "Knowledge Model data %s stopped at %d records (server total: %s): Celonis returns only "
                "the first %d records of a filtered or sorted table. Split the query (e.g. narrower "
                "filterExpr ranges) or drop the sort to get every record.",
                self.path,
                self.fetched,
                self.total,
                self.cut_limit,
            )


class CelonisKnowledgeModelHook(CelonisOAuthHook):
    """Knowledge Model API calls; same arguments as :class:`CelonisOAuthHook`."""

    def page(self, what: str, call: Call) -> Any:
        """One page's decoded body; a 200 that is not JSON is a typed error naming ``what``."""
        with self.call_response(call) as response:
            return read_answer(response, what=what, method=call.method, path=call.path)

    def get_page(self, what: str, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`page` for a path given whole (kept for callers of earlier versions): its ids
        must be percent-encoded already."""
        idempotent = kwargs.pop("idempotent", None)
        literal = path.replace("{", "{{").replace("}", "}}")
        return self.page(what, Call(KNOWLEDGE_MODEL, method, literal, {}, kwargs, idempotent))

    def iter_pages(
        self,
        template: str,
        ids: dict[str, Any] | None = None,
        *,
        page_size: int = 50,
        params: dict[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items of an Intelligence page list (``page`` 0-based, ``{content, total}``) at ``template``
        (a path, or a template whose ``{named}`` ``ids`` are percent-encoded)."""
        path = Call(KNOWLEDGE_MODEL, "GET", template, ids or {}).path
        what = f"Knowledge Model list {path}"

        def fetch(number: int) -> Any:
            query = {**(params or {}), "page": number, "pageSize": page_size}
            return self.page(what, Call(KNOWLEDGE_MODEL, "GET", template, ids or {}, {"params": query}))

        for _body, content in intelligence_pages(fetch, what=what, path=path):
            yield from content

    def list_knowledge_models(self) -> list[dict[str, Any]]:
        return list(self.iter_pages(BASE))

    def get_knowledge_model(self, km_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.call(Call(KNOWLEDGE_MODEL, "GET", MODEL, {"km_id": km_id}))
        return result

    def list_records(self, km_id: str) -> list[dict[str, Any]]:
        return list(self.iter_pages(MODEL + "/records", {"km_id": km_id}))

    def list_kpis(self, km_id: str) -> list[dict[str, Any]]:
        return list(self.iter_pages(MODEL + "/kpis", {"km_id": km_id}))

    def list_filters(self, km_id: str) -> list[dict[str, Any]]:
        return list(self.iter_pages(MODEL + "/filters", {"km_id": km_id}))

    def data(
        self,
        km_id: str,
        *,
        record_id: str | None = None,
        fields: list[str] | None = None,
        filter_expr: str | None = None,
        filters: list[str] | None = None,
        kpis: list[str] | None = None,
        sort: str | None = None,
        page_size: int = 50,
        method: str = "GET",
        cut_limit: int = CUT_LIMIT,
        where: str | None = None,
    ) -> KmData:
        """The rows of the model's ``/data`` (``fields`` as ``RECORD.field``) or of one record's.

        ``fields``, ``filters`` (ids of filters defined in the model) and ``kpis`` go as
        repeated query parameters with GET, or in a ``KmQueryDataRequest`` body with
        ``method="POST"`` (for long field lists). ``where`` (e.g. the task id) prefixes
        configuration errors.
        """
        fields, filters, kpis = list(fields or []), list(filters or []), list(kpis or [])
        if not km_id:
            raise CelonisConfigurationError(
                "knowledge_model_id", "is empty", "give the Knowledge Model's id", where=where
            )
        if record_id is None and not fields:
            raise CelonisConfigurationError(
                "fields",
                "is empty for a model-level query",
                "name RECORD.field ids, or set record_id",
                where=where,
            )
        if len(fields) + len(kpis) > MAX_FIELDS:
            raise CelonisConfigurationError(
                "fields",
                f"and kpis name {len(fields) + len(kpis)} columns",
                f"Celonis allows at most {MAX_FIELDS} per request: split the export",
                where=where,
            )
        if not isinstance(method, str) or method.upper() not in ("GET", "POST"):
            raise CelonisConfigurationError("method", f"is {method!r}", "use GET or POST", where=where)
        if not isinstance(page_size, int) or page_size < 1:
            raise CelonisConfigurationError(
                "page_size", f"is {page_size!r}", "use a positive number, e.g. 500", where=where
            )
        query: dict[str, Any] = {}
        for key, value in (("fields", fields), ("filters", filters), ("kpis", kpis)):
            if value:
                query[key] = value
        if filter_expr:
            query["filterExpr"] = filter_expr
        if sort:
            query["sort"] = sort
        ids = {"km_id": km_id, "record_id": record_id} if record_id else {"km_id": km_id}
        template = MODEL + ("/records/{record_id}/data" if record_id else "/data")
        return KmData(
            self,
            Call(KNOWLEDGE_MODEL, method.upper(), template, ids),
            query,
            page_size=page_size,
            method=method.upper(),
            limited=bool(filter_expr or filters or sort),
            cut_limit=cut_limit,
        )
