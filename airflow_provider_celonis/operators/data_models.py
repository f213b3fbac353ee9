"""``CelonisReloadDataModelOperator``: reload a process data model and wait for the load.

Same guarantees as the data job operator where the API allows: a load in progress (RUNNING,
LOST_CONNECTION or CANCELLING) is waited for before ours is requested (``if_running``); ours is
a ``dataLoadId`` that ``load-info-sync`` did not list before the request (current load and load
history), never one seen before; a lost answer to the request is reconciled by reading the
loads back; unknown statuses fail; the wall-clock ``timeout`` works in both modes. Celonis
offers no cancel for loads, so a timeout fails the task and leaves the load running (logged),
and ``on_kill`` has nothing to cancel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_celonis.client.arguments import subset_list
from airflow_provider_celonis.compat import conf
from airflow_provider_celonis.exceptions import CelonisJobTimeoutError
from airflow_provider_celonis.lineage.facts import remember
from airflow_provider_celonis.links import DATA_MODEL_URL_KEY, CelonisDataModelLink
from airflow_provider_celonis.operators._names import NamesInsteadOfIds
from airflow_provider_celonis.waiting.outcomes import blocker_ended, check_target, finish_load, run_event
from airflow_provider_celonis.waiting.run_ledger import RunLedger, adopt_load, keep_ledger
from airflow_provider_celonis.waiting.run_start import (
    RunStarter,
    Snapshot,
    check_wait_arguments,
    if_running_option,
    load_snapshot,
)
from airflow_provider_celonis.waiting.status import TIMEOUT, as_seconds, deadline_after
from airflow_provider_celonis.waiting.sync_poll import watch_load
from airflow_provider_celonis.waiting.waits import BLOCKER, LoadWait

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook


class CelonisReloadDataModelOperator(NamesInsteadOfIds, BaseOperator):
    """Reload a data model completely, from cache, or partially, and by default wait for it.

    :param data_pool_id: the pool. Templated.
    :param data_model_id: the data model. Templated.
    :param data_pool_name: the pool's name instead of ``data_pool_id`` (exactly one of the two),
        resolved when the task runs (docs/data-jobs.md, "Names instead of ids"). Templated.
    :param data_model_name: the model's name instead of ``data_model_id``. Templated.
    :param table_names: table names or aliases instead of ``tables``. Templated.
    :param full_reload: ``True`` reloads every table; ``False`` reloads from cache.
    :param tables: table ids to reload completely, the rest from cache (``load/partial-sync``). Templated.
    :param wait_for_completion: wait for the load to finish.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param poll_interval: seconds between status polls.
    :param timeout: wall-clock limit of the wait (seconds or timedelta); then the task fails.
    :param start_grace_period: seconds the new load has to appear in ``load-info-sync`` ([guess]),
        and the time given to find it after a request whose answer was lost.
    :param if_running: when a load is in progress (RUNNING, LOST_CONNECTION, CANCELLING):
        ``"wait"`` (default) for it to end, then request ours; ``"reuse"`` it as this task's (it
        may miss data loaded upstream); ``"fail"`` at once.
    :param reuse_running_load: legacy switch: ``True`` is ``if_running="reuse"``.
    :param run_ledger: record the load this task instance requested in an
        Airflow Variable (``celonis_run_ledger__...``, ids only) so that a retry after a lost
        worker adopts it instead of loading twice (:mod:`airflow_provider_celonis.waiting.run_ledger`).
        Default ``True``; ``False`` turns it off.
    :param celonis_conn_id: the Celonis connection.
    :param hook_params: extra :class:`CelonisDataModelHook` arguments.

    Returns the data load id. WARNING counts as success and is logged with Celonis's message.
    """

    template_fields: Sequence[str] = (
        "data_pool_id",
        "data_model_id",
        "tables",
        "data_pool_name",
        "data_model_name",
        "table_names",
    )
    name_pairs = ("data_pool", "data_model")
    name_subsets = ("table_names",)
    operator_extra_links = (CelonisDataModelLink(),)
    ui_color = "#e8f5e9"

    def __init__(
        self,
        *,
        data_pool_id: str | None = None,
        data_model_id: str | None = None,
        full_reload: bool = True,
        tables: list[str] | None = None,
        if_running: str | None = None,
        reuse_running_load: bool = False,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: timedelta | float | None = 6 * 3600.0,
        start_grace_period: float = 120.0,
        run_ledger: bool = True,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        data_pool_name: str | None = None,
        data_model_name: str | None = None,
        table_names: list[str] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_pool_id, self.data_pool_name = data_pool_id or "", data_pool_name
        self.data_model_id, self.data_model_name = data_model_id or "", data_model_name
        self.full_reload = full_reload
        self.tables, self.table_names = tables, table_names
        self.check_names()  # exactly one of id and name; a template counts as given
        self.if_running = if_running_option(if_running, reuse_running_load, "reuse_running_load")
        self.reuse_running_load = reuse_running_load
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        # Not templated, so checked here: a typo fails at parse time, never after a request.
        self.poll_interval, self.start_grace_period = check_wait_arguments(
            poll_interval, timeout, start_grace_period
        )
        self.timeout = as_seconds(timeout)
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.celonis_url: str | None = None
        self.run_ledger = bool(run_ledger)
        self._ledger: RunLedger | None = None

    @cached_property
    def hook(self) -> CelonisDataModelHook:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook

        return CelonisDataModelHook(self.celonis_conn_id, **self.hook_params)

    def execute(self, context: Context) -> str | None:
        self._check_tables()
        self.resolve_names()  # names to ids, logged; before anything is requested
        return self._run(context, deadline_after(self.timeout))

    def _check_tables(self) -> None:
        """Before any call; a comma-separated (or rendered) string is a list, never characters."""
        self.tables = subset_list(self.tables, "tables")

    def execute_after_blocker(self, context: Context, event: dict[str, Any]) -> str | None:
        """Resume after the load in progress ended (deferrable ``if_running="wait"``): request ours."""
        self.resolve_names()
        what = f"Data model {self.data_model_id} in pool {self.data_pool_id}"
        deadline = blocker_ended(event, self.data_pool_id, what, data_model_id=self.data_model_id)
        self._check_tables()
        return self._run(context, deadline)

    def _run(self, context: Context, deadline: float | None) -> str | None:
        pool, model = self.data_pool_id, self.data_model_id
        if self.run_ledger:  # deferrable too: a worker lost between the request and the deferral
            self._ledger = RunLedger.for_context(context, "data_model", pool, model, self.log)
        entry = self._ledger.read() if self._ledger is not None else None
        if self._ledger is not None and entry is not None and entry.run_id is not None:
            adopted = adopt_load(self.hook, self._ledger, entry.run_id, deadline)
            if isinstance(adopted, dict):
                return self._finish(context, adopted)
            if adopted is not None:
                if self.deferrable:
                    self._defer(adopted, "execute_complete")
                return self._finish(context, self._wait_here(adopted))
            entry = None
        started = RunStarter(
            what=f"Data model {model} in pool {pool}",
            read=self._snapshot,
            start=self._request_load,
            if_running=self.if_running,
            poll_interval=self.poll_interval,
            grace=self.start_grace_period,
            deadline=deadline,
            defer_blockers=self.deferrable,
            log=self.log,
            before_start=self._ledger.pending if self._ledger is not None else None,
            resume_known=entry.known_ids if entry is not None else None,
        ).run()
        if self._ledger is not None and started.run_id is not None:
            self._ledger.pinned(started.run_id, started.known)
        if started.blocked:
            self._defer(LoadWait(pool, model, role=BLOCKER, deadline=deadline), "execute_after_blocker")
        self.celonis_url = self.hook.data_model_url(pool, model)
        ti = context["ti"]
        ti.xcom_push(key="celonis_data_pool_id", value=pool)
        ti.xcom_push(key="celonis_data_model_id", value=model)
        ti.xcom_push(key=DATA_MODEL_URL_KEY, value=self.celonis_url)
        if not self.wait_for_completion:
            if self._ledger is not None:
                self._ledger.clear()  # fire-and-forget: the task's part ends with the request
            return started.run_id
        wait = LoadWait(
            pool,
            model,
            known_ids=started.known,
            data_load_id=started.run_id,
            deadline=deadline,
            appear_deadline=None if started.run_id else deadline_after(self.start_grace_period),
        )
        if self.deferrable:
            self._defer(wait, "execute_complete")
        return self._finish(context, self._wait_here(wait))

    def _snapshot(self) -> Snapshot:
        return load_snapshot(self.hook, self.data_pool_id, self.data_model_id)

    def _request_load(self) -> None:
        self.hook.start_load(
            self.data_pool_id,
            self.data_model_id,
            full_reload=self.full_reload,
            tables=list(self.tables) if self.tables else None,
        )
        kind = "partial" if self.tables else ("complete" if self.full_reload else "from cache")
        self.log.info(
            "Requested a %s reload of data model %s in pool %s.", kind, self.data_model_id, self.data_pool_id
        )

    def _defer(self, wait: LoadWait, method_name: str) -> None:
        # Lazy: the trigger module (and its hook) is not for DAG parse time.
        from airflow_provider_celonis.triggers.data_models import CelonisDataModelLoadTrigger

        # No Airflow ``timeout=``: the trigger's own deadline reports back, as for data jobs.
        self.defer(
            trigger=CelonisDataModelLoadTrigger(
                wait=wait.to_json(),
                poll_interval=self.poll_interval,
                celonis_conn_id=self.celonis_conn_id,
                hook_params=self.hook_params,
            ),
            method_name=method_name,
        )

    def _wait_here(self, wait: LoadWait) -> dict[str, Any]:
        return watch_load(self.hook, wait, poll_interval=self.poll_interval, ledger=self._ledger)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str | None:
        self.resolve_names_on_resume(event)  # the event must name the objects the names mean now
        check_target(event, self.data_pool_id, data_model_id=self.data_model_id)
        if self.run_ledger:  # so that _finish deletes the entry once the outcome is known
            self._ledger = RunLedger.for_context(
                context, "data_model", self.data_pool_id, self.data_model_id, self.log
            )
        self.celonis_url = self.hook.data_model_url(self.data_pool_id, self.data_model_id)
        return self._finish(context, event)

    def _finish(self, context: Context, event: dict[str, Any]) -> str | None:
        checked = run_event(event)  # typed and checked; a malformed event fails closed
        if self._ledger is not None and not keep_ledger(event):
            self._ledger.clear()  # the outcome is known: a retry or a clear requests a fresh load
        if checked.data_load_id:
            context["ti"].xcom_push(key="celonis_data_load_id", value=event["data_load_id"])
            remember(self, load_id=checked.data_load_id)  # for lineage's externalQuery (docs/lineage.md)
        if event["status"] == TIMEOUT:
            raise CelonisJobTimeoutError(
                f"Data model {self.data_model_id} in pool {self.data_pool_id}: {event['message']} "
                f"(timeout {self.timeout} s). Celonis has no cancel for loads: it may still be running.",
                execution_id=event.get("data_load_id"),
                cancelled=False,
                fix="raise the operator's timeout, or check the load in the data model's load history",
            )
        return finish_load(event)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the pool in, the data model out (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_complete
        from airflow_provider_celonis.lineage.reports import data_model_report

        return facets_on_complete(self, data_model_report)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """OpenLineage of a failed run: its inputs and Celonis id, no output (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_failure
        from airflow_provider_celonis.lineage.reports import data_model_report

        return facets_on_failure(self, data_model_report)
