"""Celonis hooks for Airflow, one per Celonis API; import the submodules directly.

``celonis.CelonisOAuthHook`` is the base (token, retries, typed errors, ``call``/``acall``); each
API's hook (``data_jobs``, ``data_models``, ``data_push``, ``usage``, ``scim``, ...) describes its
endpoints on top of it.
"""
