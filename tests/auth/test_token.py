"""Token request building, response parsing and the process-wide cache (pure logic)."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from urllib.parse import unquote

import pytest

from airflow_provider_celonis.auth.token import (
    AccessToken,
    TokenResponseError,
    build_token_request,
    cache_key,
    granted_report,
    parse_token_response,
)
from airflow_provider_celonis.auth.token_cache import TokenCache
from airflow_provider_celonis.client.connection import parse_connection


def config(method: str = "client_secret_post", secret: str = "se:cr/et"):  # type: ignore[no-untyped-def]
    return parse_connection(
        "c",
        host="https://t.eu-1.celonis.cloud",
        login="client id",
        password=secret,
        extra={"auth_method": method},
    )


def test_post_puts_credentials_in_the_form() -> None:
    req = build_token_request(config(), "audit.log:read")
    assert req.url == "https://t.eu-1.celonis.cloud/oauth2/token"
    assert req.data == {
        "grant_type": "client_credentials",
        "scope": "audit.log:read",
        "client_id": "client id",
        "client_secret": "se:cr/et",
    }
    assert "Authorization" not in req.headers
    assert "se:cr/et" not in repr(req)


def test_basic_puts_form_encoded_credentials_in_the_header() -> None:
    req = build_token_request(config("client_secret_basic"), "a b")
    assert req.data == {"grant_type": "client_credentials", "scope": "a b"}
    scheme, encoded = req.headers["Authorization"].split(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(encoded).decode().partition(":")
    assert (unquote(user), unquote(password)) == ("client id", "se:cr/et")


def test_parse_success_uses_seconds_not_days() -> None:
    token = parse_token_response(
        '{"access_token": "abc", "scope": "s1 s2", "token_type": "bearer", "expires_in": 899}',
        "s1",
        now=1000.0,
    )
    assert token.lifetime == 899
    assert token.scope == "s1 s2"
    assert token.refresh_at == 1000.0 + 899 - 60
    assert token.fresh(1000.0 + 838) and not token.fresh(1000.0 + 839)
    assert "abc" not in repr(token)


def test_short_lifetimes_refresh_a_quarter_early() -> None:
    token = parse_token_response('{"access_token": "x", "expires_in": 8}', "s", now=0.0)
    assert token.refresh_at == 6.0
    assert token.scope == "s"  # no scope in the answer: the requested one


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<html>", "without JSON"),
        ('{"token_type": "Bearer"}', "no access_token"),
        ('{"access_token": "x", "token_type": "mac"}', "not a Bearer"),
    ],
)
def test_parse_rejects_unusable_answers(body: str, message: str) -> None:
    with pytest.raises(TokenResponseError, match=message):
        parse_token_response(body, "s")


def test_cache_key_normalises_scopes_and_separates_secrets() -> None:
    assert cache_key(config(), "b a a") == cache_key(config(), "a b")
    assert cache_key(config(), "a") != cache_key(config(secret="other"), "a")
    assert "se:cr/et" not in repr(cache_key(config(), "a"))


def test_granted_report() -> None:
    assert granted_report("a b c", "a c") == (["a", "c"], ["b"])


def _token(value: str, now: float, lifetime: float = 100.0) -> AccessToken:
    return AccessToken(value=value, scope="s", lifetime=lifetime, obtained_at=now)


def test_threads_share_one_fetch() -> None:
    cache = TokenCache()
    calls = []

    def fetch() -> AccessToken:
        calls.append(1)
        time.sleep(0.05)
        return _token("t", time.monotonic())

    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get("k", fetch).value)) for _ in range(32)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert results == ["t"] * 32


async def test_tasks_share_one_fetch() -> None:
    cache = TokenCache()
    calls = []

    async def fetch() -> AccessToken:
        calls.append(1)
        await asyncio.sleep(0.05)
        return _token("t", time.monotonic())

    values = await asyncio.gather(*[cache.aget("k", fetch) for _ in range(200)])
    assert len(calls) == 1
    assert {v.value for v in values} == {"t"}


def test_expired_token_is_refetched_and_invalidate_spares_a_newer_token() -> None:
    now = [0.0]
    cache = TokenCache(clock=lambda: now[0])
    first = cache.get("k", lambda: _token("one", 0.0, lifetime=8))
    assert cache.get("k", lambda: _token("never", 0.0)).value == "one"
    now[0] = 6.5  # past refresh_at (6.0), before expiry
    second = cache.get("k", lambda: _token("two", 6.5))
    assert second.value == "two"
    cache.invalidate("k", first)  # a late 401 for the old token must not drop the new one
    assert cache.peek("k") is second
    cache.invalidate("k", second)
    assert cache.peek("k") is None


def test_threads_with_their_own_event_loops_share_one_fetch() -> None:
    """Four threads, each running its own event loop: one token request for the key, not four."""
    import asyncio

    from airflow_provider_celonis.auth.token_cache import TokenCache

    cache = TokenCache()
    calls = []
    barrier = threading.Barrier(4)

    async def fetch() -> AccessToken:
        calls.append(1)
        await asyncio.sleep(0.2)  # a slow token endpoint: the others arrive while it runs
        return AccessToken("t", "s", 899, time.monotonic())

    async def one() -> str:
        barrier.wait()
        return (await cache.aget("k", fetch)).value

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(asyncio.run(one()))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["t"] * 4
    assert len(calls) == 1


def test_a_thread_and_a_coroutine_share_one_fetch() -> None:
    import asyncio

    from airflow_provider_celonis.auth.token_cache import TokenCache

    cache = TokenCache()
    calls = []
    started = threading.Event()

    def slow_fetch() -> AccessToken:
        calls.append("sync")
        started.set()
        time.sleep(0.2)
        return AccessToken("t", "s", 899, time.monotonic())

    async def afetch() -> AccessToken:
        calls.append("async")
        return AccessToken("u", "s", 899, time.monotonic())

    thread = threading.Thread(target=lambda: cache.get("k", slow_fetch))
    thread.start()
    started.wait()
    assert asyncio.run(cache.aget("k", afetch)).value == "t"
    thread.join()
    assert calls == ["sync"]
