"""Waiting for a Celonis run: statuses, the typed wait, the verdict of each poll, the outcome.

Internal: shared by the data job, data model and data push operators, sensors and triggers, sync and
deferrable alike, so that every path reaches the same verdict.

- ``status``: the status enums (each owning its terminal/success groups), deadlines, events.
- ``waits``: the typed wait contract carried into a trigger and validated on resume.
- ``decisions``: one poll's verdict, pure functions of (snapshot, wait, now).
- ``push_wait``: the Data Push job's wait and verdict (same rules, a job known by its id).
- ``outcomes``: a final event turned into return, skip or a typed exception (also the
  deferred resume after others' runs ended).
- ``sync_poll``: the worker-side poll loop, twin of the triggers' loop, and the operators'
  worker-side waits for a job execution or a model load.
- ``progress``: progress lines at a steady cadence for long waits and loops.
- ``run_start``: start exactly one fresh run (wait, reuse or refuse a running one; reconcile).
- ``run_ledger``: which run a task instance started, kept across task retries, and its
  adoption by a retry.
- ``event_cursor``: which finished runs an event watcher (``AssetWatcher``) already handled.
- ``event_history``: what an event watcher reads (a job's history pages, as far back as its
  cursor needs) and where its cursor lives (a Variable or memory).
"""
