"""The shared base of the usage extract operators: window, validation, streaming, ordering, output.

One pull is: validate every argument (no network), open a :class:`CelonisUsageHook`, stream
the API's records (sub-windows pulled in parallel threads, see
:mod:`~airflow_provider_celonis.extracts.concurrency`; a sequential pull reads pages ahead in a
thread), spill them into sorted runs, merge them in order without duplicates
into a temporary file, rename it to ``output_path``. Only a small summary goes to XCom.
The run itself (settle period, pull, re-check, high-water mark) is
:class:`~airflow_provider_celonis.extracts.pull.PullMixin`; this module holds the arguments and
their checks.

Subclasses name the hook generator to call (:meth:`CelonisExtractOperator.fetch`) and the
field records are ordered by.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_celonis.client.arguments import check_int, check_number, check_window
from airflow_provider_celonis.client.paths import redact_uri, redact_uris_in, uri_password
from airflow_provider_celonis.client.timestamps import canonical_ts
from airflow_provider_celonis.compat import conf
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.extracts.late_data import DEFAULT_OVERLAP, check_period
from airflow_provider_celonis.extracts.outputs import check_format, check_output_path
from airflow_provider_celonis.extracts.pull import PullMixin
from airflow_provider_celonis.lineage.assets import declare_outlets, output_asset_uri

if TYPE_CHECKING:
    from airflow.sdk import Context

MAX_PAGE_SIZE = 200
"""The usage APIs refuse (400) or clamp a larger ``pageSize``."""
MAX_READ_AHEAD = 8
"""Each page read ahead is held in memory, and up to ``read_ahead + 1`` calls go past the end."""
MAX_CONCURRENCY = 16
"""Sub-windows pulled at once; the hook's connection pool keeps 10 connections alive."""
DEFAULT_MAX_CONCURRENCY = 8
MAX_TIME_RESOLUTION = 86_400.0
"""A day: an API that takes dates only."""
MAX_RECHECK = 62
"""Re-checking more intervals than about two months of days is better done as a backfill."""


class CelonisExtractOperator(PullMixin, BaseOperator):
    """Pull one API's records for a window into ``output_path``, ordered and de-duplicated.

    :param output_path: file path or ``ObjectStoragePath`` URI (``file://``, ``s3://``, ...);
        templated, e.g. ``"/data/audit/{{ ds }}.jsonl"``.
    :param celonis_conn_id: the ``celonis`` connection.
    :param output_format: ``jsonl`` (default), ``csv`` or ``parquet`` (extra ``[parquet]``).
    :param start: window start, templated; default the run's ``data_interval_start``.
    :param end: window end (exclusive), templated; default the run's ``data_interval_end``.
    :param page_size: records per request (the APIs allow at most 200).
    :param hook_params: keyword arguments for :class:`CelonisUsageHook` (retries, timeout,
        ``api_prefixes``).
    :param spill_dir: where sorted runs go while pulling (default: the system temp dir).
    :param read_ahead: pages fetched ahead in a thread while the current one is processed,
        when the pull is sequential (``max_concurrency=1``, or Team Members); 0 turns it off.
    :param max_concurrency: at most this many page requests in flight at once: the window is
        cut into sub-windows pulled in parallel threads, starting with 4 in flight and growing
        while Celonis answers fast and clean, halving on 429/5xx (default 8, 1 to 16; 1 pulls
        sequentially). The output is the same bytes either way.
    :param settle_period: seconds (or a timedelta) a window's end must lie in the past before
        it is pulled, so late events are queryable; default: the connection extra
        ``settle_period``, else 900 (15 minutes). 0 turns it off. Old windows never wait.
    :param deferrable: wait for the settle period in the triggerer (no worker slot held);
        defaults to ``[operators] default_deferrable``.
    :param recheck_intervals: after the pull, pull the N previous intervals again and rewrite
        the file of any whose record count changed (late events); 0 (default) turns it off.
    :param since_last_load: start at the previous run's last event timestamp minus ``overlap``
        instead of the data interval's start, dropping records already delivered.
    :param high_water_mark_variable: keep the "since last load" state in this Airflow Variable
        (default: this task's XCom of the previous run).
    :param overlap: seconds (or a timedelta) before the high-water mark to pull again; default 3600.
    :param time_resolution: seconds, the coarsest step in which the API may read ``from``/``to``
        (default: the operator's :attr:`time_resolution`). Sub-window bounds fall on multiples
        of it and each sub-window's request is widened by it on each side, so a server that
        cuts the bounds down to its own resolution loses nothing; a window shorter than ten
        units is pulled whole. Raise it when an API turns out coarser (86400 for dates).
    """

    template_fields: Sequence[str] = ("output_path", "start", "end")
    ui_color = "#9cd6f9"
    windowed = True
    sort_field = "timestamp"
    columns: tuple[str, ...] = ()
    time_resolution: float = 0.001
    """Seconds: the coarsest step of the API's ``from``/``to``; sub-window requests are widened by
    it on each side and trimmed client-side, so boundary events land once whatever the server's
    bound inclusivity."""

    def __init__(
        self,
        *,
        output_path: str,
        celonis_conn_id: str = "celonis_default",
        output_format: str = "jsonl",
        start: datetime | str | None = None,
        end: datetime | str | None = None,
        page_size: int = 200,
        hook_params: dict[str, Any] | None = None,
        spill_dir: str | None = None,
        read_ahead: int = 2,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        settle_period: float | timedelta | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        recheck_intervals: int = 0,
        since_last_load: bool = False,
        high_water_mark_variable: str | None = None,
        overlap: float | timedelta = DEFAULT_OVERLAP,
        time_resolution: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        declare_outlets(self, kwargs, output_asset_uri(output_path))  # docs/lineage.md; outlets= wins
        self._output_path_template = output_path  # re-rendered per interval by the re-check
        self.output_path = output_path
        self.celonis_conn_id = celonis_conn_id
        self.output_format = output_format
        self.start = start
        self.end = end
        self.page_size = page_size
        self.hook_params = dict(hook_params or {})
        self.spill_dir = spill_dir
        self.read_ahead = read_ahead
        self.max_concurrency = max_concurrency
        self.deferrable = deferrable
        self.since_last_load = since_last_load
        self.high_water_mark_variable = high_water_mark_variable or None
        if self.high_water_mark_variable is not None and not isinstance(self.high_water_mark_variable, str):
            raise CelonisConfigurationError(
                "high_water_mark_variable",
                f"is {high_water_mark_variable!r}",
                "name an Airflow Variable, e.g. 'celonis_audit_high_water_mark', or leave it unset for XCom",
                where=self.task_id,
            )
        if not isinstance(since_last_load, bool):
            raise CelonisConfigurationError(
                "since_last_load", f"is {since_last_load!r}", "use True or False", where=self.task_id
            )
        # Not templated: checked now, at parse time, without I/O.
        self._check_paging()
        self._check_concurrency()
        self.settle_period = (
            None if settle_period is None else check_period("settle_period", settle_period, self.task_id)
        )
        self.overlap = check_period("overlap", overlap, self.task_id)
        if time_resolution is not None:
            self.time_resolution = check_number(
                "time_resolution", time_resolution, above=0, maximum=MAX_TIME_RESOLUTION, where=self.task_id
            )
        self.recheck_intervals = check_int(
            "recheck_intervals", recheck_intervals, minimum=0, maximum=MAX_RECHECK, where=self.task_id
        )
        if (since_last_load or recheck_intervals) and not self.windowed:
            raise CelonisConfigurationError(
                "since_last_load" if since_last_load else "recheck_intervals",
                f"is set on {type(self).__name__}, which pulls a snapshot, not a window",
                "remove it",
                where=self.task_id,
            )
        if since_last_load and recheck_intervals:
            raise CelonisConfigurationError(
                "recheck_intervals",
                "cannot be combined with since_last_load (its runs have no fixed intervals to re-check)",
                "choose one: since_last_load with an overlap, or interval files with recheck_intervals",
                where=self.task_id,
            )

    # -- subclass interface ----------------------------------------------------------------
    def fetch(self, hook: Any, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """The hook generator's records. Windowed subclasses take ``**paging`` too, overriding
        :meth:`paging`'s keyword arguments (the concurrent pull passes ``read_ahead`` and ``margin``)."""
        raise NotImplementedError

    def paging(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """``page_size`` and ``read_ahead`` for the hook generator, plus ``overrides`` (a
        concurrent pull passes ``read_ahead=0`` and the boundary ``margin``)."""
        return {"page_size": self.page_size, "read_ahead": self.read_ahead, **overrides}

    def make_hook(self) -> Any:
        """The hook :meth:`fetch` receives (a :class:`CelonisUsageHook` for the usage extracts)."""
        from airflow_provider_celonis.hooks.usage import CelonisUsageHook

        return CelonisUsageHook(self.celonis_conn_id, **self.hook_params)

    def _check_paging(self) -> None:
        """``page_size`` and ``read_ahead`` as the usage APIs take them."""
        if (
            not isinstance(self.page_size, int)
            or isinstance(self.page_size, bool)
            or not 1 <= self.page_size <= MAX_PAGE_SIZE
        ):
            raise CelonisConfigurationError(
                "page_size",
                f"is {self.page_size!r}",
                f"use 1 to {MAX_PAGE_SIZE} (default {MAX_PAGE_SIZE})",
                where=self.task_id,
            )
        if (
            not isinstance(self.read_ahead, int)
            or isinstance(self.read_ahead, bool)
            or not 0 <= self.read_ahead <= MAX_READ_AHEAD
        ):
            raise CelonisConfigurationError(
                "read_ahead",
                f"is {self.read_ahead!r}",
                f"use 0 (off) to {MAX_READ_AHEAD}; default 2",
                where=self.task_id,
            )

    def _check_concurrency(self) -> None:
        self.max_concurrency = check_int(
            "max_concurrency", self.max_concurrency, minimum=1, maximum=MAX_CONCURRENCY, where=self.task_id
        )

    def _check_spill_dir(self) -> None:
        """``spill_dir``, when given, must be an existing folder the worker may write to."""
        if self.spill_dir in (None, ""):
            self.spill_dir = None
            return
        folder = str(self.spill_dir)
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK | os.X_OK):
            raise CelonisConfigurationError(
                "spill_dir",
                f"({folder}) is not an existing writable directory",
                "create it, choose a folder the Airflow worker may write to, or leave spill_dir unset "
                "for the system temp dir",
                where=self.task_id,
            )

    def _check_options(self) -> None:
        """Subclasses check their own arguments here (before any network call)."""

    def _check_api_version(self) -> None:
        version = getattr(self, "api_version", 1)
        if type(version) is not int or version not in (1, 2):
            raise CelonisConfigurationError(
                "api_version", f"is {version!r}", "use 1 or 2", where=self.task_id
            )

    def sort_key(self, record: dict[str, Any]) -> str:
        """Records sort by this string (no tab or newline in it), then by their canonical JSON."""
        return canonical_ts(record.get(self.sort_field)) or ""

    # -- validation ------------------------------------------------------------------------
    def _window(self, context: Context) -> tuple[datetime | None, datetime | None]:

        if not self.windowed:
            return None, None
        explicit_start, explicit_end = self.start not in (None, ""), self.end not in (None, "")
        if self.since_last_load:
            # The end is "now" (capped by the settle period later); the start matters only until
            # a first high-water mark exists.
            from airflow_provider_celonis.extracts.late_data import utcnow

            first = self.start if explicit_start else context.get("data_interval_start")
            last = self.end if explicit_end else utcnow()
            return check_window(first if first is not None else last, last)
        start = self.start if explicit_start else context.get("data_interval_start")
        end = self.end if explicit_end else context.get("data_interval_end")
        for name, value in (("start", start), ("end", end)):
            if value is None:
                raise CelonisConfigurationError(
                    name,
                    "is not set and the run has no data interval",
                    "pass start and end explicitly, or run the task from a DAG with a schedule",
                    where=self.task_id,
                )
        assert start is not None
        assert end is not None
        if not (explicit_start and explicit_end) and start == end:
            # Airflow 3's cron schedules default to CronTriggerTimetable, whose runs have an
            # empty data interval: a silent zero-record pull every night is worse than an error.
            raise CelonisConfigurationError(
                "start",
                f"defaults to the run's data interval, which is empty ({start} to {end})",
                "schedule the DAG with a timetable that has intervals, e.g. "
                'CronDataIntervalTimetable("@daily", timezone="UTC"), or pass start and end',
                where=self.task_id,
            )
        return check_window(start, end)

    def _validate(self, context: Context) -> tuple[str, datetime | None, datetime | None]:

        fmt = check_format(self.output_format)
        try:
            check_output_path(str(self.output_path))
        except CelonisConfigurationError as error:  # its text may quote credentials of the URI
            raise CelonisConfigurationError(
                error.field,
                redact_uris_in(error.problem),
                redact_uris_in(error.fix or ""),
                where=self.task_id,
            ) from None
        self._check_paging()
        self._check_concurrency()
        self._check_options()
        self._check_spill_dir()
        start, end = self._window(context)
        return fmt, start, end

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render, then register the password of an ``output_path`` URI with Airflow's masker, so
        rendered fields and logs show ``***`` (this runs before Airflow stores rendered fields)."""
        super().render_template_fields(context, jinja_env)
        from airflow_provider_celonis.client.transport import mask

        if "://" in str(self.output_path):
            # Only the password, whole even when it holds an unencoded '/' (AWS secret keys do):
            # a bare userinfo is usually a connection id (s3://aws_default@bucket), and masking it
            # would hide that name everywhere in the task log.
            mask(uri_password(self.output_path))

    # -- lineage (docs/lineage.md) --------------------------------------------------------
    def _pull_and_write(self, hook: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The pull, then keep what lineage reports: the final path (never the temporary file)."""
        from airflow_provider_celonis.lineage.facts import remember, team_url_of

        remember(self, team_url=team_url_of(hook))  # before the pull: a failed run still names its input
        result: dict[str, Any] = super()._pull_and_write(hook, *args, **kwargs)
        remember(
            self, team_url=team_url_of(hook), output=str(self.output_path), records=result.get("records")
        )
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the API in, the final ``output_path`` out with its record count."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_complete
        from airflow_provider_celonis.lineage.reports import extract_report

        return facets_on_complete(self, extract_report)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """OpenLineage of a failed run: its inputs and Celonis id, no output (docs/lineage.md)."""
        from airflow_provider_celonis.lineage.openlineage import facets_on_failure
        from airflow_provider_celonis.lineage.reports import extract_report

        return facets_on_failure(self, extract_report)

    @property
    def shown_path(self) -> str:
        """``output_path`` as logs, XCom and errors show it: credentials replaced by ``***``."""
        return redact_uri(self.output_path)
