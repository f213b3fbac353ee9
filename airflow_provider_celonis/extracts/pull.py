"""The run of an extract operator: settle, pull, write, then re-check or keep the high-water mark.

Split from :mod:`airflow_provider_celonis.operators._extract` (arguments and validation) so each
stays readable. One pull is: stream the API's records (sub-windows in parallel threads,
:mod:`.concurrency`; a sequential
pull reads pages ahead in a thread), spill them into sorted
runs, merge them in order without duplicates into a temporary file, rename it to
``output_path``. Only a small summary goes to XCom; paths in it are redacted.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_celonis.client.arguments import to_utc
from airflow_provider_celonis.client.paths import redact_uri
from airflow_provider_celonis.client.timestamps import canonical_ts
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.concurrency import concurrent_records
from airflow_provider_celonis.extracts.late_data import (
    DEFAULT_SETTLE_PERIOD,
    HighWaterMark,
    Overlap,
    check_period,
    load_state,
    recheck_targets,
    record_digest,
    save_state,
    shifted_context,
    utcnow,
    wait_until,
)
from airflow_provider_celonis.extracts.outputs import Columns, write_records
from airflow_provider_celonis.extracts.progress import PullProgress
from airflow_provider_celonis.extracts.records import count_records, same_bytes
from airflow_provider_celonis.extracts.spill import SortedSpill, canonical, scratch_dir
from airflow_provider_celonis.waiting.progress import PROGRESS_EVERY

if TYPE_CHECKING:
    from airflow.sdk import Context


class PullMixin:
    """``execute`` of :class:`~airflow_provider_celonis.operators._extract.CelonisExtractOperator`
    (which provides the attributes)."""

    task_id: str
    log: Any
    windowed: bool
    output_path: str
    output_format: str
    columns: tuple[str, ...]
    spill_dir: str | None
    celonis_conn_id: str
    settle_period: float | None
    deferrable: bool
    recheck_intervals: int
    since_last_load: bool
    high_water_mark_variable: str | None
    overlap: float
    max_concurrency: int
    time_resolution: float
    start: Any
    end: Any
    _output_path_template: str
    _loaded_state: dict[str, Any]

    if TYPE_CHECKING:

        def _validate(self, context: Context) -> tuple[str, datetime | None, datetime | None]: ...
        def make_hook(self) -> Any: ...
        def fetch(self, hook: Any, start: datetime, end: datetime) -> Iterator[dict[str, Any]]: ...
        def sort_key(self, record: dict[str, Any]) -> str: ...
        @property
        def shown_path(self) -> str: ...

    # -- entry points ----------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        return self._run(context, settled=False)

    def execute_settled(self, context: Context, event: Any = None) -> dict[str, Any]:
        """Resumed after the settle period's :class:`DateTimeTrigger` fired."""
        return self._run(context, settled=True)

    def _run(self, context: Context, *, settled: bool) -> dict[str, Any]:
        fmt, start, end = self._validate(context)
        targets = (
            self._recheck_targets(context, start, end)
            if self.recheck_intervals and start is not None and end is not None
            else []
        )
        hook = self.make_hook()
        state: HighWaterMark | None = None
        if self.windowed and start is not None and end is not None:
            settle = self._settle_seconds(hook)
            if self.since_last_load:
                state, start, end = self._since_last_load(context, start, end, settle)
            elif not settled and settle > 0:
                ready_at = end + timedelta(seconds=settle)
                if ready_at > utcnow():
                    self._wait_for(ready_at, settle, end)
        result = self._pull_and_write(hook, fmt, start, end, state=state, context=context)
        if targets:
            result["recheck"] = self._recheck(hook, fmt, targets)
        return result

    # -- settle period ---------------------------------------------------------------------
    def _settle_seconds(self, hook: Any) -> float:
        if self.settle_period is not None:
            return self.settle_period
        configured = hook.connection_extra("settle_period")
        if configured is None:
            return DEFAULT_SETTLE_PERIOD
        return check_period("extra.settle_period", configured, self.celonis_conn_id)

    def _wait_for(self, ready_at: datetime, settle: float, end: datetime) -> None:
        self.log.info(
            "The window ends at %s, less than settle_period=%gs ago: events of its last minutes may "
            "not be queryable in Celonis yet. Pulling at %s (%s).",
            end.isoformat(),
            settle,
            ready_at.isoformat(),
            "deferred, no worker slot held" if self.deferrable else "sleeping in the worker",
        )
        if self.deferrable:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger

            cast(Any, self).defer(trigger=DateTimeTrigger(moment=ready_at), method_name="execute_settled")
            return  # defer raises TaskDeferred; the task resumes in execute_settled
        wait_until(ready_at, self.log)

    # -- since last load -------------------------------------------------------------------
    def _since_last_load(
        self, context: Context, start: datetime, end: datetime, settle: float
    ) -> tuple[HighWaterMark, datetime, datetime]:

        state = load_state(context, self.task_id, self.high_water_mark_variable)
        self._loaded_state = state.to_json()  # compared again before writing (runs at the same time)
        state = state.starting_point(str(context.get("run_id") or "") or None)
        resume = state.mark or state.until  # no event yet: from where the last run stopped
        if resume is not None:
            start = to_utc(resume, "high_water_mark") - timedelta(seconds=self.overlap)
        # No waiting here: the next run starts again before this one's last event anyway.
        end = max(start, min(end, utcnow().replace(microsecond=0) - timedelta(seconds=settle)))
        self.log.info(
            "Since last load: high-water mark %s, overlap %gs: pulling [%s, %s), %d records of the "
            "overlap already delivered",
            state.mark or "(none: first run)",
            self.overlap,
            start.isoformat(),
            end.isoformat(),
            len(state.seen),
        )
        return state, start, end

    def _check_state_unchanged(self, context: Context) -> None:
        """Before writing: if another run saved a state since this one loaded it, both started
        from the same mark and would deliver the same events. Fail without writing; a retry
        starts from the new mark. (Narrows the race to the write itself; max_active_runs=1 closes it.)"""

        now = load_state(context, self.task_id, self.high_water_mark_variable).to_json()
        if now != self._loaded_state:
            raise CelonisConfigurationError(
                "high_water_mark",
                f"changed while this run pulled (run {now.get('run_id')!r} saved mark {now.get('mark')!r}): "
                "two runs started from the same mark and would deliver the same events. Nothing was written",
                "run one at a time (max_active_runs=1 on the DAG); a retry of this run starts from the "
                "new mark",
                where=self.task_id,
            )

    # -- pulling ---------------------------------------------------------------------------
    def _collect(
        self,
        hook: Any,
        fmt: str,
        start: datetime | None,
        end: datetime | None,
        spill: SortedSpill,
        columns: Columns,
        keep: Callable[[str, str], bool] | None = None,
    ) -> int:
        """Stream the window's records into ``spill``; returns how many arrived. A long pull logs
        its progress about every :data:`PROGRESS_EVERY` seconds (:class:`PullProgress`)."""

        add, key, received = spill.add, self.sort_key, 0
        progress = PullProgress(self.log, PROGRESS_EVERY)
        tick = progress.tick
        for record in self._records(hook, start, end, progress):
            received += 1
            tick(received)
            is_object = type(record) is dict
            sort_key = key(record) if is_object else ""  # not an object: keep it, first
            line = canonical(record)
            if keep is not None and not keep(sort_key, line):
                continue
            if fmt != "jsonl":
                columns.add(record)
            add(sort_key, line)
        return received

    def _records(
        self, hook: Any, start: datetime | None, end: datetime | None, progress: PullProgress
    ) -> Iterator[Any]:
        """The window's records: sub-windows in parallel threads under an adaptive limit, or a
        sequential pull (``max_concurrency=1``, Team Members' snapshot, a window too short to split)."""

        if start is None or end is None or not self.windowed:
            return self.fetch(hook, start, end)  # type: ignore[arg-type]
        fetch: Any = self.fetch  # windowed operators take the paging overrides

        def whole() -> Iterator[Any]:
            # Widened by the resolution and trimmed back as every sub-window is: a server reading
            # coarser than the window's end would otherwise drop the events of its last unit.
            records: Iterator[Any] = fetch(hook, start, end, margin=self.time_resolution)
            return records

        if self.max_concurrency <= 1:
            return whole()
        return concurrent_records(
            hook,
            start,
            end,
            whole=whole,
            part=lambda begin, finish: fetch(hook, begin, finish, read_ahead=0, margin=self.time_resolution),
            cap=self.max_concurrency,
            resolution=self.time_resolution,
            log=self.log,
            on_window_done=progress.windows,
            on_idle=progress.idle,
        )

    def _pull_and_write(
        self,
        hook: Any,
        fmt: str,
        start: datetime | None,
        end: datetime | None,
        *,
        state: HighWaterMark | None,
        context: Context,
    ) -> dict[str, Any]:

        path = str(self.output_path)
        window = f" for [{start.isoformat()}, {end.isoformat()})" if start and end else ""
        self.log.info("Pulling %s%s into %s (%s)", type(self).__name__, window, self.shown_path, fmt)
        columns = Columns(self.columns, types=fmt == "parquet")
        keep, overlap, skipped = None, None, [0]
        if state is not None:
            seen, overlap = set(state.seen), Overlap(self.overlap)

            def keep(sort_key: str, line: str) -> bool:
                digest = record_digest(line)
                overlap.add(canonical_ts(sort_key), digest)
                if digest in seen:
                    skipped[0] += 1
                    return False
                return True

        began = time.monotonic()
        with scratch_dir(self.spill_dir) as scratch:  # a killed run's folder goes with the next run
            spill = SortedSpill(scratch)
            received = self._collect(hook, fmt, start, end, spill, columns, keep)
            if state is not None:
                self._check_state_unchanged(context)
            pulled = time.monotonic()
            count = write_records(path, fmt, spill.merged(), columns)
        self.log.info(
            "Wrote %d records (%d received, %d duplicates dropped, %d delivered by an earlier run) to %s; "
            "pulled in %.1f s, ordered and written in %.1f s",
            count,
            received,
            received - skipped[0] - count,
            skipped[0],
            self.shown_path,
            pulled - began,
            time.monotonic() - pulled,
        )
        result: dict[str, Any] = {
            "path": self.shown_path,
            "records": count,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
        }
        if state is not None and overlap is not None:
            result["high_water_mark"] = self._save_mark(context, state, overlap, end)
        return result

    def _save_mark(
        self, context: Context, state: HighWaterMark, overlap: Overlap, end: datetime | None
    ) -> str | None:
        """After the file is written: the newest timestamp so far and the overlap's digests."""
        mark: str | None
        if overlap.newest is not None and (state.mark is None or overlap.newest >= state.mark):
            mark, seen = overlap.newest, sorted({d for _, d in overlap.kept()} | overlap.untimed)
        else:
            # Nothing at or after the old mark came back (its event was deleted, or the window
            # ended earlier): the old overlap still applies, plus what this run delivered in it
            # (late events below the mark), or the next run delivers those again.
            mark, seen = state.mark, state.seen
            if mark is not None:
                floor = overlap.floor(mark)
                seen = sorted(set(seen) | {d for ts, d in overlap.kept() if ts >= floor} | overlap.untimed)
        start_state = HighWaterMark(mark=state.mark, seen=state.seen, run_id=state.run_id, until=state.until)
        new = HighWaterMark(
            mark=mark,
            seen=seen,
            run_id=str(context.get("run_id") or "") or None,
            previous=start_state.to_json(),
            until=end.isoformat() if end is not None else state.until,
        )
        save_state(context, self.high_water_mark_variable, new)
        self.log.info("High-water mark is now %s (%d records of its overlap remembered)", mark, len(seen))
        return mark

    # -- re-check of recent intervals ------------------------------------------------------
    def _recheck_targets(
        self, context: Context, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime, str]]:
        """Each earlier interval with its file, checked before any call (see :func:`recheck_targets`)."""

        def render(begin: datetime, finish: datetime) -> str:
            template, shifted = self._output_path_template, shifted_context(context, begin, finish)
            return str(cast(Any, self).render_template(template, shifted))

        return recheck_targets(
            render, str(self.output_path), start, end, self.recheck_intervals, self.task_id
        )

    def _recheck(self, hook: Any, fmt: str, targets: list[tuple[datetime, datetime, str]]) -> dict[str, Any]:

        checked = rewritten = late = 0
        missing: list[str] = []
        shrunk: list[str] = []
        for begin, finish, path in targets:
            before = count_records(path, fmt)
            if before is None:  # never pulled (catchup off, or older than the DAG): not ours to create
                missing.append(redact_uri(path))
                continue
            checked += 1
            columns = Columns(self.columns, types=fmt == "parquet")
            with scratch_dir(self.spill_dir) as scratch:
                spill = SortedSpill(scratch)
                self._collect(hook, fmt, begin, finish, spill, columns)
                with tempfile.TemporaryFile("w+", encoding="utf-8", dir=scratch) as spool:
                    now = 0
                    for line in spill.merged():
                        spool.write(line)
                        now += 1
                    changed = now > before
                    if now == before and now:
                        # Same count, maybe not the same events (one arrived late while another
                        # was removed): compare with what a pull writes now, byte for byte.
                        spool.seek(0)
                        candidate = os.path.join(scratch, "recheck-candidate")
                        write_records(candidate, fmt, iter(spool), columns)
                        changed = not same_bytes(path, candidate)
                        if changed:
                            self.log.warning(
                                "Re-check [%s, %s): Celonis returns as many records as %s holds (%d) "
                                "but different records (a late event and a removed one, or a changed "
                                "event): rewriting it with what Celonis returns now",
                                begin.isoformat(),
                                finish.isoformat(),
                                redact_uri(path),
                                now,
                            )
                    if changed:
                        spool.seek(0)
                        write_records(path, fmt, iter(spool), columns)
                        rewritten += 1
                        late += now - before
            if now < before:
                # Fewer events than were delivered: deleted (retention, privacy requests) or a short
                # answer. Never shrink a delivered file on a guess; say so and keep it.
                shrunk.append(redact_uri(path))
                self.log.warning(
                    "Re-check [%s, %s): Celonis now returns %d records, %d fewer than %s holds; the file "
                    "was kept as it was. Pull the interval again explicitly if the events were deleted.",
                    begin.isoformat(),
                    finish.isoformat(),
                    now,
                    before - now,
                    redact_uri(path),
                )
                continue
            self.log.info(
                "Re-check [%s, %s): %d records in %s, %d now%s",
                begin.isoformat(),
                finish.isoformat(),
                before,
                redact_uri(path),
                now,
                f": rewritten with {now - before:+d} late events"
                if now != before
                else (": rewritten, different records" if changed else ": unchanged"),
            )
        summary = {
            "intervals_checked": checked,
            "intervals_rewritten": rewritten,
            "late_events": late,
            "intervals_missing": missing,
            "intervals_shrunk": shrunk,
        }
        self.log.info(
            "Re-checked %d earlier intervals: %d rewritten, %d late events found%s",
            checked,
            rewritten,
            late,
            (f"; {len(missing)} had no file and were skipped" if missing else "")
            + (f"; {len(shrunk)} have fewer events now and were kept" if shrunk else ""),
        )
        return summary
