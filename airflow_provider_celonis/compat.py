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
``has_fs``                    ``airflow.sdk.io.fs`` (3.1+)                ``airflow.io`` (3.0)
============================  ==========================================  ========================

Everything else we use (``BaseOperator``, ``BaseSensorOperator``, ``PokeReturnValue``,
``BaseOperatorLink``, ``Connection``, ``Context``, ``ObjectStoragePath``) is in ``airflow.sdk``
on every 3.x and is imported from there directly. ``make compat`` imports every module of the
built wheel on Airflow 3.0, 3.1 and 3.3; add a name here when it finds one that moved.

On the old releases the fallback objects are the very classes Airflow's task runner catches
(on 3.2+ ``airflow.exceptions`` re-exports the SDK's), so raising them behaves the same.

Type checkers see the newest location (the development environment pins the newest Airflow).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import conf
    from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException, TaskDeferred
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
        from airflow.sdk.io.fs import has_fs
    except ImportError:  # Airflow 3.0: the SDK's ObjectStoragePath uses core's registry
        from airflow.io import has_fs

__all__ = ["AirflowSensorTimeout", "AirflowSkipException", "TaskDeferred", "conf", "has_fs"]
