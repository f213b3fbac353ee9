"""Celonis operators for Airflow; import the submodules directly.

- ``data_jobs``: execute a data job and wait for it.
- ``data_models``: reload a data model and wait for the load.
- ``data_push``: push files into a data pool table.
- ``usage``: Audit Log, Login History, Studio Adoption and Team Members extracts.
- ``scim``: export users and groups; sync users from an HR system.
- ``knowledge_model``: a Knowledge Model's records into a file.
- ``intelligence``: event subscriptions and their failed events (also re-exports ``agents``).
- ``agents``: ask an AI agent, call a Studio asset's tool.
- ``_extract``, ``_base``: shared bases (extract to a file; connection id and hook parameters).
- ``_names``: names instead of ids (which argument is used, resolved when the task runs).

Hooks and triggers are imported inside ``execute`` only, so that parsing a DAG never imports
requests, aiohttp or a hook (tests/operators/test_import_light.py checks every module).
"""
