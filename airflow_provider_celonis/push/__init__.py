"""Data Push: sources, the plan, chunks and the run that stores every row exactly once.

Internal: used by ``CelonisDataPushOperator`` and its trigger.

- ``sources``: a ``source`` argument resolved into concrete, checked files.
- ``plan``: every argument and input checked, chunks planned, before any call.
- ``chunking``: files cut into chunks of at most ``chunk_size`` bytes, streaming.
- ``multipart``: a streaming ``multipart/form-data`` body for one chunk.
- ``run``: create, upload, execute one push job; reconcile every ambiguous answer.
"""
