"""The emulator's state: what each emulated Celonis API remembers between requests.

The routes live in ``emulator.apis`` and only call into these stores; the stores know nothing of
HTTP, so a test can set up a team's state directly.

- ``state``: the team (tokens, clients, faults, data pools) and the shared locks.
- ``data_jobs``: data job executions and data model loads, with their lifecycle.
- ``data_push``: Data Push jobs, chunks and the rows they store.
- ``scim``: SCIM users and groups.
- ``usage``: the generated usage events (audit log, logins, Studio adoption, members).
- ``knowledge_model``: Knowledge Models, their records and the agents' data.
"""
