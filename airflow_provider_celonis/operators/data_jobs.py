"""``CelonisExecuteDataJobOperator``: start a data job in a data pool and wait for it.

The failures users of comparable providers keep reporting, and what this operator does
instead:

* **Duplicate runs on retry**: before starting, it looks at the job's execution history;
  if an execution is QUEUED or RUNNING (a retry after a lost worker, a Celonis schedule) and
  ``reuse_running_execution`` is set, it waits for that one instead of starting another.
  The execute POST is never replayed by the hook once it may have reached Celonis.
* **The previous run's status read as the new one's**: it records the newest execution
  before starting and only counts an execution that is not that one and did not start
  before it (:func:`~airflow_provider_celonis.status.belongs_to_new_run`).
* **A deferred timeout that leaves the remote job running**: ``timeout`` is a wall-clock
  deadline carried into the trigger; the trigger reports ``timeout`` and the operator
  cancels the remote execution, then fails. The deferral has no Airflow ``timeout``,
  which would fail the task without ever coming back to cancel.
* **A trigger that dies on a network blip**: the trigger keeps polling through transient
  errors until the deadline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_celonis.compat import conf
from airflow_provider_celonis.links import JOB_URL_KEY, CelonisDataJobLink
from airflow_provider_celonis.status import as_seconds

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_celonis.decisions import JobWait
    from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

DEFAULT_TIMEOUT = 12 * 3600.0


class CelonisExecuteDataJobOperator(BaseOperator):
    """Execute a Celonis data job (FULL or DELTA) and, by default, wait until it finishes.

    :param data_pool_id: the pool (from the job's UI URL ``.../pools/{poolId}/...``). Templated.
    :param data_job_id: the job (``?jobId=...`` in the job's UI URL). Templated.
    :param mode: ``DELTA`` (tables changed since the last extraction) or ``FULL``. Templated.
    :param wait_for_completion: wait for the execution to finish; otherwise return once started.
    :param deferrable: wait in the triggerer instead of holding a worker slot; defaults to
        ``[operators] default_deferrable``.
    :param poll_interval: seconds between status polls.
    :param timeout: wall-clock limit (seconds or timedelta) of the wait, counted from the
        task's start; when it passes the remote execution is cancelled and the task fails.
        ``None`` waits without limit (not recommended).
    :param cancel_on_kill: cancel the remote execution when the task is killed.
    :param transformations: run only these transformation ids (uses the internal
        execute-with-configuration endpoint). Templated.
    :param extractions: run only these extractions: ids or ``{"extractionId", "tables"}``. Templated.
    :param data_models: load only these data models: data model execution ids or
        ``{"dataModelExecutionId", "tables"}``. Templated.
    :param reuse_running_execution: if the job is already QUEUED or RUNNING, wait for that
        execution instead of starting one (otherwise fail with CelonisJobAlreadyRunningError).
    :param start_grace_period: seconds the new execution has to appear in the execution
        history after the execute call ([guess] Celonis may show the previous run for a while).
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
    )
    operator_extra_links = (CelonisDataJobLink(),)
    ui_color = "#e3f2fd"

    def __init__(
        self,
        *,
        data_pool_id: str,
        data_job_id: str,
        mode: str = "DELTA",
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: timedelta | float | None = DEFAULT_TIMEOUT,
        cancel_on_kill: bool = True,
        transformations: list[str] | None = None,
        extractions: list[Any] | None = None,
        data_models: list[Any] | None = None,
        reuse_running_execution: bool = True,
        start_grace_period: float = 120.0,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data_pool_id = data_pool_id
        self.data_job_id = data_job_id
        self.mode = mode
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = as_seconds(timeout)
        self.cancel_on_kill = cancel_on_kill
        self.transformations = transformations
        self.extractions = extractions
        self.data_models = data_models
        self.reuse_running_execution = reuse_running_execution
        self.start_grace_period = float(start_grace_period)
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.celonis_url: str | None = None
        self._remote_run_owned = False

    @cached_property
    def hook(self) -> CelonisDataJobHook:
        from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook

        return CelonisDataJobHook(self.celonis_conn_id, **self.hook_params)

    # -- start ------------------------------------------------------------------------------
    def execute(self, context: Context) -> str | None:
        from airflow_provider_celonis.status import deadline_after

        self._check_arguments()  # before any call: a typo never reaches Celonis
        deadline = deadline_after(self.timeout)
        wait = self._start_or_reuse(deadline)
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
            self._defer(wait)
        return self._finish(context, self._wait_here(context, wait))

    def _check_arguments(self) -> None:
        """Normalize ``mode`` and the subset lists (a comma-separated string is accepted)."""
        from airflow_provider_celonis.hooks.data_jobs import check_mode, subset_list

        self.mode = check_mode(self.mode)
        self.transformations = subset_list(self.transformations, "transformations")
        self.extractions = subset_list(self.extractions, "extractions", "extractionId")
        self.data_models = subset_list(self.data_models, "data_models", "dataModelExecutionId")

    def _warn_reuse_ignores_request(self, what: str) -> None:
        asked = [f"mode {self.mode}"] if self.mode != "DELTA" else []
        asked += [name for name, value in self._subset().items() if value is not None]
        if asked:
            self.log.warning(
                "Waiting for %s instead of starting a run: the requested %s are not applied "
                "(that run uses whatever it was started with). Set reuse_running_execution=False "
                "to fail instead.",
                what,
                ", ".join(asked),
            )

    def _start_or_reuse(self, deadline: float | None) -> JobWait:
        """Reuse a running execution, or record the newest one and start a new run."""
        from airflow_provider_celonis.decisions import JobWait, execution_id_of
        from airflow_provider_celonis.exceptions import (
            CelonisConflictError,
            CelonisJobAlreadyRunningError,
            CelonisRequestMaybeSentError,
        )
        from airflow_provider_celonis.status import (
            DataJobExecutionStatus,
            RunMarker,
            deadline_after,
            newest,
        )

        pool, job = self.data_pool_id, self.data_job_id
        items = self.hook.list_executions(pool, job)
        latest = newest(items)
        marker = RunMarker(execution_id_of(latest), latest.get("startDate")) if latest else RunMarker()
        running = newest(
            [i for i in items if (s := DataJobExecutionStatus.parse(i.get("status"))) and s.in_progress]
        )
        job_status = DataJobExecutionStatus.parse((self.hook.get_job_status(pool, job) or {}).get("status"))
        if running is not None or (job_status is not None and job_status.in_progress):
            if not self.reuse_running_execution:
                now_doing = job_status.value if job_status else "RUNNING"
                raise CelonisJobAlreadyRunningError(
                    f"Data job {job} in pool {pool} is already {now_doing}.",
                    fix="wait for it to finish, or set reuse_running_execution=True to wait for it",
                )
            if running is not None:
                self.log.info(
                    "Data job %s is already running (execution %s); waiting for it instead of "
                    "starting a second one.",
                    job,
                    execution_id_of(running),
                )
                self._warn_reuse_ignores_request(f"execution {execution_id_of(running)}")
                return JobWait(pool, job, execution_id=execution_id_of(running), deadline=deadline)
            # Celonis says running, but the history does not show it yet: wait for any execution
            # newer than the newest one listed (never the previous, finished one).
            self.log.info("Data job %s is already running; waiting for that execution.", job)
            self._warn_reuse_ignores_request("the running execution")
            return JobWait(
                pool, job, marker, deadline=deadline, appear_deadline=deadline_after(self.start_grace_period)
            )
        try:
            self.hook.start_execution(pool, job, self.mode, **self._subset())
            self.log.info("Started data job %s in pool %s (%s).", job, pool, self.mode)
        except CelonisRequestMaybeSentError as err:
            self.log.warning(
                "Watching the execution history to find out whether the job started "
                "(the execute call's answer was lost: %s)",
                err,
            )
        except CelonisConflictError as err:
            if not self.reuse_running_execution:
                raise
            self.log.warning(
                "Celonis refused the start because the job is running (%s); waiting for that execution.", err
            )
            self._warn_reuse_ignores_request("the running execution")
        return JobWait(
            pool, job, marker, deadline=deadline, appear_deadline=deadline_after(self.start_grace_period)
        )

    def _subset(self) -> dict[str, Any]:
        return {
            "transformations": self.transformations,
            "extractions": self.extractions,
            "data_models": self.data_models,
        }

    # -- wait -------------------------------------------------------------------------------
    def _defer(self, wait: JobWait) -> None:
        from airflow_provider_celonis.triggers.data_jobs import CelonisDataJobExecutionTrigger

        trigger = CelonisDataJobExecutionTrigger(
            wait=wait.to_dict(),
            poll_interval=self.poll_interval,
            celonis_conn_id=self.celonis_conn_id,
            hook_params=self.hook_params,
            cancel_on_kill=self.cancel_on_kill,
        )
        # No ``timeout=`` on purpose: Airflow would fail the task without calling back, leaving
        # the Celonis run alive. The trigger's own deadline brings us back to cancel it.
        self.defer(trigger=trigger, method_name="execute_complete")

    def _wait_here(self, context: Context, wait: JobWait) -> dict[str, Any]:
        from airflow_provider_celonis.decisions import find_job_execution, judge_job, pin_execution
        from airflow_provider_celonis.sync_poll import poll_until_done

        pushed: set[str] = set()
        current = wait
        ids: dict[str, Any] = {
            "data_pool_id": wait.data_pool_id,
            "data_job_id": wait.data_job_id,
            "execution_id": wait.execution_id,
        }

        def note_execution(items: list[dict[str, Any]]) -> None:
            nonlocal current
            # Pin the first new execution seen: a run started later (queued behind ours by a
            # schedule or another DAG) must never be followed instead of ours.
            current = pin_execution(items, current)
            ids["execution_id"] = current.execution_id  # a timeout event then names it (cancel)
            item = find_job_execution(items, current)
            execution_id = item and (item.get("executionId") or item.get("id"))
            if item and execution_id and str(execution_id) not in pushed:
                pushed.add(str(execution_id))
                self._push_execution(context, str(execution_id), item.get("startDate"))

        return poll_until_done(
            lambda: self.hook.list_executions(wait.data_pool_id, wait.data_job_id),
            lambda items: judge_job(items, current),
            poll_interval=self.poll_interval,
            deadline=wait.deadline,
            ids=ids,
            on_snapshot=note_execution,
        )

    def _await_start(self, context: Context, wait: JobWait) -> str | None:
        """Fire-and-forget: wait (up to ``start_grace_period``) until our execution is listed.

        Returns its id (also pushed to XCom). A start whose answer was lost and that never
        reached Celonis shows no new execution: that fails, rather than passing as started.
        """
        from airflow_provider_celonis.decisions import execution_id_of, find_job_execution, judge_job
        from airflow_provider_celonis.status import SUCCESS, event
        from airflow_provider_celonis.sync_poll import poll_until_done

        if wait.execution_id is not None:
            return wait.execution_id
        ids = {"data_pool_id": wait.data_pool_id, "data_job_id": wait.data_job_id}

        def judge(items: list[dict[str, Any]]) -> dict[str, Any] | None:
            item = find_job_execution(items, wait)
            if item is not None:
                return event(
                    SUCCESS,
                    "the execution started",
                    execution_id=execution_id_of(item),
                    start_ms=item.get("startDate"),
                    **ids,
                )
            return judge_job(items, wait)  # None (keep looking), or no execution in time

        verdict = poll_until_done(
            lambda: self.hook.list_executions(wait.data_pool_id, wait.data_job_id),
            judge,
            poll_interval=min(self.poll_interval, max(self.start_grace_period / 10, 0.05)),
            deadline=wait.deadline,
            ids={**ids, "execution_id": None},
        )
        if verdict["status"] != SUCCESS or not verdict.get("execution_id"):
            return self._finish(context, verdict)  # raises: nothing appeared, or the timeout passed
        self._remote_run_owned = False  # fire-and-forget: the task no longer owns the run
        execution_id = str(verdict["execution_id"])
        self._push_execution(context, execution_id, verdict.get("start_ms"))
        self.log.info("Data job %s started: execution %s.", wait.data_job_id, execution_id)
        return execution_id

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str | None:
        """Resume after the trigger: map its one event to success, skip, or a typed exception."""
        self._remote_run_owned = True
        self.celonis_url = self.hook.job_url(self.data_pool_id, self.data_job_id)
        return self._finish(context, event)

    # -- finish -----------------------------------------------------------------------------
    def _finish(self, context: Context, event: dict[str, Any]) -> str | None:
        from airflow_provider_celonis.exceptions import CelonisJobTimeoutError
        from airflow_provider_celonis.outcomes import check_event, finish_job
        from airflow_provider_celonis.status import TIMEOUT

        check_event(event)
        if event.get("execution_id"):
            self._push_execution(context, str(event["execution_id"]), event.get("start_ms"))
        try:
            if event["status"] == TIMEOUT:
                cancelled, problem = self._cancel()
                what = "cancelled it" if cancelled else f"could NOT cancel it ({problem})"
                raise CelonisJobTimeoutError(
                    f"Data job {self.data_job_id} in pool {self.data_pool_id}: {event['message']} "
                    f"(timeout {self.timeout} s); the operator {what}.",
                    execution_id=event.get("execution_id"),
                    cancelled=cancelled,
                    fix="raise the operator's timeout, or look at why the job is slow in Celonis",
                )
            return finish_job(event, self.hook)
        finally:
            self._remote_run_owned = False

    def _push_execution(self, context: Context, execution_id: str, start_ms: Any) -> None:
        ti = context["ti"]
        ti.xcom_push(key="celonis_execution_id", value=execution_id)
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
            from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook
            from airflow_provider_celonis.status import kill_hook_params

            # Few, short retries: Airflow gives on_kill limited time before it kills the process.
            self._cancel(CelonisDataJobHook(self.celonis_conn_id, **kill_hook_params(self.hook_params)))
