"""Celonis hooks for Airflow, one per Celonis API; import the submodules directly.

``celonis.CelonisOAuthHook`` is the base (token, retries, typed errors, ``call``/``acall``); each
API's hook describes its endpoints on top of it as ``Call`` objects.

- ``celonis``: ``CelonisOAuthHook``, the base every hook below extends.
- ``data_jobs``: ``CelonisDataJobHook`` (start, watch and cancel data job executions).
- ``data_models``: ``CelonisDataModelHook`` (reload a data model, read its load status).
- ``data_pools``: ``CelonisDataPoolHook`` (pools, jobs, tasks and data models by name).
- ``data_push``: ``CelonisDataPushHook`` (push jobs, chunks, execute, watch).
- ``usage``: ``CelonisUsageHook`` (Audit Log, Login History, Studio Adoption, Team Members).
- ``scim``: ``CelonisScimHook`` (SCIM 2.0 users and groups).
- ``knowledge_model``: ``CelonisKnowledgeModelHook`` (Knowledge Model metadata and records).
- ``event_subscriptions``: ``CelonisEventSubscriptionHook`` (Knowledge Model triggers, subscriptions).
- ``chat``: ``CelonisChatHook`` (ask an AI agent).
- ``tools``: ``CelonisToolsHook`` (call a Studio asset's tool).
- ``_authorization``, ``_http_compat``, ``_connection_test``: parts of the base hook (who may see
  what, HttpHook's own API, the UI's Test button).
"""
