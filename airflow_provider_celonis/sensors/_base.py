"""What the Celonis sensors share: arguments, sync poke vs deferral, soft_fail, resume.

A sensor waits for a run someone else started (a Celonis schedule, another task) and never
starts or cancels anything. Subclasses say only what to read, how to judge it and how to
report it; both modes go through the same judge and finish functions, so a sensor gives the
same verdict (and XCom value: the run's id) whether it pokes or defers.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_celonis.client.arguments import check_duration, check_number
from airflow_provider_celonis.compat import AirflowSensorTimeout, AirflowSkipException, conf
from airflow_provider_celonis.exceptions import CelonisConfigurationError, CelonisError
from airflow_provider_celonis.operators._names import NamesInsteadOfIds
from airflow_provider_celonis.waiting.outcomes import check_target, run_event
from airflow_provider_celonis.waiting.status import TIMEOUT, as_seconds, deadline_after
from airflow_provider_celonis.waiting.sync_poll import TRANSIENT_ERRORS

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.triggers.base import BaseTrigger


class CelonisWaitSensor(NamesInsteadOfIds, BaseSensorOperator):
    """Base of :class:`CelonisDataJobSensor` and :class:`CelonisDataModelLoadSensor`.

    Names instead of ids (``data_pool_name``, and the subclass's object name) are checked by the
    subclass's ``__init__`` and resolved when the sensor runs and when it resumes.
    """

    def __init__(
        self,
        *,
        data_pool_id: str | None = None,
        data_pool_name: str | None = None,
        started_after: datetime | str | float | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        if poll_interval is not None:  # the operators' name for it; one of the two, not both
            if "poke_interval" in kwargs:
                raise CelonisConfigurationError(
                    "poll_interval", "is given together with poke_interval", "give only one of them"
                )
            kwargs["poke_interval"] = check_number("poll_interval", poll_interval, above=0)
        elif "poke_interval" in kwargs:
            check_duration("poke_interval", kwargs["poke_interval"])
        if "timeout" in kwargs:
            check_duration("timeout", kwargs["timeout"])
        super().__init__(**kwargs)
        self.data_pool_id, self.data_pool_name = data_pool_id or "", data_pool_name
        self.started_after = started_after
        self.deferrable = deferrable
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})
        self.celonis_url: str | None = None

    # -- what subclasses provide -----------------------------------------------------------
    def object_url(self) -> str:
        """The watched object in the Celonis UI (for the extra link)."""
        raise NotImplementedError

    def describe(self) -> str:
        """E.g. "Data job J in pool P", for timeout messages."""
        raise NotImplementedError

    def make_wait(self, deadline: float | None = None) -> Any:
        """The serializable wait (ids, ``started_after`` marker, deadline)."""
        raise NotImplementedError

    def make_trigger(self, wait: dict[str, Any], poll_interval: float) -> BaseTrigger:
        raise NotImplementedError

    def read(self) -> Any:
        """One snapshot of Celonis state (GETs only)."""
        raise NotImplementedError

    def judge(self, snapshot: Any) -> dict[str, Any] | None:
        """None while waiting, else an event payload (the same the trigger would yield)."""
        raise NotImplementedError

    def finish(self, verdict: dict[str, Any]) -> str | None:
        """Map a verdict to the run's id, a skip, or a typed exception."""
        raise NotImplementedError

    # -- the two modes -----------------------------------------------------------------------
    def execute(self, context: Context) -> Any:
        self.resolve_names()  # names to ids at run time, never at parse time
        self.celonis_url = self.object_url()
        if not self.deferrable:
            return super().execute(context)

        wait = self.make_wait(deadline_after(as_seconds(self.timeout))).to_json()
        trigger = self.make_trigger(wait, float(as_seconds(self.poke_interval) or 30.0))
        self.defer(trigger=trigger, method_name="execute_complete")

    def poke(self, context: Context) -> PokeReturnValue | bool:
        """One poll; done returns ``PokeReturnValue(True, xcom_value=<id>)``, like the deferrable path.

        A failure (failed run, 403, ...) under ``soft_fail`` skips, as it does when deferred
        (Airflow's ``resume_execution`` skips on any AirflowException with ``soft_fail``).
        """

        try:
            try:
                snapshot = self.read()
            except TRANSIENT_ERRORS as err:  # a blip is not a verdict: poke again
                self.log.warning("Could not read the status from Celonis (%s); poking again.", err)
                return False
            verdict = self.judge(snapshot)
            if verdict is None:
                return False
            return PokeReturnValue(True, xcom_value=self.finish(verdict))
        except CelonisError as err:
            if self.soft_fail:
                raise AirflowSkipException(f"Skipping due to soft_fail: {err}") from err
            raise

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str | None:
        self.resolve_names_on_resume(event)  # the event must name the objects the names mean now
        target = {k: getattr(self, k) for k in ("data_job_id", "data_model_id") if hasattr(self, k)}
        check_target(event, self.data_pool_id, **target)
        self.celonis_url = self.object_url()
        if run_event(event).status == TIMEOUT:
            raise AirflowSensorTimeout(f"{self.describe()}: {event['message']}.")
        return self.finish(event)
