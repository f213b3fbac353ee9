"""Build and start one Data Push job so that Celonis stores every source row exactly once.

The rules, for every answer that does not prove whether Celonis acted on a POST (a timeout,
a dropped connection, a 500, 502, 503 or 504: the hook raises
:class:`~airflow_provider_celonis.exceptions.CelonisRequestMaybeSentError` and never
replays it):

* **Create.** A job that was perhaps created is NEW and holds no chunk: it can never load
  data unless someone executes it. The push is built again on a new job; the lost one
  (whose id the answer never gave) is left NEW, and the log says so.
* **Chunk upload.** Whether Celonis stored the chunk (or will store it: a request queued
  behind a proxy that gave up can land later) cannot be proved. A push job commits nothing
  until it is executed, so the job is deleted and the push rebuilt from the source on a new
  job, at most ``max_rebuilds`` times. Before the execute call the job's chunk list
  (``GET .../chunks``) must show exactly the chunks sent, each with our job id, or the job
  is discarded the same way: a chunk stored twice is never executed.
* **Execute.** The job's own status is read back (``GET .../jobs/{id}``, the id we created,
  checked in every answer). A job that left NEW was executed: the task adopts that run.
  A job still NEW after ``start_grace_period`` did not start; the execute call is sent again
  at most ``execute_resends`` times. That is safe because Celonis executes only a NEW job
  and answers 409 otherwise (docs/celonis-api.md: the 409 is in Celonis's API description, its
  use for this case a [guess]), so an earlier call that lands late is refused, and a 409 to
  our resend means the earlier one took effect: the run is adopted. With
  ``execute_resends=0`` the job is deleted and the task fails, saying the job never ran.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisConflictError,
    CelonisError,
    CelonisJobFailedError,
    CelonisJobTimeoutError,
    CelonisRequestMaybeSentError,
)
from airflow_provider_celonis.push.chunking import ChunkingError
from airflow_provider_celonis.push.plan import PushPlan
from airflow_provider_celonis.waiting.status import deadline_passed, seconds_left

CHUNK_TYPES = {"upserted": "UPSERT", "deleted": "DELETE"}
LIST_RETRIES = 3
"""Re-reads of a chunk list that shows fewer chunks than were sent (Celonis may list late)."""


class _Discard(Exception):
    """The job in hand cannot be trusted (see the module docstring): rebuild on a new one."""


@dataclass(frozen=True)
class Started:
    """How the execute step ended: ``status`` as last read (None when not read), and whether
    the job is known not to run (still NEW after every allowed execute call)."""

    status: str | None
    not_executed: bool = False


def checked_job(job: Any, job_id: str) -> dict[str, Any]:
    """A ``GET .../jobs/{id}`` answer, refused unless it is about ``job_id`` (fail closed)."""
    got = job.get("id") if isinstance(job, dict) else None
    if got is None or str(got) != job_id:
        raise CelonisJobFailedError(
            f"Asked Celonis for push job {job_id}, it answered about job {got!r}; the task cannot "
            "tell what happened to its own job and fails closed.",
            execution_id=job_id,
            fix="check the push job in the data pool; a proxy or gateway may be misrouting answers",
        )
    return job


class PushRun:
    """One push of one operator run: ``op`` is the operator (its arguments are read here)."""

    def __init__(self, op: Any, plan: PushPlan, deadline: float | None) -> None:
        self.op = op
        self.hook = op.hook
        self.plan = plan
        self.deadline = deadline
        self.pool = op.data_pool_id
        self.log = op.log

    # -- build: create, upload, verify -------------------------------------------------------
    def build(self) -> tuple[str, dict[str, Any]]:
        """A job holding every chunk once; returns its id and what was pushed."""
        attempts = self.op.max_rebuilds + 1
        lost_creates = 0
        for attempt in range(1, attempts + 1):
            last = attempt == attempts or deadline_passed(self.deadline)
            try:
                job = self._create()
            except CelonisRequestMaybeSentError as err:
                lost_creates += 1
                if last:
                    self._name_lost_jobs(None)
                    raise CelonisRequestMaybeSentError(
                        f"Push into table {self.op.target_table}: the create call's answer was lost ({err}) "
                        f"on the last of {attempt} attempt(s); no job was executed. Nothing was loaded. "
                        f"Celonis may hold up to {lost_creates} NEW, empty push job(s) for this table from "
                        "lost create answers (named in the log when listed); they commit nothing.",
                        fix="check the network path to Celonis, or raise max_rebuilds",
                    ) from None
                self.log.warning(
                    "The create call's answer was lost (%s); Celonis may hold an extra NEW push job "
                    "for table %s that commits nothing. Building the push again on a new job (%d of %d).",
                    err,
                    self.op.target_table,
                    attempt + 1,
                    attempts,
                )
                continue
            job_id = str(job["id"])
            self.op.own_job(job_id)
            try:
                summary = self._upload(job_id)
                self._verify(job_id, summary)
                self._check_sources()
                if lost_creates:
                    self._name_lost_jobs(job_id)
                return job_id, summary
            except (CelonisRequestMaybeSentError, _Discard) as err:
                self.op.discard(job_id, f"it may hold a chunk twice or miss one ({err})")
                if last:
                    raise CelonisRequestMaybeSentError(
                        f"Push into table {self.op.target_table}: {attempt} job(s) built from the source "
                        f"were discarded unexecuted, the last one because: {err}. Nothing was loaded.",
                        fix="check the network path to Celonis, or raise max_rebuilds",
                    ) from None
                self.log.warning(
                    "Discarded push job %s unexecuted (%s); building the push again from the source "
                    "(%d of %d).",
                    job_id,
                    err,
                    attempt + 1,
                    attempts,
                )
            except CelonisConfigurationError as err:
                self.op.discard(job_id, f"the push cannot go on ({err})")
                raise
            except ChunkingError as err:
                self.op.discard(job_id, f"a chunk could not be made ({err})")
                self._check_sources()  # a file cut short while it was read: say which one changed
                raise
            except BaseException:
                self.op.discard(job_id, "the upload failed")
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _check_sources(self) -> None:
        """Fail closed when a source file was written to since the push was planned.

        The plan fixed each file's chunks (byte ranges, row groups); a file rewritten or still
        growing would be pushed as something else than what was planned, and a rebuild after a
        lost upload answer would send other data than the first build: neither is executed.
        """
        if not getattr(self.op, "check_source_unchanged", True):
            return
        for field, files in (("source", self.plan.files), ("delete_source", self.plan.delete_files)):
            for file in files:
                try:
                    changed = file.changed()
                except OSError:
                    changed = True  # gone or unreadable: not the planned file any more
                if changed:
                    raise CelonisConfigurationError(
                        field,
                        f"names {self.op.shown(file.uri)}, which changed while the task pushed it (its "
                        "size or modification time differs from when the push was planned); the job "
                        "was deleted unexecuted, so nothing of it was loaded",
                        "push files that are complete and no longer written to (write to a temporary "
                        "name and rename it, or run the push after the export task)",
                    )

    def _name_lost_jobs(self, ours: str | None) -> None:
        """Log the NEW jobs of our table other than ours: a lost create may have made one.

        Only a hint for clean-up: such a job is never touched, since nothing proves it is not
        another task's push in progress (it commits nothing unless someone executes it).
        """
        try:
            jobs = self.hook.list_jobs(self.pool)
        except CelonisError as err:
            self.log.warning("Could not list push jobs to name the one a lost create made: %s", err)
            return
        others = [
            str(j.get("id"))
            for j in jobs
            if isinstance(j, dict)
            and j.get("targetName") == self.op.target_table
            and j.get("status") == "NEW"
            and str(j.get("id")) != ours
        ]
        if others:
            self.log.warning(
                "NEW push jobs for table %s other than this task's %s: %s. One may come from a lost "
                "create answer; it commits nothing. Delete them in Celonis if no other task is "
                "pushing to this table.",
                self.op.target_table,
                ours or "(none)",
                ", ".join(others),
            )

    def _create(self) -> dict[str, Any]:
        op, plan = self.op, self.plan
        job: dict[str, Any] = self.hook.create_job(
            self.pool,
            target_name=op.target_table,
            job_type=plan.mode,
            file_type=plan.file_type,
            keys=plan.keys,
            connection_id=op.data_connection_id,
            table_schema=op.table_schema,
            csv_parsing_options=op.csv_options or None,
            upsert_strategy=op.upsert_strategy,
            extra=op.job_options,
        )
        if not isinstance(job, dict) or not job.get("id"):
            raise CelonisJobFailedError(
                f"Celonis created a push job for table {op.target_table} but its answer has no job id "
                f"({str(job)[:200]}); nothing was uploaded.",
                fix="check the Data Push API's answers (a proxy may rewrite them)",
            )
        return job

    def _upload(self, job_id: str) -> dict[str, Any]:
        """Upload every chunk (upserts, then deletes); returns chunks, bytes and rows."""
        sent: Counter[str] = Counter()
        total_bytes = 0
        rows: dict[str, int | None] = {"upserted": 0, "deleted": 0}
        for kind, chunk in self.plan.chunks():
            try:
                self.hook.upload_chunk(self.pool, job_id, chunk, kind=kind, file_type=self.plan.file_type)
            finally:
                if chunk.cleanup is not None:
                    chunk.cleanup()
            sent[kind] += 1
            total_bytes += chunk.size
            counted = rows[kind]
            rows[kind] = None if counted is None or chunk.rows is None else counted + chunk.rows
            self.log.info(
                "Uploaded %s chunk %d of %s (%d bytes, %s rows).",
                kind,
                sent[kind],
                self.op.shown(chunk.file.uri),
                chunk.size,
                chunk.rows,
            )
        summary: dict[str, Any] = {
            "chunks": sent["upserted"] + sent["deleted"],
            "bytes": total_bytes,
            "rows": rows["upserted"],
            "chunk_types": {CHUNK_TYPES[k]: n for k, n in sent.items()},
        }
        if self.plan.delete_files:
            summary["deleted_rows"] = rows["deleted"]
        return summary

    def _verify(self, job_id: str, summary: dict[str, Any]) -> None:
        """The job's chunk list must show exactly the chunks sent, all of this job."""
        want = dict(summary.pop("chunk_types"))
        if not self.op.verify_chunks:
            return
        for attempt in range(LIST_RETRIES + 1):
            listed = self.hook.list_chunks(self.pool, job_id)
            foreign = [c for c in listed if str(c.get("pushJobId") or job_id) != job_id]
            if foreign:
                raise _Discard(f"its chunk list names other jobs ({foreign[0].get('pushJobId')})")
            ids = [str(c["id"]) for c in listed if c.get("id") is not None]
            if len(ids) != len(set(ids)):
                # The right count with one chunk listed twice hides a chunk Celonis does not hold.
                raise _Discard("its chunk list shows one chunk id more than once")
            got = dict(Counter(str(c.get("type") or "").upper() for c in listed))
            if got == want:
                self.log.info("Celonis lists the %d chunk(s) sent to push job %s.", len(listed), job_id)
                return
            fewer = all(got.get(kind, 0) <= n for kind, n in want.items()) and set(got) <= set(want)
            if not fewer or attempt == LIST_RETRIES:
                raise _Discard(f"Celonis lists chunks {got} for the {want} sent")
            time.sleep(min(0.5 * (attempt + 1), max(seconds_left(self.deadline) or 0.0, 0.0)))

    # -- execute -------------------------------------------------------------------------------
    def start(self, job_id: str) -> Started:
        """Execute the job once, reconciling a lost answer by its status (module docstring)."""
        resends = 0
        while True:
            try:
                self.hook.execute_job(
                    self.pool,
                    job_id,
                    duplicate_removal_column=self.op.duplicate_removal_column,
                    deadline=self.deadline,
                )
            except CelonisRequestMaybeSentError as err:
                self.log.warning(
                    "The execute call of push job %s may or may not have reached Celonis (%s); "
                    "reading the job's status to find out.",
                    job_id,
                    err,
                )
                try:
                    status = self._await_left_new(job_id)
                except CelonisJobFailedError:
                    raise
                except CelonisError as read_error:
                    raise CelonisJobFailedError(
                        f"The execute call of push job {job_id} got no usable answer and the job's "
                        f"status could not be read back ({read_error}); whether the job runs is "
                        "unknown, so the task fails closed and deletes the job (whether that stops a "
                        "started push is not documented).",
                        execution_id=job_id,
                        fix="check the push job and the table in the data pool before retrying the task",
                    ) from None
                if status is not None:
                    self.log.info("Push job %s left NEW (%s): its execution is adopted.", job_id, status)
                    return Started(status)
                if deadline_passed(self.deadline):
                    # Cut short by the timeout, not by the grace period: nothing proves the call
                    # did not take effect, so neither "never ran" nor a resend (the caller deletes).
                    raise CelonisJobTimeoutError(
                        f"Push job {job_id} into table {self.op.target_table}: the timeout passed while "
                        "the job still showed NEW after an execute call whose answer was lost, before "
                        f"start_grace_period ({self.op.start_grace_period:.0f} s) ended; whether that "
                        "call took effect is unknown. The job is deleted (whether that stops a started "
                        "push is not documented).",
                        execution_id=job_id,
                        cancelled=False,
                        fix="raise the operator's timeout well above start_grace_period, and check the "
                        "table in the data pool before retrying the task",
                    ) from None
                if resends >= self.op.execute_resends:
                    return Started("NEW", not_executed=True)
                resends += 1
                self.log.warning(
                    "Push job %s is still NEW %.0f s after the lost execute answer, so that call did "
                    "not start it; sending execute again (%d of %d; Celonis refuses it with 409 if "
                    "the first one took effect after all).",
                    job_id,
                    self.op.start_grace_period,
                    resends,
                    self.op.execute_resends,
                )
                continue
            except CelonisConflictError:
                if resends == 0:
                    raise
                self.log.warning(
                    "Celonis answered 409 to the resent execute of push job %s: an earlier execute "
                    "took effect; that run is adopted (the job was not run twice).",
                    job_id,
                )
                return Started(None)  # executed, by the server's own word: awaited up to the timeout
            self.log.info("Executed push job %s into table %s.", job_id, self.op.target_table)
            return Started(None)

    def _await_left_new(self, job_id: str) -> str | None:
        """The job's status once it leaves NEW, or None when it is NEW after the grace period."""
        give_up = time.time() + self.op.start_grace_period
        if self.deadline is not None:
            give_up = min(give_up, self.deadline)
        pause = min(self.op.poll_interval, max(self.op.start_grace_period / 10, 0.05))
        while True:
            job = checked_job(self.hook.get_job(self.pool, job_id), job_id)
            status = job.get("status")
            if status != "NEW":
                return str(status)
            if time.time() >= give_up:
                return None
            time.sleep(pause)

    def read_status(self, job_id: str) -> str | None:
        """The job's status now (its id checked); for fire-and-forget results."""
        try:
            return checked_job(self.hook.get_job(self.pool, job_id), job_id).get("status")
        except CelonisJobFailedError:
            raise
        except CelonisError as err:
            self.log.warning("Could not read push job %s after executing it: %s", job_id, err)
            return None
