"""Helpers for the data job / data model tests: a task context and the deferral round trip.

``run_deferred`` does what scheduler, triggerer and worker do, without them: the operator's
``execute`` must raise ``TaskDeferred``; the trigger is serialized and re-created from its
kwargs (as the triggerer does), its ``run()`` is driven in the test's event loop against the
emulator, and the single event it yields is handed to the method named in the deferral.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_celonis.client.transport import close_loop_session


class RecordingTI:
    """Stands in for the runtime task instance: records XCom pushes."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom values must be JSON-serializable
        self.xcom[key] = value


def make_context() -> dict[str, Any]:
    return {"ti": RecordingTI()}


def recreate(trigger: Any) -> Any:
    """Serialize a trigger and build it again from the kwargs alone, as the triggerer does."""
    classpath, kwargs = trigger.serialize()
    json.dumps(kwargs)  # must survive the metadata database
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


async def run_trigger(trigger: Any) -> list[dict[str, Any]]:
    """All events the trigger yields (the contract is: exactly one)."""
    events = [event.payload async for event in trigger.run()]
    await close_loop_session()
    return events


def fresh_instance(op: Any) -> Any:
    """A new operator built from the same constructor arguments, as Airflow resumes a deferral.

    Nothing set on ``op`` after ``__init__`` (private flags, cached hooks) carries over: a
    resume method that relies on such state fails here as it would in Airflow.
    """
    kwargs = dict(op._BaseOperator__init_kwargs)  # recorded by BaseOperator's metaclass
    return type(op)(**kwargs)


async def run_deferred(op: Any, context: dict[str, Any]) -> Any:
    """execute -> TaskDeferred -> trigger.run() -> method_name(context, event) on a fresh instance."""
    with pytest.raises(TaskDeferred) as raised:
        op.execute(context)
    deferred = raised.value
    assert deferred.timeout is None, "a deferral timeout would skip the remote cancel"
    events = await run_trigger(recreate(deferred.trigger))
    assert len(events) == 1, events
    resumed = fresh_instance(op)
    return getattr(resumed, deferred.method_name)(context, events[0])


async def run_op(op: Any, context: dict[str, Any], deferrable: bool) -> Any:
    if deferrable:
        return await run_deferred(op, context)
    return op.execute(context)
