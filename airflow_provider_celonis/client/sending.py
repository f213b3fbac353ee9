"""Send one HTTP request to Celonis under the retry policy: sync (requests) or async (aiohttp).

The transport layer under :class:`~airflow_provider_celonis.hooks.celonis.CelonisOAuthHook`:
it knows nothing of tokens or APIs. Both paths classify failures the same way
(:mod:`~airflow_provider_celonis.client.transport`) and let one tenacity policy
(:mod:`~airflow_provider_celonis.client.retry_policy`) decide whether and when to try again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any, NoReturn

import requests
import tenacity

from airflow_provider_celonis.client import transport
from airflow_provider_celonis.client.connection import (
    CelonisConnectionConfig,
    aiohttp_options,
    requests_options,
)
from airflow_provider_celonis.client.deadline import Deadline, DeadlineAdapter
from airflow_provider_celonis.client.redirects import next_hop
from airflow_provider_celonis.client.retry_policy import (
    RetryableStatus,
    RetryableTransport,
    RetryPolicy,
    retrying_kwargs,
    status_is_retryable,
    transport_is_retryable,
    wait_hint_from_headers,
)
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisRequestMaybeSentError,
    CelonisTransportError,
)


def given_once(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``data`` that an attempt consumes (an iterator, an open file) as a ``data_factory`` that
    gives it once: a 429 wait, a retry or the 401 re-grant re-sent such a request with an
    empty or partial body, which Celonis may store and answer 200. Now the second attempt
    fails instead, naming the fix."""
    data = kwargs.get("data")
    if "data_factory" in kwargs or not (hasattr(data, "read") or isinstance(data, Iterator)):
        return kwargs
    given: list[bool] = []

    def once() -> Any:
        if given:
            raise CelonisConfigurationError(
                "data",
                "is a stream (an iterator or an open file) that the first attempt consumed, so the "
                "request was not sent again (it would have carried an empty or partial body)",
                "pass data_factory, a callable returning a fresh body (e.g. lambda: open(path, 'rb')), "
                "so that a retried request resends the whole body",
            )
        given.append(True)
        return data

    return {**{k: v for k, v in kwargs.items() if k != "data"}, "data_factory": once}


class Hops:
    """The redirect and deadline decisions of one attempt, shared by :meth:`RetryingSender.send`
    and :meth:`RetryingSender.asend` so that they differ only in I/O: which URL comes next
    (:func:`~airflow_provider_celonis.client.redirects.next_hop`), and what is left of one
    deadline for the request, redirects included."""

    def __init__(self, method: str, url: str, timeout: float, follow: bool) -> None:
        self.method, self.target, self.timeout, self.follow = method, url, timeout, follow
        self.count = 0
        self.started = time.monotonic()

    def left(self) -> float:
        return self.timeout - (time.monotonic() - self.started)

    def redirected(self, status: int, headers: Any) -> bool:
        """Whether the answer sends the request on to another URL (then :attr:`target`)."""
        hop = next_hop(self.method, self.target, status, headers, follow=self.follow, hops=self.count)
        if hop is None:
            return False
        self.target, self.count = hop, self.count + 1
        return True


def retryable(status: int, headers: Any, body: str) -> RetryableStatus:
    """A retryable answer as the exception the retry policy acts on, with its wait hint."""
    return RetryableStatus(status, headers, body, wait_hint_from_headers(headers))


class OwnAuthorization(requests.auth.AuthBase):
    """Leaves each request as the hook built it. As the session's ``auth`` it keeps requests
    from reading ~/.netrc, whose entry for the host (or ``default`` line) replaced the hook's
    bearer token or client_secret_basic header with the worker user's Basic credentials."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class _Session(requests.Session):
    """The hook follows redirects by its own rule (:mod:`.redirects`), so ``requests`` must not
    even look at one: with ``allow_redirects=False`` it still parses the Location to prepare
    ``Response.next``, and a Location it cannot parse (``http://team:443:/x``) raised a raw
    ``ValueError`` out of the call."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


class RetryingSender:
    """Raises :class:`RetryableStatus` when retryable answers outlast the policy (the caller
    maps it to a typed error with Celonis's body), :class:`CelonisTransportError` when Celonis
    stayed unreachable, and :class:`CelonisRequestMaybeSentError` when a non-idempotent request
    may have arrived."""

    def __init__(self, policy: RetryPolicy, log: Any) -> None:
        self.policy = policy
        self.log = log
        self._session: requests.Session | None = None

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self.log.warning(
            "Celonis request failed (%s); attempt %d, retrying in %.1f s", error, state.attempt_number, wait
        )

    def session(self) -> requests.Session:
        if self._session is None:
            session = _Session()
            session.auth = OwnAuthorization()
            session.headers["User-Agent"] = transport.user_agent()
            adapter = DeadlineAdapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._session = session
        return self._session

    def send(
        self,
        method: str,
        url: str,
        config: CelonisConnectionConfig,
        *,
        idempotent: bool,
        follow_redirects: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """One request under the policy; ``follow_redirects=False`` refuses every redirect (token
        endpoint), else only same-origin reads are followed (:mod:`.redirects`)."""
        session = self.session()
        options = {**requests_options(config), **kwargs, "allow_redirects": False}
        # A streamed body (generator, open file) is consumed by the first attempt; a retry or
        # the 401 re-grant needs a fresh one, so callers pass a factory instead of ``data``.
        data_factory = options.pop("data_factory", None)

        def attempt() -> requests.Response:
            if data_factory is not None:
                options["data"] = data_factory()
            hops = Hops(method, url, config.timeout, follow_redirects)
            while True:
                response = self._one(
                    session, method, hops.target, options, idempotent, config.timeout, hops.left()
                )
                if not hops.redirected(response.status_code, response.headers):
                    break
                response.close()
            if status_is_retryable(response.status_code, idempotent):
                with response:
                    raise retryable(response.status_code, response.headers, transport.text_of(response))
            return response

        return self._retrying(attempt)

    def _one(
        self,
        session: requests.Session,
        method: str,
        url: str,
        options: dict[str, Any],
        idempotent: bool,
        timeout: float,
        left: float | None = None,
    ) -> requests.Response:
        """One HTTP exchange within what is ``left`` of a total deadline of ``timeout`` seconds
        (:mod:`.deadline`)."""
        left = timeout if left is None else left
        if left <= 0:
            err = requests.exceptions.ReadTimeout(f"no complete answer within {timeout:g} s")
            self._raise_transport(err, True, idempotent, method, url)
        with Deadline(left) as deadline:
            try:
                response = session.request(method, url, **options)
            except requests.RequestException as failure:
                error: requests.RequestException = failure
                if deadline.expired:
                    error = requests.exceptions.ReadTimeout(f"no complete answer within {timeout:g} s")
                self._raise_transport(error, transport.requests_error_sent(error), idempotent, method, url)
        if deadline.expired:  # the body may have been cut short by the deadline: not an answer
            response.close()
            err = requests.exceptions.ReadTimeout(f"no complete answer within {timeout:g} s")
            self._raise_transport(err, True, idempotent, method, url)
        return response

    async def asend(
        self,
        method: str,
        url: str,
        config: CelonisConnectionConfig,
        *,
        idempotent: bool,
        follow_redirects: bool = True,
        **kwargs: Any,
    ) -> transport.CelonisResponse:
        import aiohttp

        options = {**aiohttp_options(config), **kwargs, "allow_redirects": False}
        options["timeout"] = aiohttp.ClientTimeout(total=config.timeout)

        async def exchange(target: str, left: float) -> transport.CelonisResponse:
            proxy = {} if "proxy" in options else {"proxy": transport.env_proxy(target)}
            try:
                if left <= 0:
                    raise asyncio.TimeoutError
                async with (
                    transport.shared_session() as session,
                    session.request(
                        method, target, **{**options, "timeout": aiohttp.ClientTimeout(total=left)}, **proxy
                    ) as response,
                ):
                    body = await response.read()
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    text = transport.body_text(body, response.charset)
                    return transport.CelonisResponse(response.status, headers, text, body)
            except (aiohttp.ClientError, asyncio.TimeoutError) as err:  # not builtin TimeoutError on 3.10
                self._raise_transport(err, transport.aiohttp_error_sent(err), idempotent, method, target)

        async def attempt() -> transport.CelonisResponse:
            hops = Hops(method, url, config.timeout, follow_redirects)
            while True:
                answer = await exchange(hops.target, hops.left())
                if not hops.redirected(answer.status, answer.headers):
                    break
            if status_is_retryable(answer.status, idempotent):
                raise retryable(answer.status, answer.headers, answer.text)
            return answer

        try:
            return await tenacity.AsyncRetrying(**retrying_kwargs(self.policy, self._before_sleep))(attempt)
        except RetryableTransport as final:
            raise self._unreachable(final) from None

    def _retrying(self, attempt: Any) -> Any:
        try:
            return tenacity.Retrying(**retrying_kwargs(self.policy, self._before_sleep))(attempt)
        except RetryableTransport as final:
            raise self._unreachable(final) from None

    def _unreachable(self, final: RetryableTransport) -> CelonisTransportError:
        return CelonisTransportError(
            f"Could not reach Celonis after {self.policy.max_attempts} attempts: {final.description}.",
            fix="check the team URL, proxies and network access from the Airflow workers",
        )

    def _raise_transport(
        self, err: BaseException, sent: bool, idempotent: bool, method: str, url: str
    ) -> NoReturn:
        path = url.split("?")[0]
        if transport.is_tls_error(err):
            raise CelonisTransportError(
                f"TLS verification failed for {path}: {transport.describe(err)}.",
                fix="if a corporate proxy re-signs TLS, set the extra verify to its CA bundle path",
            ) from None
        if transport_is_retryable(sent, idempotent):
            raise RetryableTransport(transport.describe(err), sent=sent) from None
        raise CelonisRequestMaybeSentError(
            f"{method} {path} failed after it may have reached Celonis ({transport.describe(err)}); "
            "it was not sent again, so that a job is not started twice.",
            fix="check in Celonis whether the operation started before retrying the task",
        ) from None
