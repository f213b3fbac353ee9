"""Generators over Celonis usage APIs: Audit Log, Login History, Studio Adoption, Team Members.

Usable directly from ``@task`` code (``for event in hook.iter_audit_log(start, end): ...``) and
by the extract operators. Each generator pages through one fixed window ``[start, end)``:
it never moves ``from`` to the last timestamp seen, because several events share a
millisecond and such clients lose records (docs/celonis-api.md section 2.1). Records outside
the window are dropped client-side, so the window is half-open whatever the server's bound
inclusivity, and consecutive intervals never overlap.

Pages may repeat records when events arrive during pagination and pages are unordered; the
generators yield what the API returned (possibly with duplicates) and the operators order and
de-duplicate. Retries, 429 waits and token re-grants happen in :class:`CelonisOAuthHook`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_celonis.client.apis import (
    AUDIT_LOG,
    LOGIN_HISTORY,
    PLATFORM_ADOPTION,
    TEAM_MEMBERS,
    CelonisApi,
)
from airflow_provider_celonis.client.arguments import check_window, to_utc
from airflow_provider_celonis.client.timestamps import (
    canonical_ts,
    iso_ms,
    local_seconds,
    parse_display_time,
    timestamp_ms,
)
from airflow_provider_celonis.client.usage_pages import PageCheck, RawPage, decode_json
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.read_ahead import read_ahead as read_ahead_pages
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

__all__ = [
    "CelonisUsageHook",
    "canonical_ts",
    "check_window",
    "decode_json",
    "parse_display_time",
    "timestamp_ms",
    "to_utc",
]

Record = dict[str, Any]
DEFAULT_ADOPTION_PARAMS = {"pageNumber": "pageNumber", "pageSize": "pageSize", "from": "from", "to": "to"}


def _raw(response: Any) -> RawPage:
    return RawPage(response.status_code, response.headers.get("content-type", ""), response.content)


def _widened(begin: datetime, finish: datetime, margin: float) -> tuple[datetime, datetime]:
    """The window asked of the server: ``margin`` seconds more on each side (trimmed afterwards)."""
    if margin < 0:
        raise CelonisConfigurationError("margin", f"is {margin!r}", "give 0 or more seconds")
    extra = timedelta(seconds=margin)
    return begin - extra, finish + extra


class CelonisUsageHook(CelonisOAuthHook):
    """:class:`CelonisOAuthHook` plus paging generators for the usage APIs.

    Each generator requests only its own API's scope, so a client allowed just
    ``audit.log:read`` can pull the audit log.

    ``pacer`` (an :class:`~airflow_provider_celonis.extracts.concurrency.AdaptiveLimit`), when
    set, gates every page request of every thread and sees every answer (429s included): the
    extract operators set it while they pull sub-windows concurrently on this one hook (one
    session, one token).
    """

    pacer: Any = None

    def connection_extra(self, name: str) -> Any:
        """One extra of the connection as written (e.g. ``settle_period`` for the extract
        operators), or None. Looked up at run time only, like the rest of the connection."""
        raw = self.get_connection(self.celonis_conn_id).extra
        try:
            extra = json.loads(raw) if isinstance(raw, str) and raw else {}
        except ValueError:
            return None  # get_config reports malformed extras with the field and the fix
        return extra.get(name) if isinstance(extra, dict) else None

    # -- paging styles ---------------------------------------------------------------------
    def _get_page(self, api: CelonisApi, path: str, params: Mapping[str, Any]) -> RawPage:
        """One page as received; through :attr:`pacer` when one is set."""
        pacer = self.pacer
        if pacer is None:
            with self.request("GET", path, api=api, params=params) as response:
                return _raw(response)
        with (
            pacer.slot(),
            self.request("GET", path, api=api, params=params, hooks={"response": pacer.observe}) as response,
        ):
            return _raw(response)

    def _page_number_pages(
        self,
        api: CelonisApi,
        path: str,
        params: Mapping[str, Any],
        page_size: int,
        names: Mapping[str, str] = DEFAULT_ADOPTION_PARAMS,
        read_ahead: int = 0,
    ) -> Iterator[list[Record]]:
        """0-based ``pageNumber`` pages until an empty ``content`` or a 204.

        ``totalCount`` is not trusted (whether it counts items or pages is undocumented) and a
        short page does not end the loop, since a server may clamp ``pageSize``. Every page is
        judged by :class:`PageCheck` (a repeated page, another ``pageNumber``, a missing list,
        a body that is not JSON are errors). With ``read_ahead`` pages are fetched that many
        ahead in a thread (see :mod:`..read_ahead`).
        """

        def query(number: int) -> dict[str, Any]:
            return {**params, names["pageNumber"]: number, names["pageSize"]: page_size}

        def answers() -> Iterator[RawPage]:
            for number in itertools.count():
                yield self._get_page(api, path, query(number))

        check = PageCheck(api, path)
        raw_pages = read_ahead_pages(answers, read_ahead) if read_ahead > 0 else answers()
        try:
            for number, raw in enumerate(raw_pages):
                content, _ = check.records(raw, requested_number=number)
                if not content:
                    return
                yield content
        finally:
            close = getattr(raw_pages, "close", None)
            if close is not None:
                close()

    def _cursor_pages(
        self,
        api: CelonisApi,
        path: str,
        params: Mapping[str, Any],
        page_size: int,
        size_name: str = "pageSize",
        read_ahead: int = 0,
    ) -> Iterator[list[Record]]:
        """``pageToken`` -> ``nextPageToken`` pages; stop when the token is absent, null or empty.

        A token seen before, or a page that repeats the previous one, is an error. The next
        request needs this page's token, so with ``read_ahead`` the worker thread decodes the
        pages too.
        """
        if read_ahead > 0:
            yield from read_ahead_pages(
                lambda: self._cursor_pages(api, path, params, page_size, size_name), read_ahead
            )
            return
        token: str | None = None
        seen: set[str] = set()
        check = PageCheck(api, path, fix="report this to Celonis support; pull with api_version=1 meanwhile")
        while True:
            query = {**params, size_name: page_size}
            if token:
                query["pageToken"] = token
            raw = self._get_page(api, path, query)
            content, body = check.records(raw)
            if content:
                yield content
            token = body.get("nextPageToken") if isinstance(body, dict) else None
            if token is None or token == "":  # absent, null or empty: the last page
                return
            # Anything else must be a new string: 0, false or [] are a changed API, not an end.
            if not isinstance(token, str) or token in seen:
                raise check.fail(
                    raw,
                    f"its nextPageToken {str(token)[:40]!r} was already used (or is not a string): "
                    "the cursor does not advance, so paging would never end",
                )
            seen.add(token)

    @staticmethod
    def _within(
        pages: Iterator[list[Record]], field: str, start: datetime, end: datetime
    ) -> Iterator[Record]:
        """Records of the pages whose ``field`` lies in ``[start, end)``; unparseable ones are kept."""
        low, high = iso_ms(start), iso_ms(end)
        for page in pages:
            for record in page:
                ts = canonical_ts(record.get(field)) if isinstance(record, dict) else None
                if ts is None or low <= ts < high:
                    yield record

    # -- APIs ------------------------------------------------------------------------------
    def iter_audit_log(
        self,
        start: datetime | str,
        end: datetime | str,
        *,
        api_version: int = 1,
        page_size: int = 200,
        read_ahead: int = 0,
        margin: float = 0.0,
    ) -> Iterator[Record]:
        """Audit Log events with ``start <= timestamp < end`` (v1 page numbers or v2 cursor).

        ``read_ahead`` (every generator): fetch up to that many pages ahead in a thread while
        the caller works on the current one (0, the default: plain sequential paging).
        ``margin`` (every windowed generator): ask for that many seconds more on each side and
        trim them client-side, so an event exactly at ``start`` or ``end`` is placed right
        whichever bound the server includes (the concurrent extracts pass the API's time
        resolution between sub-windows).
        """
        begin, finish = check_window(start, end)
        if begin == finish:
            return
        low, high = _widened(begin, finish, margin)
        window = {"from": iso_ms(low), "to": iso_ms(high)}
        if api_version == 1:
            pages = self._page_number_pages(
                AUDIT_LOG, "/api/external/audit", window, page_size, read_ahead=read_ahead
            )
        elif api_version == 2:
            pages = self._cursor_pages(
                AUDIT_LOG, "/api/external/v2/audit", window, page_size, read_ahead=read_ahead
            )
        else:
            raise CelonisConfigurationError("api_version", f"is {api_version!r}", "use 1 or 2")
        yield from self._within(pages, "timestamp", begin, finish)

    def iter_login_history(
        self,
        start: datetime | str,
        end: datetime | str,
        *,
        page_size: int = 200,
        read_ahead: int = 0,
        margin: float = 0.0,
    ) -> Iterator[Record]:
        """Login History events with ``start <= timestamp < end``.

        The API takes whole seconds without a zone (UTC assumed [guess]); the window is widened
        to whole seconds and trimmed back client-side. A 204 is an empty page.
        """
        begin, finish = check_window(start, end)
        if begin == finish:
            return
        low, high = _widened(begin, finish, margin)
        window = {"from": local_seconds(low), "to": local_seconds(high, ceil=True)}
        pages = self._page_number_pages(
            LOGIN_HISTORY, "/api/external/authentication-events", window, page_size, read_ahead=read_ahead
        )
        yield from self._within(pages, "timestamp", begin, finish)

    def iter_studio_adoption(
        self,
        start: datetime | str,
        end: datetime | str,
        *,
        api_version: int = 1,
        page_size: int = 200,
        asset_type: str = "STUDIO_ASSET",
        param_names: Mapping[str, str] | None = None,
        timestamp_field: str = "timestamp",
        extra_params: Mapping[str, Any] | None = None,
        read_ahead: int = 0,
        margin: float = 0.0,
    ) -> Iterator[Record]:
        """Platform (Studio) Adoption tracking events with ``start <= <timestamp_field> < end``.

        [guess] The adoption API's parameters and event schema are undocumented: the defaults
        assume the Audit Log's (``pageNumber``, ``pageSize``, ``from``, ``to``; field
        ``timestamp``). ``param_names`` renames any of them, e.g. ``{"from": "startDate"}``;
        ``extra_params`` adds query parameters; ``timestamp_field`` names the event's time.
        """
        begin, finish = check_window(start, end)
        if begin == finish:
            return
        names = {**DEFAULT_ADOPTION_PARAMS, **(param_names or {})}
        unknown = sorted(set(names) - set(DEFAULT_ADOPTION_PARAMS))
        if unknown:
            raise CelonisConfigurationError(
                "param_names", f"has unknown keys {unknown}", f"rename only {sorted(DEFAULT_ADOPTION_PARAMS)}"
            )
        low, high = _widened(begin, finish, margin)
        params = {**(extra_params or {}), names["from"]: iso_ms(low), names["to"]: iso_ms(high)}
        if api_version == 1:
            path = f"/api/external/adoption-tracking-events/{asset_type}"
            pages = self._page_number_pages(PLATFORM_ADOPTION, path, params, page_size, names, read_ahead)
        elif api_version == 2:
            path = f"/api/external/v2/adoption-tracking-events/{asset_type}"
            pages = self._cursor_pages(
                PLATFORM_ADOPTION, path, params, page_size, names["pageSize"], read_ahead
            )
        else:
            raise CelonisConfigurationError("api_version", f"is {api_version!r}", "use 1 or 2")
        yield from self._within(pages, timestamp_field, begin, finish)

    def iter_team_members(
        self, *, include_internal: bool = True, page_size: int = 200, read_ahead: int = 0
    ) -> Iterator[Record]:
        """Every team member (a snapshot). ``lastLogin`` stays as given (a display string such as
        ``"12/10/2023, 6:49:07 AM UTC"``); ``lastLoginIso`` is added when it parses."""
        params = {"includeInternal": "true" if include_internal else "false"}
        path = "/api/external/members"
        for page in self._page_number_pages(TEAM_MEMBERS, path, params, page_size, read_ahead=read_ahead):
            for member in page:
                if isinstance(member, dict):
                    iso = parse_display_time(member.get("lastLogin"))
                    if iso is not None:
                        member["lastLoginIso"] = iso
                yield member
