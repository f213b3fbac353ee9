"""Celonis sensors for Airflow; import the submodules directly.

- ``data_jobs``: ``CelonisDataJobSensor`` (a data job execution someone else started).
- ``data_models``: ``CelonisDataModelLoadSensor`` (a data model load someone else started).
- ``_base``: what both share (arguments, sync poke or deferral, ``soft_fail``, resume).
"""
