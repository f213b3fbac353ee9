"""Nightly usage extracts: Audit Log, Login History, Studio Adoption and Team Members to files.

Each operator pulls one data interval (by default the run's ``data_interval_start`` to
``data_interval_end``) so a daily DAG with catchup backfills history as one delta load per
run; records are ordered by timestamp and de-duplicated, so re-running an interval rewrites
the same bytes. See :class:`~airflow_provider_celonis.operators._extract.CelonisExtractOperator`
for the shared parameters and docs/usage-extracts.md for scopes and the [guess] settings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.operators._extract import CelonisExtractOperator

if TYPE_CHECKING:
    from airflow_provider_celonis.hooks.usage import CelonisUsageHook

__all__ = [
    "CelonisAuditLogOperator",
    "CelonisLoginHistoryOperator",
    "CelonisStudioAdoptionOperator",
    "CelonisTeamMembersOperator",
]


class CelonisAuditLogOperator(CelonisExtractOperator):
    """Audit Log events of the window. Scope ``audit.log:read``, permission "Use Audit Log API".

    :param api_version: 1 (page numbers, default) or 2 (``pageToken`` cursor, recommended by
        Celonis for new code; its parameter names are a [guess], see the docs).
    """

    columns = ("timestamp", "event", "userId", "userRole", "ipAddress", "port", "message", "diffPayload")

    def __init__(self, *, api_version: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api_version = api_version

    def _check_options(self) -> None:
        self._check_api_version()

    def fetch(
        self, hook: CelonisUsageHook, start: datetime, end: datetime, **paging: Any
    ) -> Iterator[dict[str, Any]]:
        return hook.iter_audit_log(start, end, api_version=self.api_version, **self.paging(paging))


class CelonisLoginHistoryOperator(CelonisExtractOperator):
    """Login History events of the window. Scope ``team.login-history:read``, permission
    "Use Login History API", and Login History enabled in Admin & Settings."""

    columns = ("timestamp", "authenticationEventType", "email", "success")
    time_resolution = 1.0  # the API takes whole seconds

    def fetch(
        self, hook: CelonisUsageHook, start: datetime, end: datetime, **paging: Any
    ) -> Iterator[dict[str, Any]]:
        return hook.iter_login_history(start, end, **self.paging(paging))


class CelonisStudioAdoptionOperator(CelonisExtractOperator):
    """Platform (Studio) Adoption tracking events of the window.

    Scope ``platform-adoption.tracking-events:read``, permission "Studio Adoption APIs", and the
    Studio tracking service switched on. The API's parameters are a [guess]:

    :param api_version: 1 (page numbers, default) or 2 (cursor).
    :param asset_type: path segment, ``STUDIO_ASSET`` (the only known value).
    :param timestamp_field: the events' time field, used for the window and the order.
    :param param_names: renames of ``pageNumber``, ``pageSize``, ``from``, ``to``.
    :param extra_params: further query parameters, sent as given.
    """

    template_fields: Sequence[str] = (*CelonisExtractOperator.template_fields, "extra_params")
    time_resolution = 1.0
    """[guess] The API's resolution is undocumented: whole seconds is the safe assumption (sub-window
    bounds at 1 ms lose events on a server that reads seconds); ``time_resolution=`` changes it."""

    def __init__(
        self,
        *,
        api_version: int = 1,
        asset_type: str = "STUDIO_ASSET",
        timestamp_field: str = "timestamp",
        param_names: dict[str, str] | None = None,
        extra_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.api_version = api_version
        self.asset_type = asset_type
        self.timestamp_field = timestamp_field
        self.sort_field = timestamp_field
        self.param_names = dict(param_names or {})
        self.extra_params = dict(extra_params or {})
        self.columns = (timestamp_field, "eventType", "assetType", "assetId", "assetName", "userId")

    def _check_options(self) -> None:
        self._check_api_version()
        known = ("pageNumber", "pageSize", "from", "to")
        unknown = sorted(set(self.param_names) - set(known))
        if unknown:
            raise CelonisConfigurationError(
                "param_names", f"has unknown keys {unknown}", f"rename only {list(known)}", where=self.task_id
            )
        if not isinstance(self.timestamp_field, str) or not self.timestamp_field:
            raise CelonisConfigurationError(
                "timestamp_field",
                f"is {self.timestamp_field!r}",
                "name the events' time field, e.g. timestamp",
                where=self.task_id,
            )

    def fetch(
        self, hook: CelonisUsageHook, start: datetime, end: datetime, **paging: Any
    ) -> Iterator[dict[str, Any]]:
        return hook.iter_studio_adoption(
            start,
            end,
            api_version=self.api_version,
            asset_type=self.asset_type,
            param_names=self.param_names,
            timestamp_field=self.timestamp_field,
            extra_params=self.extra_params,
            **self.paging(paging),
        )


class CelonisTeamMembersOperator(CelonisExtractOperator):
    """A snapshot of the team's members, ordered by ``userId``. Scope ``team.user-group-info:read``,
    permission "Use User Group Info API". No window: ``start`` and ``end`` are ignored and
    returned as None. ``lastLogin`` stays a display string; ``lastLoginIso`` is added when it parses.

    :param include_internal: also list internal members (sent as the required ``includeInternal``).
    """

    windowed = False
    sort_field = "userId"
    columns = (
        "userId",
        "nameAndEmail",
        "status",
        "userRole",
        "lastLogin",
        "lastLoginIso",
        "inactivityPeriod",
        "group",
    )

    def __init__(self, *, include_internal: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.include_internal = include_internal

    def sort_key(self, record: dict[str, Any]) -> str:
        return str(record.get("userId") or "").replace("\t", " ").replace("\n", " ")

    def fetch(
        self, hook: CelonisUsageHook, start: datetime, end: datetime, **paging: Any
    ) -> Iterator[dict[str, Any]]:
        return hook.iter_team_members(include_internal=self.include_internal, **self.paging(paging))
