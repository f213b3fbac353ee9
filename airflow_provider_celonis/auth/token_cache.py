"""One process-wide cache of OAuth tokens, safe across threads and asyncio tasks.

Why process-wide: a triggerer runs hundreds of Celonis triggers in one event loop and a
worker may run several hooks in threads; each would otherwise ask Celonis for its own token
(and Celonis rate-limits token requests like any other call). Tokens live only in memory:
never in Airflow state, XCom or files.

Concurrency: callers that find no fresh token queue on a per-key lock, and only the first
one fetches; the rest find the fresh token when they get the lock. Threads use a
``threading.Lock``; coroutines an ``asyncio.Lock`` per event loop, so the event loop never
blocks on another thread's network call. (A thread and a coroutine racing for the very
first token may therefore both fetch one; workers and triggerers do not mix the two.)
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable

from airflow_provider_celonis.auth.token import AccessToken


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
            return self._store(key, await fetch())

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
