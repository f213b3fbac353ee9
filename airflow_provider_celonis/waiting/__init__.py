"""Waiting for a Celonis run: statuses, the typed wait, the verdict of each poll, the outcome.

Internal: shared by the data job, data model and data push operators, sensors and triggers, sync and
deferrable alike, so that every path reaches the same verdict.

- ``status``: the status enums (each owning its terminal/success groups), deadlines, events.
- ``waits``: the typed wait contract carried into a trigger and validated on resume.
- ``decisions``: one poll's verdict, pure functions of (snapshot, wait, now).
- ``outcomes``: a final event turned into return, skip or a typed exception.
- ``sync_poll``: the worker-side poll loop, twin of the triggers' loop.
- ``run_start``: start exactly one fresh run (wait, reuse or refuse a running one; reconcile).
- ``run_ledger``: which run a task instance started, kept across task retries.
- ``event_cursor``: which finished runs an event watcher (``AssetWatcher``) already handled.
"""
