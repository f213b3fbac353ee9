"""Extracts to files: concurrent sub-windows, read-ahead, flat-memory ordering, late data, atomic outputs.

Internal: used by the usage, Knowledge Model and SCIM export operators.

- ``pull``: one extract run (settle, pull, write, re-check or keep the high-water mark).
- ``late_data``: settle period, re-check windows and the "since last load" state.
- ``concurrency``: a window pulled as sub-windows in parallel threads under an adaptive limit.
- ``progress``: the progress lines of a long pull (records, rate, sub-windows, time left).
- ``read_ahead``: the next page fetched while the current one is processed (sequential pulls).
- ``spill``: sorted runs on disk and a k-way merge (sort and de-duplicate any volume).
- ``records``: records written in API order (no sort), with the same writer.
- ``outputs``: atomic writes to a local path or an ``ObjectStoragePath`` URI.
- ``object_store``: the write-once path for object stores (final key written once).
"""
