"""What differs between the Airflow 3 releases we support, imported in one place.

The provider supports Airflow 3.0 to 3.3 (task SDK 1.0 to 1.3). Names that moved between those
releases are imported here and only here, newest location first:

============================  ==========================================  ========================
name                          task SDK 1.2+ (Airflow 3.2+)                before
============================  ==========================================  ========================
``conf``                      ``airflow.sdk.conf``                        ``airflow.configuration``
``AirflowSkipException``      ``airflow.sdk.exceptions``                  ``airflow.exceptions``
``AirflowSensorTimeout``      ``airflow.sdk.exceptions``                  ``airflow.exceptions``
``TaskDeferred``              ``airflow.sdk.exceptions``                  ``airflow.exceptions``
``AirflowNotFoundException``  ``airflow.sdk.exceptions``                  ``airflow.exceptions``
``has_fs``                    ``airflow.sdk.io.fs`` (3.1+)                ``airflow.io`` (3.0)
``Asset``                     ``airflow.sdk``                             ``airflow.sdk.definitions.asset``
============================  ==========================================  ========================

``PROVIDER_INFO_CARRIES_FORM`` is true from Airflow 3.2, which reads the connection form from
provider info and deprecates the hook's ``get_ui_field_behaviour``; 3.0 and 3.1 read only the hook.

``TRIGGERS_CAN_WRITE_VARIABLES`` is true from Airflow 3.1, whose triggerer relays ``Variable.set``
from trigger code (3.0 relays reads only); the event triggers (``triggers/events.py``) keep their
cursor in memory before that. ``BaseEventTrigger`` (``airflow.triggers.base``) and ``AssetWatcher``
(``airflow.sdk``) exist on every 3.x; 3.3 adds shared poll streams and an asset state store to
event triggers, which the provider does not need.

Everything else we use (``BaseOperator``, ``BaseSensorOperator``, ``PokeReturnValue``,
``BaseOperatorLink``, ``Connection``, ``Context``, ``ObjectStoragePath``) is in ``airflow.sdk``
on every 3.x and is imported from there directly. ``make compat`` imports every module of the
built wheel on Airflow 3.0, 3.1 and 3.3; add a name here when it finds one that moved.

On the old releases the fallback objects are the very classes Airflow's task runner catches
(on 3.2+ ``airflow.exceptions`` re-exports the SDK's), so raising them behaves the same.

Type checkers see the newest location (the development environment pins the newest Airflow).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow import __version__ as AIRFLOW_VERSION

if TYPE_CHECKING:
    from airflow.sdk import Asset, Connection, conf
    from airflow.sdk.exceptions import (
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferred,
    )
    from airflow.sdk.io.fs import has_fs
else:
    try:
        from airflow.sdk import conf
    except ImportError:  # task SDK < 1.2 (Airflow 3.0, 3.1)
        from airflow.configuration import conf

    try:
        from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
    except ImportError:  # task SDK < 1.2 (Airflow 3.0, 3.1)
        from airflow.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred

    try:
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:  # task SDK < 1.2: the SDK raises core's class
        from airflow.exceptions import AirflowNotFoundException

    try:
        from airflow.sdk import Asset
    except ImportError:  # a task SDK that does not re-export it at the top
        from airflow.sdk.definitions.asset import Asset

    try:
        from airflow.sdk.io.fs import has_fs
    except ImportError:  # Airflow 3.0: the SDK's ObjectStoragePath uses core's registry
        from airflow.io import has_fs


def _minor(version: str) -> tuple[int, int]:
    major, minor = [*re.findall(r"\d+", version), "0", "0"][:2]
    return int(major), int(minor)


PROVIDER_INFO_CARRIES_FORM = _minor(AIRFLOW_VERSION) >= (3, 2)

TRIGGERS_CAN_WRITE_VARIABLES = _minor(AIRFLOW_VERSION) >= (3, 1)
"""The triggerer relays ``Variable.set`` from trigger code from Airflow 3.1 (3.0 relays only
reads), so the event triggers keep their durable cursor in a Variable only from 3.1."""

OUTLETS_RUN_UNDER_DAGS_TEST = _minor(AIRFLOW_VERSION) >= (3, 1)
"""Airflow 3.0's ``airflow dags test`` fails every task that has an Asset in its outlets
(``AirflowInactiveAssetInInletOrOutletException``: nothing activates the asset without a
scheduler), so the operators declare their Assets by themselves only from 3.1; on 3.0 a user who
wants one passes ``outlets=`` (docs/lineage.md)."""

__all__ = [
    "AIRFLOW_VERSION",
    "OUTLETS_RUN_UNDER_DAGS_TEST",
    "PROVIDER_INFO_CARRIES_FORM",
    "TRIGGERS_CAN_WRITE_VARIABLES",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "TaskDeferred",
    "aget_connection",
    "conf",
    "has_fs",
]


async def aget_connection(hook: Any, conn_id: str) -> Connection:
    """A connection looked up without blocking the event loop, wherever it is stored.

    Airflow's ``BaseHook.aget_connection`` (3.1+) asks the supervisor asynchronously. Under
    ``airflow dags test`` the trigger runs in-process with a test supervisor whose comms have no
    async channel (Airflow 3.3), so that lookup skips the metadata database and reports a
    connection made with ``airflow connections add`` as undefined, while environment variables
    and secrets backends still answer. The synchronous lookup uses the supervisor that does answer,
    so a "not found" is asked once more that way, in a thread; a connection that is really
    missing is still reported as missing. Airflow 3.0 has no async lookup at all.
    """
    from asgiref.sync import sync_to_async

    aget = getattr(hook, "aget_connection", None)
    if aget is not None:
        try:
            connection: Connection = await aget(conn_id)
            return connection
        except AirflowNotFoundException:
            pass
    connection = await sync_to_async(hook.get_connection)(conn_id)
    return connection
