"""OAuth 2.0 client credentials for Celonis: the grant and the process-wide token cache.

Internal: the hooks use it; secrets stay in these objects and never reach logs or reprs.

- ``token``: building the token request and reading the answer (pure functions).
- ``grant``: one token request over the wire, sync or async, with typed errors.
- ``token_cache``: one cache per process, safe across threads and event loops.
"""
