"""``CelonisExecuteDataJobOperator``: start a data job in a data pool and wait for it.

What a green task means: Celonis ran *this* request, started after the task asked (so it
sees the data loaded upstream), exactly once, and it succeeded.

* **Fresh run**: a run already in progress is waited for, then ours starts
  (``if_running="wait"``, the default; see :mod:`airflow_provider_celonis.waiting.run_start`).
* **Identity by ids**: the ids of every execution listed before the start are recorded; ours
  is the one new id, never one seen before, whatever its dates
  (:mod:`airflow_provider_celonis.waiting.decisions`). Several candidates fail closed.
* **No duplicate**: the start POST is never replayed by the hook; a lost answer is reconciled
  by reading the history back.
* **A deferred timeout cancels the remote run**: ``timeout`` is a wall-clock deadline carried
  into the trigger; the deferral has no Airflow ``timeout``, which would fail the task without
  ever coming back to cancel.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_celonis.client.arguments import check_mode, subset_list
from airflow_provider_celonis.compat import conf
from airflow_provider_celonis.lineage.facts import remember
from airflow_provider_celonis.links import JOB_URL_KEY, CelonisDataJobLink
from airflow_provider_celonis.operators._names import NamesInsteadOfIds
from airflow_provider_celonis.waiting.outcomes import (
    blocker_ended,
    check_on_skipped,
    check_target,
    finish_job,
    job_timeout_error,
    run_event,
)
from airflow_provider_celonis.waiting.run_ledger import RunLedger, adopt_job, keep_ledger
from airflow_provider_celonis.waiting.run_start import (
    RunStarter,
    Snapshot,
    check_wait_arguments,
    if_running_option,
    job_snapshot,
)
from airflow_provider_celonis.waiting.status import (
    SUCCESS,
    TIMEOUT,
    as_seconds,
    deadline_after,
    kill_hook_params,
)
from airflow_provider_celonis.waiting.sync_poll import await_job_start, watch_job
from airflow_provider_celonis.waiting.waits import BLOCKER, OWN, JobWait

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

DEFAULT_TIMEOUT = 12 * 3600.0


class CelonisExecuteDataJobOperator(NamesInsteadOfIds, BaseOperator):
    """Execute a Celonis data job (FULL or DELTA) and, by default, wait until it finishes.

    Every parameter is described in docs/data-jobs.md (``CelonisExecuteDataJobOperator``).

    :param data_pool_id: the pool (``.../pools/{poolId}/...`` in the job's UI URL). Templated.
    :param data_job_id: the job (``?jobId=...`` in the job's UI URL). Templated.
    :param data_pool_name: the pool's name instead of its id, resolved when the task runs
        (docs/data-jobs.md, "Names instead of ids"); likewise ``data_job_name``,
        ``transformation_names`` and ``extraction_names``. Templated.
    :param mode: ``DELTA`` (tables changed since the last extraction) or ``FULL``. Templated.
    :param wait_for_completion: wait for the execution to finish; otherwise return once started.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param poll_interval: seconds between status polls.
    :param timeout: wall-clock limit (seconds or timedelta) from the task's start; when it
        passes the remote execution is cancelled and the task fails (``None``: no limit).
    :param cancel_on_kill: cancel the remote execution when the task is killed.
    :param transformations: run only these transformation ids (internal endpoint). Templated.
    :param extractions: only these extractions: ids or ``{"extractionId", "tables"}``. Templated.
    :param data_models: only these data model execution ids (or dicts with ``tables``). Templated.
    :param if_running: a run already QUEUED or RUNNING: ``"wait"`` (default), ``"reuse"``, ``"fail"``.
    :param reuse_running_execution: legacy switch: ``True`` is ``if_running="reuse"``.
    :param on_skipped: a job-level SKIPPED run: ``"skip"`` (default), ``"success"`` or ``"fail"``.
    :param start_grace_period: seconds the new execution may take to appear in the history.
    :param run_ledger: record the started execution (ids only) in an Airflow Variable so that a
        retry after a lost worker adopts it (default ``True``).
    :param celonis_conn_id: the Celonis connection.
    :param hook_params: extra :class:`CelonisDataJobHook` arguments (retry bounds, timeout...).

    Returns (XCom ``return_value``) the execution id. XCom keys pushed right after the start:
    ``celonis_data_pool_id``, ``celonis_data_job_id``, ``celonis_job_url``, and, once
    Celonis shows the execution, ``celonis_execution_id`` and ``celonis_execution_start_ms``.
    """

    template_fields: Sequence[str] = (
        "data_pool_id",
        "data_job_id",
        "mode",
        "transformations",
        "extractions",
        "data_models",
        "data_pool_name",
        "data_job_name",
        "transformation_names",
        "extraction_names",
    )
    name_pairs = ("data_pool", "data_job")
    name_subsets = ("transformation_names", "extraction_names")
    operator_extra_links = (CelonisDataJobLink(),)
    ui_color = "#e3f2fd"

    def __init__(
        self,
        *,
        data_pool_id: str | None = None,
        data_job_id: str | None = None,
        mode: str = "DELTA",
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: timedelta | float | None = DEFAULT_TIMEOUT,
        cancel_on_kill: bool = True,
        transformations: list[str] | None = None,
        extractions: list[Any] | None = None,
        data_models: list[Any] | None = None,
        if_running: str | None = None,
        reuse_running_execution: bool = False,
        on_skipped: str = "skip",
        start_grace_period: float = 120.0,
        run_ledger: bool = True,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        data_pool_name: str | None = None,
        data_job_name: str | None = None,
        transformation_names: list[str] | str | None = None,
        extraction_names: list[Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_pool_id, self.data_pool_name = data_pool_id or "", data_pool_name
        self.data_job_id, self.data_job_name = data_job_id or "", data_job_name
        self.transformation_names, self.extraction_names = transformation_names, extraction_names
        self.mode = mode
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        # Not templated, so checked here: a typo fails at parse time, never after a start.
        self.poll_interval, self.start_grace_period = check_wait_arguments(
            poll_interval, timeout, start_grace_period
        )
        self.timeout = as_seconds(timeout)
        self.cancel_on_kill = cancel_on_kill
        self.transformations = transformations
        self.extractions = extractions
        self.data_models = data_models
        self.check_names()  # exactly one of id and name; a template counts as given
        self.if_running = if_running_option(if_running, reuse_running_execution, "reuse_running_execution")
        self.reuse_running_execution = reuse_running_execution
        self.on_skipped = check_on_skipped(on_skipped)
        self.run_ledger = bool(run_ledger)
        self._ledger: RunLedger | None = None
        self._resume_known: tuple[str, ...] | None = None
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.celonis_url: str | None = None
        self._remote_run_owned = False

    @cached_property
    def hook(self) -> CelonisDataJobHook:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

        return CelonisDataJobHook(self.celonis_conn_id, **self.hook_params)

    # -- start ------------------------------------------------------------------------------
    def execute(self, context: Context) -> str | None:
        self._check_arguments()  # before any call: a typo never reaches Celonis
        self.resolve_names()  # names to ids, logged; before anything is started
        return self._run(context, deadline_after(self.timeout))

    def execute_after_blocker(self, context: Context, event: dict[str, Any]) -> str | None:
        """Resume after the runs in progress ended (deferrable ``if_running="wait"``): start ours."""
        self.resolve_names()
        what = f"Data job {self.data_job_id} in pool {self.data_pool_id}"
        deadline = blocker_ended(event, self.data_pool_id, what, data_job_id=self.data_job_id)
        self._check_arguments()
        return self._run(context, deadline)

    def _run(self, context: Context, deadline: float | None) -> str | None:
        if self.run_ledger:  # deferrable too: a worker lost between the start and the deferral
            self._ledger = RunLedger.for_context(
                context, "data_job", self.data_pool_id, self.data_job_id, self.log
            )
        wait = self._adopt_from_ledger(deadline) or self._start(deadline)
        if self._ledger is not None and wait.execution_id is not None:
            self._ledger.pinned(wait.execution_id, wait.known_ids)
        if wait.role != OWN:
            self._defer(wait, "execute_after_blocker")
        self._remote_run_owned = True
        self.celonis_url = self.hook.job_url(self.data_pool_id, self.data_job_id)
        ti = context["ti"]
        ti.xcom_push(key="celonis_data_pool_id", value=self.data_pool_id)
        ti.xcom_push(key="celonis_data_job_id", value=self.data_job_id)
        ti.xcom_push(key=JOB_URL_KEY, value=self.celonis_url)
        if wait.execution_id is not None:
            self._push_execution(context, wait.execution_id, None)
        if not self.wait_for_completion:
            return self._await_start(context, wait)
        if self.deferrable:
            self._defer(wait, "execute_complete")
        assert isinstance(wait, JobWait)
        return self._finish(context, self._wait_here(context, wait))

    def _check_arguments(self) -> None:
        """Normalize ``mode`` and the subset lists (a comma-separated string is accepted)."""
        self.mode = check_mode(self.mode)
        self.transformations = subset_list(self.transformations, "transformations")
        self.extractions = subset_list(self.extractions, "extractions", "extractionId")
        self.data_models = subset_list(self.data_models, "data_models", "dataModelExecutionId")

    def _warn_reuse_ignores_request(self) -> None:
        asked = [f"mode {self.mode}"] if self.mode != "DELTA" else []
        asked += [name for name, value in self._subset().items() if value is not None]
        if asked:
            self.log.warning(
                "Waiting for the running execution instead of starting a run: the requested %s are "
                "not applied (that run uses whatever it was started with).",
                ", ".join(asked),
            )

    def _snapshot(self) -> Snapshot:
        return job_snapshot(self.hook, self.data_pool_id, self.data_job_id, self.log)

    def _adopt_from_ledger(self, deadline: float | None) -> JobWait | None:
        """An earlier try's execution, found by the id in the run ledger (see waiting/run_ledger.py)."""
        entry = self._ledger.read() if self._ledger is not None else None
        if entry is None or self._ledger is None:
            return None
        if entry.run_id is None:
            self._resume_known = entry.known_ids  # pending: reconciled by the RunStarter
            return None
        return adopt_job(self.hook, self._ledger, entry.run_id, deadline)

    def _start(self, deadline: float | None) -> JobWait:
        """Wait for, reuse or refuse a run in progress; start ours; reconcile a lost answer."""
        pool, job = self.data_pool_id, self.data_job_id
        resume_known, self._resume_known = self._resume_known, None

        def start() -> None:
            self.hook.start_execution(pool, job, self.mode, **self._subset())
            self.log.info("Started data job %s in pool %s (%s).", job, pool, self.mode)

        started = RunStarter(
            what=f"Data job {job} in pool {pool}",
            read=self._snapshot,
            start=start,
            if_running=self.if_running,
            poll_interval=self.poll_interval,
            grace=self.start_grace_period,
            deadline=deadline,
            defer_blockers=self.deferrable,
            log=self.log,
            before_start=self._ledger.pending if self._ledger is not None else None,
            resume_known=resume_known,
        ).run()
        if started.blocked:
            return JobWait(pool, job, role=BLOCKER, deadline=deadline)
        if started.reused:
            self._warn_reuse_ignores_request()
        return JobWait(
            pool,
            job,
            known_ids=started.known,
            execution_id=started.run_id,
            deadline=deadline,
            appear_deadline=None if started.run_id else deadline_after(self.start_grace_period),
        )

    def _subset(self) -> dict[str, Any]:
        return {
            "transformations": self.transformations,
            "extractions": self.extractions,
            "data_models": self.data_models,
        }

    # -- wait -------------------------------------------------------------------------------
    def _defer(self, wait: JobWait, method_name: str) -> None:
        # Lazy: the trigger module (and its hook) is not for DAG parse time.
        from airflow_provider_celonis.triggers.data_jobs import CelonisDataJobExecutionTrigger

        trigger = CelonisDataJobExecutionTrigger(
            wait=wait.to_json(),
            poll_interval=self.poll_interval,
            celonis_conn_id=self.celonis_conn_id,
            hook_params=self.hook_params,
            cancel_on_kill=self.cancel_on_kill and wait.role == OWN,  # never cancel others' runs
        )
        # No ``timeout=`` on purpose: Airflow would fail the task without calling back, leaving
        # the Celonis run alive. The trigger's own deadline brings us back to cancel it.
        self.defer(trigger=trigger, method_name=method_name)

    def _wait_here(self, context: Context, wait: JobWait) -> dict[str, Any]:
        return watch_job(
            self.hook,
            wait,
            poll_interval=self.poll_interval,
            ledger=self._ledger,
            on_found=lambda execution_id, start_ms: self._push_execution(context, execution_id, start_ms),
            log=self.log,
        )

    def _await_start(self, context: Context, wait: JobWait) -> str | None:
        """Fire-and-forget: wait (up to ``start_grace_period``) until our execution is listed.

        Returns its id (also pushed to XCom). A start whose answer was lost and that never
        reached Celonis shows no new execution: that fails, rather than passing as started.
        """
        if wait.execution_id is not None:
            if self._ledger is not None:
                self._ledger.clear()  # fire-and-forget: the task's part ends with the run identified
            return wait.execution_id
        verdict = await_job_start(
            self.hook, wait, poll_interval=min(self.poll_interval, max(self.start_grace_period / 10, 0.05))
        )
        if verdict["status"] != SUCCESS or not verdict.get("execution_id"):
            return self._finish(context, verdict)  # raises: nothing appeared, or the timeout passed
        self._remote_run_owned = False  # fire-and-forget: the task no longer owns the run
        execution_id = str(verdict["execution_id"])
        if self._ledger is not None:
            self._ledger.clear()
        self._push_execution(context, execution_id, verdict.get("start_ms"))
        self.log.info("Data job %s started: execution %s.", wait.data_job_id, execution_id)
        return execution_id

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str | None:
        """Resume after the trigger: map its one event to success, skip, or a typed exception."""
        self.resolve_names_on_resume(event)  # the event must name the objects the names mean now
        check_target(event, self.data_pool_id, data_job_id=self.data_job_id)
        if self.run_ledger:  # so that _finish deletes the entry once the outcome is known
            self._ledger = RunLedger.for_context(
                context, "data_job", self.data_pool_id, self.data_job_id, self.log
            )
        self._remote_run_owned = True
        self.celonis_url = self.hook.job_url(self.data_pool_id, self.data_job_id)
        return self._finish(context, event)

    # -- finish -----------------------------------------------------------------------------
    def _finish(self, context: Context, event: dict[str, Any]) -> str | None:
        run_event(event)  # typed and checked; a malformed event fails closed
        if self._ledger is not None and not keep_ledger(event):
            self._ledger.clear()  # the outcome is known: a retry or a clear starts a fresh run
        if event.get("execution_id"):
            self._push_execution(context, str(event["execution_id"]), event.get("start_ms"))
        try:
            if event["status"] == TIMEOUT:
                raise job_timeout_error(event, self.timeout, *self._cancel())
            return finish_job(event, self.hook, self.on_skipped)
        finally:
            self._remote_run_owned = False

    def _push_execution(self, context: Context, execution_id: str, start_ms: Any) -> None:
        ti = context["ti"]
        ti.xcom_push(key="celonis_execution_id", value=execution_id)
        remember(self, execution_id=execution_id)  # for lineage's externalQuery (docs/lineage.md)
        if start_ms is not None:
            ti.xcom_push(key="celonis_execution_start_ms", value=start_ms)

    def _cancel(self, hook: CelonisDataJobHook | None = None) -> tuple[bool, str | None]:
        """Cancel the job's running execution (safe to repeat); never raises."""
        try:
            (hook or self.hook).cancel_execution(self.data_pool_id, self.data_job_id)
        except Exception as err:
            self.log.error(
                "Could not cancel data job %s in pool %s: %s", self.data_job_id, self.data_pool_id, err
            )
            return False, str(err)
        self.log.warning("Cancelled data job %s in pool %s.", self.data_job_id, self.data_pool_id)
        return True, None

    def on_kill(self) -> None:
        """Best-effort cancel of the execution this task started or joined; never raises."""
        if self.cancel_on_kill and self._remote_run_owned:
            # Lazy: DAG parsing must not import the hook.
            from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

            # Few, short retries: Airflow gives on_kill limited time before it kills the process.
            self._cancel(CelonisDataJobHook(self.celonis_conn_id, **kill_hook_params(self.hook_params)))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the pool the job reads and writes (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_complete
        from airflow_provider_celonis.lineage.reports import data_job_report

        return facets_on_complete(self, data_job_report)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """OpenLineage of a failed run: its inputs and Celonis id, no output (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_failure
        from airflow_provider_celonis.lineage.reports import data_job_report

        return facets_on_failure(self, data_job_report)
