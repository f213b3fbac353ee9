"""``CelonisReloadDataModelOperator``: reload a process data model and wait for the load.

Same guarantees as the data job operator where the API allows: the load counted is one
newer than the ``currentComputeLoad`` recorded before the request (new ``dataLoadId``, not
started before it), unknown statuses fail, the wall-clock ``timeout`` works in both modes.
Celonis offers no cancel for loads, so a timeout fails the task and leaves the load running
(logged), and ``on_kill`` has nothing to cancel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_celonis.compat import conf
from airflow_provider_celonis.links import DATA_MODEL_URL_KEY, CelonisDataModelLink
from airflow_provider_celonis.status import as_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_celonis.decisions import LoadWait
    from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook
    from airflow_provider_celonis.status import RunMarker


class CelonisReloadDataModelOperator(BaseOperator):
    """Reload a data model completely, from cache, or partially, and by default wait for it.

    :param data_pool_id: the pool. Templated.
    :param data_model_id: the data model. Templated.
    :param full_reload: ``True`` reloads every table; ``False`` reloads from cache.
    :param tables: table ids to reload completely, the rest from cache (``load/partial-sync``). Templated.
    :param wait_for_completion: wait for the load to finish.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param poll_interval: seconds between status polls.
    :param timeout: wall-clock limit of the wait (seconds or timedelta); then the task fails.
    :param start_grace_period: seconds the new load has to appear in ``load-info-sync`` ([guess]).
    :param reuse_running_load: when a load is already RUNNING (a retry after a lost worker),
        wait for that load instead of requesting another. Off by default: a load started
        before fresh data arrived (a schedule, an earlier data job) would not contain it.
    :param celonis_conn_id: the Celonis connection.
    :param hook_params: extra :class:`CelonisDataModelHook` arguments.

    Returns the data load id. WARNING counts as success and is logged with Celonis's message.
    """

    template_fields: Sequence[str] = ("data_pool_id", "data_model_id", "tables")
    operator_extra_links = (CelonisDataModelLink(),)
    ui_color = "#e8f5e9"

    def __init__(
        self,
        *,
        data_pool_id: str,
        data_model_id: str,
        full_reload: bool = True,
        tables: list[str] | None = None,
        reuse_running_load: bool = False,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: timedelta | float | None = 6 * 3600.0,
        start_grace_period: float = 120.0,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_pool_id = data_pool_id
        self.data_model_id = data_model_id
        self.full_reload = full_reload
        self.tables = tables
        self.reuse_running_load = reuse_running_load
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = as_seconds(timeout)
        self.start_grace_period = float(start_grace_period)
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.celonis_url: str | None = None

    @cached_property
    def hook(self) -> CelonisDataModelHook:
        from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook

        return CelonisDataModelHook(self.celonis_conn_id, **self.hook_params)

    def execute(self, context: Context) -> str | None:
        from airflow_provider_celonis.decisions import LoadWait, current_load
        from airflow_provider_celonis.hooks.data_jobs import subset_list
        from airflow_provider_celonis.status import RunMarker, deadline_after

        # Before any call; a comma-separated (or rendered) string is a list, never characters.
        self.tables = subset_list(self.tables, "tables")
        deadline = deadline_after(self.timeout)
        before = current_load(self.hook.get_load_info(self.data_pool_id, self.data_model_id))
        marker = self._marker(before)
        running_id = before.get("dataLoadId") if before else None
        reuse = bool(
            before
            and str(before.get("loadStatus")).upper() == "RUNNING"
            and self.reuse_running_load
            and running_id is not None
        )
        if reuse:
            self.log.warning(
                "Data model %s is already loading (load %s); waiting for that load instead of "
                "requesting another (reuse_running_load=True; its tables and mode are its own).",
                self.data_model_id,
                running_id,
            )
        else:
            if before and str(before.get("loadStatus")).upper() == "RUNNING":
                self.log.warning(
                    "Data model %s is already loading (load %s); requesting a reload anyway.",
                    self.data_model_id,
                    running_id,
                )
            self._request_load()
        self.celonis_url = self.hook.data_model_url(self.data_pool_id, self.data_model_id)
        ti = context["ti"]
        ti.xcom_push(key="celonis_data_pool_id", value=self.data_pool_id)
        ti.xcom_push(key="celonis_data_model_id", value=self.data_model_id)
        ti.xcom_push(key=DATA_MODEL_URL_KEY, value=self.celonis_url)
        if not self.wait_for_completion:
            return None
        wait = LoadWait(
            self.data_pool_id,
            self.data_model_id,
            RunMarker() if reuse else marker,
            deadline=deadline,
            appear_deadline=None if reuse else deadline_after(self.start_grace_period),
            data_load_id=str(running_id) if reuse else None,
        )
        if self.deferrable:
            self._defer(wait)
        return self._finish(context, self._wait_here(wait))

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

    @staticmethod
    def _marker(before: dict[str, Any] | None) -> RunMarker:
        """What was current before the request; tolerates a load without ``dataLoadId``.

        Without an id, the previous load is told apart by its start alone: only a load that
        started strictly later counts as new (so the previous one is never taken for ours).
        """
        from airflow_provider_celonis.status import RunMarker, to_epoch_ms

        if not before:
            return RunMarker()
        load_id = before.get("dataLoadId")
        if load_id is not None:
            return RunMarker(str(load_id), before.get("startDate"))
        start = to_epoch_ms(before.get("startDate"))
        return RunMarker(None, None if start is None else start + 1)

    def _defer(self, wait: LoadWait) -> None:
        from airflow_provider_celonis.triggers.data_models import CelonisDataModelLoadTrigger

        # No Airflow ``timeout=``: the trigger's own deadline reports back, as for data jobs.
        self.defer(
            trigger=CelonisDataModelLoadTrigger(
                wait=wait.to_dict(),
                poll_interval=self.poll_interval,
                celonis_conn_id=self.celonis_conn_id,
                hook_params=self.hook_params,
            ),
            method_name="execute_complete",
        )

    def _wait_here(self, wait: LoadWait) -> dict[str, Any]:
        from airflow_provider_celonis.decisions import judge_load
        from airflow_provider_celonis.sync_poll import poll_until_done

        return poll_until_done(
            lambda: self.hook.get_load_info(wait.data_pool_id, wait.data_model_id),
            lambda info: judge_load(info, wait),
            poll_interval=self.poll_interval,
            deadline=wait.deadline,
            ids={"data_pool_id": wait.data_pool_id, "data_model_id": wait.data_model_id},
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str | None:
        self.celonis_url = self.hook.data_model_url(self.data_pool_id, self.data_model_id)
        return self._finish(context, event)

    def _finish(self, context: Context, event: dict[str, Any]) -> str | None:
        from airflow_provider_celonis.exceptions import CelonisJobTimeoutError
        from airflow_provider_celonis.outcomes import check_event, finish_load
        from airflow_provider_celonis.status import TIMEOUT

        if check_event(event).get("data_load_id"):
            context["ti"].xcom_push(key="celonis_data_load_id", value=event["data_load_id"])
        if event["status"] == TIMEOUT:
            raise CelonisJobTimeoutError(
                f"Data model {self.data_model_id} in pool {self.data_pool_id}: {event['message']} "
                f"(timeout {self.timeout} s). Celonis has no cancel for loads: it may still be running.",
                execution_id=event.get("data_load_id"),
                cancelled=False,
                fix="raise the operator's timeout, or check the load in the data model's load history",
            )
        return finish_load(event)
