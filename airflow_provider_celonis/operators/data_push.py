"""``CelonisDataPushOperator``: push CSV or Parquet files into a data pool table (Data Push API).

What comparable tools get wrong, and what this operator does instead:

* **Whole files in memory**: files are streamed in 1 MiB blocks as multipart bodies; a file
  above ``chunk_size`` (Celonis: at most 1 GB) is split at record boundaries (CSV, header
  repeated, quoted newlines respected) or row-group boundaries (Parquet).
* **Rows stored twice, or a false DONE**: no POST is replayed after an answer that does not
  prove what Celonis did. A lost chunk-upload answer discards the job (nothing is committed
  before execute) and rebuilds the push from the source; the chunk list is checked before
  executing; a lost execute answer is settled by reading the job's status (see
  :mod:`airflow_provider_celonis.push.run`). Every status read must be about our job id, and
  a DONE with error log lines fails. A 429 (10/s, 250/h per team) is waited out.
* **Polling forever**: DONE succeeds; ERROR and CANCELED fail with the job's ``logs``; an
  unknown status fails closed; the wait has a wall-clock ``timeout`` after which the job is
  deleted (whether that stops a running push is a [guess]: the message then says "abandoned").
* **An empty job left behind by a typo**: every input problem is found before the job exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow.sdk import BaseOperator

from airflow_provider_celonis.client import transport
from airflow_provider_celonis.client.arguments import check_duration, check_int
from airflow_provider_celonis.client.paths import redact_uri, uri_password
from airflow_provider_celonis.compat import conf
from airflow_provider_celonis.exceptions import (
    CelonisError,
    CelonisJobTimeoutError,
    CelonisNotFoundError,
)
from airflow_provider_celonis.lineage.assets import declare_outlets, pool_table_asset_uri
from airflow_provider_celonis.lineage.facts import remember
from airflow_provider_celonis.links import DATA_POOL_URL_KEY, CelonisDataPoolLink
from airflow_provider_celonis.operators._names import NamesInsteadOfIds
from airflow_provider_celonis.push.chunking import CELONIS_CHUNK_LIMIT
from airflow_provider_celonis.push.plan import make_plan
from airflow_provider_celonis.push.run import PushRun, checked_job
from airflow_provider_celonis.waiting.outcomes import check_event, check_target, finish_push
from airflow_provider_celonis.waiting.push_wait import NOT_EXECUTED, PushWait, judge_push
from airflow_provider_celonis.waiting.status import (
    ERROR,
    TIMEOUT,
    deadline_after,
    deadline_passed,
    event,
    kill_hook_params,
)
from airflow_provider_celonis.waiting.sync_poll import poll_until_done

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook

DEFAULT_TIMEOUT = 6 * 3600.0


class CelonisDataPushOperator(NamesInsteadOfIds, BaseOperator):
    """Push files into a Celonis data pool table with one push job, and by default wait for it.

    :param data_pool_id: the data pool. Templated.
    :param data_pool_name: the pool's name instead of ``data_pool_id`` (exactly one of the two),
        resolved when the task runs (docs/data-push.md, "Names instead of ids"). Templated.
    :param target_table: the table (``targetName``). Templated.
    :param source: a local path, a glob (``/data/out/*.csv``), a URI (``s3://bucket/x.parquet``,
        ``file:///tmp/x.csv``; any ``ObjectStoragePath``), or a list of these. Templated.
    :param file_type: ``CSV`` or ``PARQUET``; inferred from the extensions when not given.
    :param mode: ``REPLACE`` (the table becomes the pushed rows) or ``DELTA`` (upsert by ``keys``).
    :param keys: primary key columns; required for ``DELTA``. Templated.
    :param data_connection_id: the data connection whose schema receives the table; without it
        Celonis uses the pool's global schema. Templated.
    :param table_schema: Celonis ``tableSchema`` (``{"tableName", "columns": [...]}``).
    :param csv_options: Celonis ``csvParsingOptions`` (``separatorSequence``, ``quoteSequence``,
        ``escapeSequence``, ``lineEnding``, ``charSet``, ``decimalSeparator``, ...). The
        ``quoteSequence`` (default ``"``) is also what the splitter treats as the quote.
    :param upsert_strategy: ``UPSERT_WITH_UNCHANGED_METADATA`` or ``UPSERT_WITH_NULLIFICATION``.
    :param job_options: further ``DataPushJob`` fields sent as they are (``fallbackVarcharLength``...).
    :param delete_source: path/glob/URI(s) of files with rows to delete (same file type), sent as
        ``chunks/deleted``. Templated.
    :param duplicate_removal_column: the execute call's ``duplicateRemovalColumn``.
    :param chunk_size: maximum bytes per chunk (default and maximum: Celonis's 1 GB).
    :param wait_for_completion: wait until the job is DONE; otherwise return once executed.
    :param deferrable: wait in the triggerer; defaults to ``[operators] default_deferrable``.
    :param poll_interval: seconds between status polls (pycelonis uses 2).
    :param timeout: wall-clock limit (seconds or timedelta) of the whole push from the task's
        start; when it passes during the wait the job is deleted and the task fails.
    :param start_grace_period: seconds the job has to leave NEW after an execute call whose
        answer was lost before it counts as not started.
    :param max_rebuilds: how many times a push whose job cannot be trusted (a lost chunk-upload
        or create answer, a chunk list that differs from what was sent) is discarded and built
        again from the source before the task fails (0 to 10).
    :param execute_resends: how many times the execute call is sent again for a job still NEW
        after ``start_grace_period`` (0 to 5; 0: delete the job and fail instead). Relies on
        Celonis refusing to execute a job that is not NEW (409).
    :param verify_chunks: check Celonis's chunk list against the chunks sent before executing.
    :param check_source_unchanged: before executing, check that no source file changed since
        the push was planned (size and modification marks); turn off only for a filesystem whose
        ``stat`` answers differ between a listing and a direct read.
    :param fail_on_error_logs: fail a DONE job whose ``logs`` hold an error line (a line
        starting with ``ERROR``, or containing ``error:``, ``failed`` or ``exception``); turn
        off if your team's DONE jobs log such lines harmlessly.
    :param celonis_conn_id: the Celonis connection (scope: see ``hooks.data_push``).
    :param hook_params: extra :class:`CelonisDataPushHook` arguments (retry bounds, ``timeout``...).

    Returns ``{"job_id", "chunks", "bytes", "rows", "status"}`` (``rows`` None when unknown;
    ``deleted_rows`` too when ``delete_source`` is set). XCom keys: ``celonis_data_pool_url``,
    and ``celonis_push_job_id`` once a job exists (the last one, after a rebuild).
    """

    template_fields: Sequence[str] = (
        "data_pool_id",
        "target_table",
        "source",
        "keys",
        "data_connection_id",
        "delete_source",
        "data_pool_name",
    )
    name_pairs = ("data_pool",)
    operator_extra_links = (CelonisDataPoolLink(),)
    ui_color = "#e8f5e9"

    def __init__(
        self,
        *,
        data_pool_id: str | None = None,
        target_table: str,
        source: Any,
        file_type: str | None = None,
        mode: str = "REPLACE",
        keys: list[str] | str | None = None,
        data_connection_id: str | None = None,
        table_schema: dict[str, Any] | None = None,
        csv_options: dict[str, Any] | None = None,
        upsert_strategy: str | None = None,
        job_options: dict[str, Any] | None = None,
        delete_source: Any = None,
        duplicate_removal_column: str | None = None,
        chunk_size: int = CELONIS_CHUNK_LIMIT,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: timedelta | float | None = DEFAULT_TIMEOUT,
        start_grace_period: float = 120.0,
        max_rebuilds: int = 2,
        execute_resends: int = 1,
        verify_chunks: bool = True,
        check_source_unchanged: bool = True,
        fail_on_error_logs: bool = True,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        data_pool_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # The pool table as an Asset, from the arguments as written (docs/lineage.md); outlets= wins.
        declare_outlets(self, kwargs, pool_table_asset_uri(data_pool_id, target_table, data_connection_id))
        self.data_pool_id, self.data_pool_name = data_pool_id or "", data_pool_name
        self.check_names()  # exactly one of id and name; a template counts as given
        self.target_table = target_table
        self.source = source
        self.file_type = file_type
        self.mode = mode
        self.keys = keys
        self.data_connection_id = data_connection_id
        self.table_schema = table_schema
        self.csv_options = dict(csv_options or {})
        self.upsert_strategy = upsert_strategy
        self.job_options = dict(job_options or {})
        self.delete_source = delete_source
        self.duplicate_removal_column = duplicate_removal_column
        where = f"CelonisDataPushOperator {self.task_id}"
        self.chunk_size = check_int(
            "chunk_size", chunk_size, minimum=1, maximum=CELONIS_CHUNK_LIMIT, where=where
        )
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = float(check_duration("poll_interval", poll_interval, where=where) or 0)
        self.timeout = check_duration("timeout", timeout, allow_none=True, allow_zero=True, where=where)
        self.start_grace_period = float(
            check_duration("start_grace_period", start_grace_period, allow_zero=True, where=where) or 0
        )
        self.max_rebuilds = check_int("max_rebuilds", max_rebuilds, minimum=0, maximum=10, where=where)
        self.execute_resends = check_int(
            "execute_resends", execute_resends, minimum=0, maximum=5, where=where
        )
        self.verify_chunks = bool(verify_chunks)
        self.check_source_unchanged = bool(check_source_unchanged)
        self.fail_on_error_logs = bool(fail_on_error_logs)
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.celonis_pool_url: str | None = None
        self._job_id: str | None = None
        self._ti: Any = None

    @cached_property
    def hook(self) -> CelonisDataPushHook:
        # Lazy: DAG parsing must not import the hook (requests, aiohttp).
        from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook

        return CelonisDataPushHook(self.celonis_conn_id, **self.hook_params)

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render, then register the credentials of every ``source``/``delete_source`` URI with
        Airflow's masker, so rendered fields and logs show ``***`` (this runs before Airflow
        stores rendered fields)."""
        super().render_template_fields(context, jinja_env)
        for value in (self.source, self.delete_source):
            for item in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(item, str) and "://" in item:
                    # uri_password, not urlsplit: an unencoded '/' in the secret (AWS keys) would
                    # cut it, and the rest would show in rendered fields.
                    secret = uri_password(item)
                    transport.mask(secret if secret else urlsplit(item.strip()).username)

    # -- execute ----------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        deadline = deadline_after(self.timeout)
        plan = make_plan(self)
        self.resolve_names()  # the pool's name to its id, logged; before any push job exists
        remember(self, sources=[file.uri for file in plan.files])  # for lineage (not XCom)
        self.log.info("Push plan for table %s: %s", self.target_table, plan.describe())
        self.celonis_pool_url = self.hook.pool_url(self.data_pool_id)
        self._ti = context["ti"]
        self._ti.xcom_push(key=DATA_POOL_URL_KEY, value=self.celonis_pool_url)
        run = PushRun(self, plan, deadline)
        job_id, summary = run.build()
        if deadline_passed(deadline):
            self.discard(job_id, "the timeout passed during the upload")
            raise CelonisJobTimeoutError(
                f"Push job {job_id} into table {self.target_table}: the timeout ({self.timeout} s) passed "
                "while the files were uploaded; the job was deleted before it was executed.",
                execution_id=job_id,
                cancelled=True,
                fix="raise the operator's timeout (the upload alone took longer)",
            )
        try:
            started = run.start(job_id)
        except BaseException:
            self.discard(job_id, "its execute call failed or was refused")
            raise
        wait = PushWait(
            self.data_pool_id,
            job_id,
            deadline=deadline,
            # Executed (accepted, seen leaving NEW, or a 409 to a resend): a job that shows NEW
            # for a while is then waited for up to the timeout, never re-executed from here.
            appear_deadline=None,
            summary=summary,
            fail_on_error_logs=self.fail_on_error_logs,
        )
        if started.not_executed:
            ids = {"data_pool_id": self.data_pool_id, "job_id": job_id, "job_status": "NEW"}
            self._finish(
                event(
                    ERROR,
                    "the push job is still NEW after every execute call, whose answers were lost, so "
                    "none took effect",
                    reason=NOT_EXECUTED,
                    summary=summary,
                    **ids,
                )
            )
        if not self.wait_for_completion:
            status = started.status or run.read_status(job_id)
            self._job_id = None  # fire-and-forget: the task no longer owns the job
            return {"job_id": job_id, **summary, "status": status}
        if self.deferrable:
            self._defer(wait)
        return self._finish(self._wait_here(wait))

    def own_job(self, job_id: str) -> None:
        """Called by :class:`~airflow_provider_celonis.push.run.PushRun` for each job it creates."""
        self._job_id = job_id
        self._ti.xcom_push(key="celonis_push_job_id", value=job_id)
        remember(self, job_id=job_id)  # lineage names the job even if the task fails or does not wait

    def discard(self, job_id: str, why: str) -> bool:
        """Delete a job this task will not execute (best effort: a NEW job commits nothing)."""
        deleted = self._delete(job_id, why)
        self._job_id = None
        return deleted

    @staticmethod
    def shown(uri: Any) -> str:
        """A source as logs and errors show it: credentials in a URI are hidden."""
        return redact_uri(uri)

    # -- wait -------------------------------------------------------------------------------
    def _defer(self, wait: PushWait) -> None:
        # Lazy: the trigger module (and its hook) is not for DAG parse time.
        from airflow_provider_celonis.triggers.data_push import CelonisDataPushJobTrigger

        trigger = CelonisDataPushJobTrigger(
            wait=wait.to_dict(),
            poll_interval=self.poll_interval,
            celonis_conn_id=self.celonis_conn_id,
            hook_params=self.hook_params,
            delete_on_kill=True,  # the task owns the job: killing it while deferred deletes it
        )
        # No Airflow ``timeout=``: it would fail the task without coming back to delete the job.
        self.defer(trigger=trigger, method_name="execute_complete")

    def _wait_here(self, wait: PushWait) -> dict[str, Any]:
        return poll_until_done(
            lambda: self.hook.get_job(wait.data_pool_id, wait.job_id),
            lambda job: judge_push(job, wait),
            poll_interval=self.poll_interval,
            deadline=wait.deadline,
            ids={"data_pool_id": wait.data_pool_id, "job_id": wait.job_id, "summary": wait.summary},
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: its one event becomes the result or a typed exception."""
        self.resolve_names_on_resume(event)  # the pool the name means now, which the event must name
        if isinstance(event, dict) and event.get("data_pool_id") not in (None, self.data_pool_id):
            check_target(event, self.data_pool_id)  # an event about another pool fails closed
        self.celonis_pool_url = self.hook.pool_url(self.data_pool_id)
        self._job_id = event.get("job_id") if isinstance(event, dict) else None
        return self._finish(event)

    # -- finish -----------------------------------------------------------------------------
    def _finish(self, event: dict[str, Any]) -> dict[str, Any]:
        if check_event(event)["status"] != TIMEOUT:
            self._job_id = None  # the outcome is known: the task no longer owns the job
        result = finish_push(
            event,
            f"Push job {event.get('job_id')} into table {self.target_table} of pool {self.data_pool_id}",
            self.timeout,
            stop_after_timeout=self._stop_after_timeout,
            delete=lambda job_id: self._delete(job_id, "the execute call did not take effect"),
        )
        remember(self, rows=result.get("rows"), bytes=result.get("bytes"), job_id=result["job_id"])
        self.log.info("%s", result.pop("message"))
        return result

    def _stop_after_timeout(self, job_id: str) -> tuple[bool, str]:
        """Delete the job; report CANCELED if Celonis shows it, else say it was abandoned."""
        if not self._delete(job_id, "the timeout passed"):
            return False, "the operator could NOT delete the job, so it may still load its data"
        self._job_id = None
        try:
            # An answer about another job proves nothing about ours (checked_job raises).
            status = checked_job(self.hook.get_job(self.data_pool_id, job_id), job_id).get("status")
        except CelonisNotFoundError:
            status = None
        except CelonisError as err:
            self.log.warning("Could not read push job %s after deleting it: %s", job_id, err)
            status = None
        if status == "CANCELED":
            return True, "the operator deleted the job and Celonis reports it CANCELED"
        return False, (
            "the operator deleted the job; Celonis does not say whether that stops a running push, "
            "so the job was abandoned and its data may still load"
        )

    def _delete(self, job_id: str, why: str, hook: CelonisDataPushHook | None = None) -> bool:
        """Best-effort ``DELETE`` of the push job; never raises."""
        try:
            (hook or self.hook).delete_job(self.data_pool_id, job_id)
        except Exception as err:
            self.log.error("Could not delete push job %s (%s): %s", job_id, why, err)
            return False
        self.log.warning("Deleted push job %s in pool %s because %s.", job_id, self.data_pool_id, why)
        return True

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the source files in, the pool table out with rows and bytes (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_complete
        from airflow_provider_celonis.lineage.reports import push_report

        return facets_on_complete(self, push_report)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """OpenLineage of a failed run: its inputs and Celonis id, no output (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_failure
        from airflow_provider_celonis.lineage.reports import push_report

        return facets_on_failure(self, push_report)

    def on_kill(self) -> None:
        """Delete the push job this task created and has not finished; never raises."""
        if self._job_id is not None:
            # Lazy: DAG parsing must not import the hook.
            from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook

            # Few, short retries: Airflow gives on_kill limited time before it kills the process.
            hook = CelonisDataPushHook(self.celonis_conn_id, **kill_hook_params(self.hook_params))
            self._delete(self._job_id, "the task was killed", hook)
