"""SCIM operators: export users and groups for access reviews; sync users from an HR system.

Scope ``user-provisioning.scim``, permission "SCIM" (user-provisioning service). The SCIM
prefix is a [guess] between two documented values: see :mod:`airflow_provider_celonis.hooks.scim`
and docs/scim.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisError
from airflow_provider_celonis.operators._extract import CelonisExtractOperator
from airflow_provider_celonis.scim.apply import apply_plan
from airflow_provider_celonis.scim.identity import identity, protected_names
from airflow_provider_celonis.scim.inputs import cap, check_caps, load_users, read_text
from airflow_provider_celonis.scim.sync import MATCH_KEYS, SyncPlan, desired_users, plan_sync

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_celonis.hooks.scim import CelonisScimHook

__all__ = ["CelonisScimExportOperator", "CelonisScimSyncUsersOperator"]
_TYPES = {"Users": "User", "Groups": "Group"}


class CelonisScimExportOperator(CelonisExtractOperator):
    """All SCIM users and groups of the team in one file, for an access review or a warehouse.

    Each record is the SCIM resource with a top-level ``resourceType`` (``User`` or ``Group``)
    added, ordered by type then id; users carry their ``groups``, groups their ``members``.
    Output options are those of the usage extracts (``output_path`` templated; ``jsonl``,
    ``csv``, ``parquet``; atomic write; local path or object-storage URI). There is no time
    window and no ``read_ahead``: SCIM pages are read one after the other.

    :param scim_resources: which of ``Users`` and ``Groups`` to export (default both).
    :param filter_expr: a SCIM filter applied to every listed resource, e.g.
        ``'userName eq "ada@example.com"'`` (the emulator supports ``eq`` on ``userName``,
        ``externalId``, ``displayName`` and ``id``).
    :param page_size: SCIM ``count`` per request (default 100; servers may return fewer).
    """

    template_fields: Sequence[str] = ("output_path", "filter_expr")
    windowed = False
    columns = ("resourceType", "id", "userName", "displayName", "externalId", "active", "name", "emails")

    def __init__(
        self,
        *,
        scim_resources: Sequence[str] = ("Users", "Groups"),
        filter_expr: str | None = None,
        page_size: int = 100,
        **kwargs: Any,
    ) -> None:
        if "read_ahead" in kwargs:
            raise CelonisConfigurationError(
                "read_ahead",
                "is not an option of the SCIM export (its pages are read one after the other)",
                "remove read_ahead",
                where=kwargs.get("task_id"),
            )
        super().__init__(page_size=page_size, read_ahead=0, **kwargs)
        self.scim_resources = tuple(scim_resources)
        self.filter_expr = filter_expr

    def _validate(self, context: Context) -> tuple[str, datetime | None, datetime | None]:
        unknown = [r for r in self.scim_resources if r not in _TYPES]
        if unknown or not self.scim_resources:
            raise CelonisConfigurationError(
                "scim_resources",
                f"is {list(self.scim_resources)!r}",
                "use Users, Groups or both",
                where=self.task_id,
            )
        return super()._validate(context)

    def _check_paging(self) -> None:
        if not isinstance(self.page_size, int) or isinstance(self.page_size, bool) or self.page_size < 1:
            raise CelonisConfigurationError(
                "page_size",
                f"is {self.page_size!r}",
                "use a positive SCIM count (default 100; the server may return fewer per page)",
                where=self.task_id,
            )

    def make_hook(self) -> CelonisScimHook:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.scim import CelonisScimHook

        return CelonisScimHook(self.celonis_conn_id, **self.hook_params)

    def sort_key(self, record: dict[str, Any]) -> str:
        return f"{record.get('resourceType', '')}/{record.get('id', '')}".replace("\t", " ").replace(
            "\n", " "
        )

    def fetch(self, hook: CelonisScimHook, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Page through each SCIM resource type (``start`` and ``end`` are unused: no window)."""
        for resource in self.scim_resources:
            for item in hook.iter_resources(
                resource, filter_expr=self.filter_expr or None, count=self.page_size
            ):
                yield {"resourceType": _TYPES[resource], **item}


class CelonisScimSyncUsersOperator(BaseOperator):
    """Make the team's SCIM users match a desired list: create, update, optionally deactivate.

    Safety first (docs/scim.md opens with these rules): a broken input (a file cut while it was
    written, a row with a missing or extra field, one page of a paged export, the same person
    twice under Unicode variants) fails before any call; identities are compared in Unicode
    NFC, trimmed and case-folded; a desired user whose e-mail or ``externalId`` belongs to an
    existing user of another ``userName`` is reported as a conflict, never deactivated and
    re-created; when the server's listing does not add up, nobody is deactivated in that run;
    and a plan that deactivates or creates more than 10% of the active users (at least 3) is
    refused unless the caps are raised.

    The plan (creates, updates, deactivations, conflicts, with reasons) is logged as a table
    and pushed as XCom ``plan`` before anything is written, then applied unless ``dry_run``
    (which shows exactly what apply would do, including a refusal). Only attributes the desired
    records set are managed. Users are never deleted. A rerun after a partial apply only makes
    what is still missing. Returns the plan's summary: ``create``, ``update``, ``deactivate``,
    ``unchanged``, ``conflicts``, ``deactivations_withheld``, ``withheld_because``, ``refused``,
    ``changes`` (one row per change) and ``dry_run``.

    :param users: desired users, a list (e.g. an XCom from an HR extract) or its JSON text.
    :param users_file: or a ``.json``/``.jsonl``/``.csv`` file (local path or object-storage URI).
    :param match_on: ``userName`` (default) or ``externalId``.
    :param deactivate_missing: deactivate active users absent from the desired set.
    :param protected_users: ``userName`` values never deactivated (e.g. break-glass admins); a
        single string is one user.
    :param max_deactivations: most deactivations a plan may hold: a count, a share of the active
        users as ``"25%"``, or ``None`` (default: 10% of the active users, at least 3, never more
        than half of them). Rows setting ``active: false`` count as deactivations too.
    :param max_creations: the same cap for creations (default likewise).
    :param rename_conflicts: rename the existing user to the desired ``userName`` when they share
        an e-mail or ``externalId``, instead of reporting the conflict and failing.
    :param update_method: ``patch`` (PatchOp, default) or ``put`` (whole resource), a [guess]
        about what the team accepts.
    :param dry_run: log the plan and change nothing.
    """

    template_fields: Sequence[str] = (
        "users",
        "users_file",
        "is_dry_run",
        "deactivate_missing",
        "max_deactivations",
        "max_creations",
    )
    ui_color = "#c7e3b2"

    def __init__(
        self,
        *,
        users: list[dict[str, Any]] | str | None = None,
        users_file: str | None = None,
        match_on: str = "userName",
        deactivate_missing: bool = False,
        protected_users: Sequence[str] | str = (),
        max_deactivations: int | str | None = None,
        max_creations: int | str | None = None,
        rename_conflicts: bool = False,
        update_method: str = "patch",
        dry_run: bool = False,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.users = users
        self.users_file = users_file
        self.match_on = match_on
        self.deactivate_missing = deactivate_missing
        # a single name given as a string is one user, not its characters
        self.protected_users: Any = (
            (protected_users,) if isinstance(protected_users, str) else protected_users
        )
        self.max_deactivations = max_deactivations
        self.max_creations = max_creations
        self.rename_conflicts = rename_conflicts
        self.update_method = update_method
        self.is_dry_run = dry_run  # BaseOperator.dry_run is a method
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})

    # -- input -----------------------------------------------------------------------------
    def _protected(self) -> frozenset[str]:
        return protected_names(self.protected_users, self.task_id)

    def _flag(self, name: str) -> bool:
        value = getattr(self, name)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            field = "dry_run" if name == "is_dry_run" else name
            raise CelonisConfigurationError(field, f"is {value!r}", "use True or False", where=self.task_id)
        return value

    def desired(self) -> dict[str, dict[str, Any]]:
        """Validate every argument and the desired users; no network call happens before this passes."""
        if self.match_on not in MATCH_KEYS:
            raise CelonisConfigurationError(
                "match_on", f"is {self.match_on!r}", f"use one of {', '.join(MATCH_KEYS)}", where=self.task_id
            )
        if self.update_method not in ("patch", "put"):
            raise CelonisConfigurationError(
                "update_method", f"is {self.update_method!r}", "use patch or put", where=self.task_id
            )
        cap(self.max_deactivations, "max_deactivations", 0, self.task_id)
        cap(self.max_creations, "max_creations", 0, self.task_id)
        self._flag("rename_conflicts")
        self._protected()
        given = [self.users not in (None, ""), bool(self.users_file)]
        if given.count(True) != 1:
            raise CelonisConfigurationError(
                "users",
                "and users_file are both set or both empty",
                "pass exactly one of them",
                where=self.task_id,
            )
        wheres: list[str] | None = None
        if self.users_file:
            rows = load_users(read_text(str(self.users_file), self.task_id), str(self.users_file))
            records: Any = [record for _where, record in rows]
            wheres = [where for where, _record in rows]
        else:
            records = self.users
        desired = desired_users(records, self.match_on, wheres=wheres)
        if not desired and self._flag("deactivate_missing"):
            raise CelonisConfigurationError(
                "users",
                "is empty while deactivate_missing is on, which would deactivate every user",
                "check the HR export; to really deactivate everyone, do it in Celonis",
                where=self.task_id,
            )
        return desired

    # -- run -------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.scim import CelonisScimHook

        desired = self.desired()
        dry_run, deactivate = self._flag("is_dry_run"), self._flag("deactivate_missing")
        hook = CelonisScimHook(self.celonis_conn_id, **self.hook_params)
        listing = hook.list_resources("Users")
        current = listing.resources
        plan = plan_sync(
            desired,
            current,
            match_on=self.match_on,
            deactivate_missing=deactivate,
            protected=self._protected(),
            listing_problem=listing.problem,
            rename_conflicts=self._flag("rename_conflicts"),
        )
        self._warn_unknown_protected(current)
        active = sum(1 for user in current if user.get("active", True) is not False)
        check_caps(plan, active, self.max_deactivations, self.max_creations, self.task_id)
        self._log_plan(plan, len(desired), len(current), dry_run)
        summary = {**plan.summary(), "dry_run": dry_run}
        ti = context.get("ti") if hasattr(context, "get") else None
        if ti is not None:  # for review before anything is written, also when apply refuses
            ti.xcom_push(key="plan", value=summary)
        if plan.refused and not dry_run:
            field = next(
                f
                for f in ("protected_users", "max_deactivations", "max_creations", "")
                if f in plan.refused[0]
            )
            raise CelonisConfigurationError(
                field or "users",
                "refuses the plan: " + "; ".join(plan.refused),
                "read the plan in the log (or XCom 'plan'): if the desired users are wrong (a truncated "
                "export?), fix them; if the plan is right, raise the cap for this run, e.g. "
                'max_deactivations="50%"',
                where=self.task_id,
            )
        if not dry_run and not plan.empty:
            self._apply(hook, plan, {str(u["id"]): u for u in current})
        if not dry_run:
            self._fail_if_incomplete(plan)
        return summary

    def _warn_unknown_protected(self, current: list[dict[str, Any]]) -> None:
        """A protected entry that names nobody protects nobody: a typo there must show."""
        known = {identity(u.get("userName", "")) for u in current}
        unknown = sorted(self._protected() - known)
        if unknown:
            self.log.warning(
                "protected_users %s name no user of the team (userName compared case-insensitively): "
                "they protect nobody; check the spelling",
                unknown,
            )

    def _fail_if_incomplete(self, plan: SyncPlan) -> None:
        """After applying the rest: a conflict or withheld deactivations mean the team does not match."""
        problem = plan.incomplete()
        if problem:
            raise CelonisError(
                f"SCIM sync applied the other changes, but {problem}.",
                fix="for a conflict, fix the HR data or set rename_conflicts=True to rename the existing "
                "user; for an inconsistent listing, re-run (the team may have changed while it was read)",
            )

    def _log_plan(self, plan: SyncPlan, desired: int, current: int, dry_run: bool) -> None:
        mode = "DRY RUN, nothing will change" if dry_run else "applying"
        if plan.refused:
            mode = "REFUSED, nothing will change" if not dry_run else "DRY RUN; apply would refuse it"
        counts = plan.counts()
        self.log.info(
            "SCIM sync plan (%s): %d desired, %d in Celonis -> create %d, update %d, deactivate %d, "
            "unchanged %d, conflicts %d, deactivations withheld %d",
            mode,
            desired,
            current,
            counts["create"],
            counts["update"],
            counts["deactivate"],
            counts["unchanged"],
            len(plan.conflicts),
            len(plan.held),
        )
        for line in plan.table():
            self.log.info("  %s", line)
        for reason in plan.refused:
            self.log.warning("Refused: %s", reason)
        if plan.held_reason:
            self.log.warning(
                "No deactivation in this run: the SCIM listing is not consistent (%s)", plan.held_reason
            )

    def _apply(self, hook: CelonisScimHook, plan: SyncPlan, current: dict[str, dict[str, Any]]) -> None:
        apply_plan(hook, plan, current, update_method=self.update_method, log=self.log)
