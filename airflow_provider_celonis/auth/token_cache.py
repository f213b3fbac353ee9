"""One process-wide cache of OAuth tokens, safe across threads and asyncio tasks.

Why process-wide: a triggerer runs hundreds of Celonis triggers in one event loop and a
worker may run several hooks in threads; each would otherwise ask Celonis for its own token
(and Celonis rate-limits token requests like any other call). Tokens live only in memory:
never in Airflow state, XCom or files.

Concurrency: one token request per key in the whole process, whoever asks. Callers that find
no fresh token queue on a per-key ``threading.Lock``, and only the holder fetches; the rest
find the fresh token when they get the lock. Coroutines first queue on an ``asyncio.Lock``
of their event loop (so one loop's coroutines wait without polling), then take the same
thread lock without blocking the loop: while another thread or another loop holds it, they
look again every few milliseconds. The cost is at most one such poll interval of latency for
a coroutine that waited on a fetch in another thread; no loop ever blocks on a network call
made elsewhere.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable

from airflow_provider_celonis.auth.token import AccessToken

_POLL = 0.005
"""Seconds between looks of a coroutine waiting for a fetch made by another thread or loop."""


class TokenCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._guard = threading.Lock()
        self._tokens: dict[Hashable, AccessToken] = {}
        self._thread_locks: dict[Hashable, threading.Lock] = {}
        self._loop_locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[Hashable, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()

    def peek(self, key: Hashable) -> AccessToken | None:
        """The cached token if it is still fresh."""
        with self._guard:
            token = self._tokens.get(key)
        if token is not None and token.fresh(self._clock()):
            return token
        return None

    def _thread_lock(self, key: Hashable) -> threading.Lock:
        with self._guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    def _loop_lock(self, key: Hashable) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        with self._guard:
            locks = self._loop_locks.setdefault(loop, {})
            return locks.setdefault(key, asyncio.Lock())

    def _store(self, key: Hashable, token: AccessToken) -> AccessToken:
        with self._guard:
            self._tokens[key] = token
        return token

    def get(self, key: Hashable, fetch: Callable[[], AccessToken]) -> AccessToken:
        token = self.peek(key)
        if token is not None:
            return token
        with self._thread_lock(key):
            token = self.peek(key)
            if token is not None:
                return token
            return self._store(key, fetch())

    async def aget(self, key: Hashable, fetch: Callable[[], Awaitable[AccessToken]]) -> AccessToken:
        token = self.peek(key)
        if token is not None:
            return token
        async with self._loop_lock(key):
            token = self.peek(key)
            if token is not None:
                return token
            lock = self._thread_lock(key)
            while not lock.acquire(blocking=False):
                await asyncio.sleep(_POLL)  # another thread or loop is fetching this key
            try:
                token = self.peek(key)
                if token is not None:
                    return token
                return self._store(key, await fetch())
            finally:
                lock.release()

    def invalidate(self, key: Hashable, rejected: AccessToken | None = None) -> None:
        """Drop the token after a 401, unless another caller already replaced the rejected one."""
        with self._guard:
            current = self._tokens.get(key)
            if current is not None and (rejected is None or current is rejected):
                del self._tokens[key]

    def clear(self) -> None:
        with self._guard:
            self._tokens.clear()


TOKEN_CACHE = TokenCache()
"""The cache every :class:`~airflow_provider_celonis.hooks.celonis.CelonisOAuthHook` shares."""


def clear_token_cache() -> None:
    """Forget all cached tokens (tests, or after rotating a client secret in a long-lived process)."""
    TOKEN_CACHE.clear()
