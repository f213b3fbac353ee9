"""Celonis triggers for Airflow; import the submodules directly.

- ``data_jobs``: ``CelonisDataJobExecutionTrigger`` (one data job execution to its end).
- ``data_models``: ``CelonisDataModelLoadTrigger`` (one data model load to its end).
- ``data_push``: ``CelonisDataPushJobTrigger`` (one executed Data Push job to its end).
- ``events``: ``CelonisDataJobExecutionEventTrigger`` and ``CelonisDataModelLoadEventTrigger``,
  Celonis runs as events for ``AssetWatcher`` (event-driven DAG schedules).
- ``polling``: ``CelonisPollingTrigger``, the poll loop the three deferral triggers share.
"""
