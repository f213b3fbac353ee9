"""Map a wait's final event to the task's outcome: return, skip, or a typed exception.

Operators and sensors, sync and deferrable, all end here with the same event dict (built by
:mod:`airflow_provider_celonis.waiting.decisions`), so "SKIPPED means skipped" and "failure carries
Celonis's ERROR lines" hold in every mode. Timeouts are left to the caller: an operator that
started a run cancels it first; a sensor that only watched does not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from airflow_provider_celonis import exceptions
from airflow_provider_celonis.compat import AirflowSkipException
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisError,
    CelonisJobFailedError,
    CelonisJobTimeoutError,
)
from airflow_provider_celonis.waiting.push_wait import NOT_EXECUTED
from airflow_provider_celonis.waiting.status import ERROR, SKIPPED, SUCCESS, TIMEOUT
from airflow_provider_celonis.waiting.waits import RunEvent

log = logging.getLogger(__name__)

KNOWN_EVENTS = (SUCCESS, SKIPPED, ERROR, TIMEOUT)
ON_SKIPPED = ("skip", "success", "fail")


def check_on_skipped(value: Any) -> str:
    """The ``on_skipped`` argument: what a job-level SKIPPED execution means for the task."""
    text = str(value).strip().lower()
    if text not in ON_SKIPPED:
        raise CelonisConfigurationError("on_skipped", f"is {value!r}", "use 'skip', 'success' or 'fail'")
    return text


def check_event(event: Any, role: str = "own") -> dict[str, Any]:
    """A malformed event (a bug, or a foreign trigger) fails loudly instead of passing as success.

    ``role`` is the wait the caller expects (see :mod:`airflow_provider_celonis.waiting.waits`): the
    "success" that ends a wait for someone else's run (``blocker``) must never become the
    task's success, nor the reverse. Events without ``role`` are the task's own (or a sensor's).
    """
    if not isinstance(event, dict) or event.get("status") not in KNOWN_EVENTS:
        raise CelonisJobFailedError(f"Unexpected trigger event {event!r}; failing closed.")
    if str(event.get("role") or "own") != role:
        raise CelonisJobFailedError(
            f"A trigger event of a {event.get('role') or 'own'!r} wait arrived where a {role!r} "
            f"verdict was expected: {event!r}; failing closed."
        )
    if event["status"] == ERROR and isinstance(event.get("poll_error"), dict):
        raise poll_error_to_exception(event)
    return event


def run_event(event: Any, role: str = "own") -> RunEvent:
    """A job or load event, checked (:func:`check_event`) and typed; a malformed one fails closed."""
    checked = check_event(event, role)
    try:
        return RunEvent.from_payload(checked)
    except (TypeError, ValueError) as err:
        raise CelonisJobFailedError(f"Malformed trigger event {event!r} ({err}); failing closed.") from err


def check_target(event: Any, data_pool_id: str, **target: str) -> None:
    """An event about another pool, job or model (an altered row, a trigger built for another
    task) fails closed: it must never become this task's verdict."""
    got = event if isinstance(event, dict) else {}
    for name, value in {"data_pool_id": data_pool_id, **target}.items():
        if str(got.get(name)) != str(value):
            raise CelonisJobFailedError(
                f"The trigger event names another {name} ({got.get(name)!r}) than this task's "
                f"({value!r}); failing closed: {event!r}"
            )


def blocker_ended(event: Any, data_pool_id: str, what: str, **target: str) -> float | None:
    """The deadline to start ours with, once the runs in progress ended (deferred ``if_running="wait"``).

    Shared by the data job and data model operators' ``execute_after_blocker``: an event about
    another target fails closed, and a timeout while others' runs were going fails the task
    having started nothing (there is nothing of ours to cancel).
    """
    check_target(event, data_pool_id, **target)
    if run_event(event, role="blocker").status == TIMEOUT:
        raise CelonisJobTimeoutError(
            f"{what}: {event['message']}; this task started nothing.",
            cancelled=False,
            fix="raise the operator's timeout, or use if_running='fail' or 'reuse'",
        )
    deadline = event.get("deadline")
    return float(deadline) if deadline is not None else None


def poll_error_to_exception(event: dict[str, Any]) -> CelonisError:
    """The trigger's status poll failed (401/403/404, a bug): the run's status is unknown.

    Raised as the type the sync wait raises for the same answer (``CelonisPermissionError``
    ...), with Celonis's message, never as "the job failed": the run may still be going.
    """
    error = event["poll_error"]
    run = (
        f"execution {event['execution_id']}"
        if event.get("execution_id")
        else f"push job {event['job_id']}"
        if event.get("job_id")
        else "the run"
    )
    scope = ", ".join(
        f"{key} {event[key]}" for key in ("data_pool_id", "data_job_id", "data_model_id") if event.get(key)
    )
    message = (
        f"Status unknown ({scope}): the status poll failed with {error.get('type')}: "
        f"{error.get('message')}; {run} may still run in Celonis."
    )
    cls = getattr(exceptions, str(error.get("type")), None)
    if isinstance(cls, type) and issubclass(cls, exceptions.CelonisApiError) and error.get("status"):
        return cls(
            message,
            status=int(error["status"]),
            method=str(error.get("method") or "GET"),
            path=str(error.get("path") or ""),
            error_code=error.get("error_code"),
        )
    return CelonisError(message)


def job_error_lines(hook: Any, event: dict[str, Any]) -> list[str]:
    """Celonis's ERROR log lines of a failed execution; best effort (a failure to read them is logged)."""
    execution_id = event.get("execution_id")
    if not execution_id or event.get("execution_status") not in ("FAIL", "CANCEL"):
        return []
    try:
        lines: list[str] = hook.get_error_lines(event["data_pool_id"], event["data_job_id"], execution_id)
    except CelonisError as err:
        log.warning("Could not read the execution's error log from Celonis: %s", err)
        return []
    return lines


def finish_job(event: dict[str, Any], hook: Any, on_skipped: str = "skip") -> str | None:
    """Success returns the execution id; SKIPPED follows ``on_skipped`` (skip: AirflowSkipException;
    success: the execution id; fail: CelonisJobFailedError); error raises CelonisJobFailedError."""
    status = run_event(event).status
    where = f"Data job {event.get('data_job_id')} in pool {event.get('data_pool_id')}"
    execution_id = event.get("execution_id")
    if status == SKIPPED and on_skipped != "skip":
        log.warning("%s: Celonis skipped execution %s; on_skipped=%r.", where, execution_id, on_skipped)
        if on_skipped == "fail":
            raise CelonisJobFailedError(
                f"{where}: {event['message']} (execution {execution_id}); on_skipped='fail'.",
                status=event.get("execution_status"),
                execution_id=execution_id,
                fix="look at why Celonis skipped the job (disabled tasks?), or set on_skipped",
            )
        status = SUCCESS
    if status == SUCCESS:
        log.info("%s: %s (execution %s).", where, event["message"], execution_id)
        return None if execution_id is None else str(execution_id)
    if status == SKIPPED:
        raise AirflowSkipException(f"{where}: {event['message']} (execution {execution_id}).")
    if status == ERROR:
        raise CelonisJobFailedError(
            f"{where}: {event['message']} (execution {execution_id}).",
            status=event.get("execution_status"),
            execution_id=execution_id,
            error_lines=job_error_lines(hook, event),
            fix="open the job's execution log in Celonis (see the task's Celonis Data Job link)",
        )
    raise AssertionError(f"timeout events are handled by the caller: {event!r}")  # pragma: no cover


def job_timeout_error(
    event: dict[str, Any], timeout: float | None, cancelled: bool, problem: str | None
) -> CelonisJobTimeoutError:
    """The error of a data job whose wait passed its timeout, saying whether the cancel worked."""
    what = "cancelled it" if cancelled else f"could NOT cancel it ({problem})"
    return CelonisJobTimeoutError(
        f"Data job {event.get('data_job_id')} in pool {event.get('data_pool_id')}: {event['message']} "
        f"(timeout {timeout} s); the operator {what}.",
        execution_id=event.get("execution_id"),
        cancelled=cancelled,
        fix="raise the operator's timeout, or look at why the job is slow in Celonis",
    )


def finish_push(
    event: dict[str, Any],
    where: str,
    timeout: float | None,
    *,
    stop_after_timeout: Callable[[str], tuple[bool, str]],
    delete: Callable[[str], bool],
) -> dict[str, Any]:
    """A push job's outcome: DONE returns the summary with ``job_id``, ``status`` and a
    ``message`` to log; a timeout stops the job first (``stop_after_timeout`` says what became
    of it); a job never executed is deleted (``delete``); ERROR carries the job's log lines."""
    status = check_event(event)["status"]
    job_id = str(event.get("job_id"))
    if status == SUCCESS:
        # The summary rode through the trigger's kwargs: it never replaces the polled job's id.
        result = {**(event.get("summary") or {}), "job_id": job_id, "status": event.get("job_status")}
        return {**result, "message": f"{where}: {event['message']}; {result}"}
    if status == TIMEOUT:
        cancelled, what = stop_after_timeout(job_id)
        raise CelonisJobTimeoutError(
            f"{where}: {event['message']} (timeout {timeout} s); {what}.",
            execution_id=job_id,
            cancelled=cancelled,
            fix="raise the operator's timeout, or look in the data pool why the push is slow",
        )
    if status == ERROR and event.get("reason") == NOT_EXECUTED:
        what = "deleted it and its chunks" if delete(job_id) else "could NOT delete it (delete it in Celonis)"
        raise CelonisJobFailedError(
            f"{where}: {event['message']}; the operator {what}.",
            status=event.get("job_status"),
            execution_id=job_id,
            fix="retry the task: it creates a new job and uploads the files again "
            "(the execute call's answer was lost and Celonis never ran this job)",
        )
    if status == ERROR:
        raise CelonisJobFailedError(
            f"{where}: {event['message']}.",
            status=event.get("job_status"),
            execution_id=job_id,
            error_lines=list(event.get("logs") or []),
            fix="compare the file's columns and keys with the table (see the Celonis Data Pool link)",
        )
    raise CelonisJobFailedError(f"{where}: unexpected event {event!r}; failing closed.")


def finish_load(event: dict[str, Any]) -> str | None:
    """Success returns the data load id (WARNING is logged); error raises CelonisJobFailedError."""
    status = run_event(event).status
    where = f"Data model {event.get('data_model_id')} in pool {event.get('data_pool_id')}"
    load_id = event.get("data_load_id")
    detail = f" Celonis says: {event['celonis_message']}" if event.get("celonis_message") else ""
    if status == SUCCESS:
        if event.get("load_status") == "WARNING":
            log.warning("%s: load %s finished with WARNING.%s", where, load_id, detail)
        else:
            log.info("%s: %s (load %s).", where, event["message"], load_id)
        return None if load_id is None else str(load_id)
    if status == ERROR:
        raise CelonisJobFailedError(
            f"{where}: {event['message']} (load {load_id}).{detail}",
            status=event.get("load_status"),
            execution_id=load_id,
            fix="open the data model's load history in Celonis",
        )
    if status == SKIPPED:  # loads have no SKIPPED; an event saying so is a bug: fail closed
        raise CelonisJobFailedError(f"{where}: unexpected skipped event for a data model load.")
    raise AssertionError(f"timeout events are handled by the caller: {event!r}")  # pragma: no cover
