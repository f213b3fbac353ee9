"""SCIM provisioning logic without network: inputs, identities, the plan and its caps.

Internal: used by the SCIM operators (``airflow_provider_celonis.operators.scim``).

- ``inputs``: the desired users, read so that a broken HR file never becomes a plan.
- ``identity``: one normal form for names, and the names the sync refuses.
- ``sync``: compare the desired users with the team, plan, cap.
- ``apply``: carry a plan out through the hook, proving each change (read back, converge).
"""
