"""Faults the emulator injects on demand, so that every hostile case has a server to play it.

- ``core``: the fault table and the ASGI middleware (status codes, drops, delays, shapes).
- ``hostile``: servers that lie on purpose: redirects, echoed secrets, trickled bytes.
- ``ambiguous``: answers lost after Celonis acted (the error comes after the change).
- ``asgi``: reading a request body, answering, and capturing a route's answer to change it.
"""
