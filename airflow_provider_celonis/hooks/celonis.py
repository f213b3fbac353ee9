"""``CelonisOAuthHook``: authenticated, retried, well-diagnosed calls to one Celonis team.

This is the transport layer. API-specific methods (audit log pages, data job execution...)
live in their own modules and call :meth:`CelonisOAuthHook.request` /
:meth:`CelonisOAuthHook.arequest` with the :class:`~airflow_provider_celonis.client.apis.CelonisApi`
they belong to, so the hook requests exactly that API's scope.

Endpoint methods build a :class:`~airflow_provider_celonis.client.calls.Call` and send it with
:meth:`CelonisOAuthHook.call` / ``acall`` (or :meth:`CelonisOAuthHook.call_response` for the raw
response). Tokens, the team-URL check and error scrubbing live in :mod:`._authorization`.

It subclasses providers-http's ``HttpHook`` so ``run()``, ``run_and_check()`` and
``run_with_advanced_retry()`` keep working, routed through the same request core as
:meth:`CelonisOAuthHook.request` (:mod:`._http_compat`): ``HttpHook`` itself turns 429/5xx into a
bare ``AirflowException`` a retry predicate cannot inspect, and ``HttpAsyncHook`` neither
retries 429 nor sleeps between attempts. Sync and async paths share one policy
(:mod:`airflow_provider_celonis.client.retry_policy`), one redirect rule
(:mod:`airflow_provider_celonis.client.redirects`) and a total deadline per request
(:mod:`airflow_provider_celonis.client.deadline` on the sync path). Security: docs/security.md.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import requests
from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_provider_celonis import compat
from airflow_provider_celonis.auth.grant import ClientCredentialsGrant
from airflow_provider_celonis.client import transport
from airflow_provider_celonis.client.apis import CelonisApi, get_api
from airflow_provider_celonis.client.arguments import check_duration, check_int, check_number
from airflow_provider_celonis.client.calls import Call, decode, scrubbed
from airflow_provider_celonis.client.connection import (
    MIGRATION_DOC,
    CelonisConnectionConfig,
    check_api_prefixes,
    parse_connection,
    unknown_extras,
)
from airflow_provider_celonis.client.retry_policy import (
    RetryableStatus,
    RetryPolicy,
    is_idempotent,
)
from airflow_provider_celonis.client.sending import RetryingSender, given_once
from airflow_provider_celonis.exceptions import CelonisApiError, CelonisError
from airflow_provider_celonis.get_provider_info import UI_FIELD_BEHAVIOUR
from airflow_provider_celonis.hooks._authorization import AuthorizationMixin
from airflow_provider_celonis.hooks._connection_test import run_connection_test
from airflow_provider_celonis.hooks._http_compat import HttpHookCompat

if TYPE_CHECKING:
    from airflow.sdk import Connection


class CelonisOAuthHook(AuthorizationMixin, HttpHookCompat):
    """Talk to a Celonis team with OAuth 2.0 client credentials (or, while migrating, an API key).

    :param celonis_conn_id: connection of type ``celonis``: host = team URL, login = client ID,
        password = client secret.
    :param max_attempts: attempts per request, the first included, for 429/502/503/504 and
        network errors.
    :param min_wait: first backoff step in seconds; doubles per attempt, with jitter.
    :param max_wait: cap of one backoff step in seconds.
    :param max_rate_limit_wait: cap in seconds of a wait announced by a 429's reset header.
    :param timeout: per-request timeout in seconds; overrides the connection's extra ``timeout``.
    :param api_prefixes: per-API path prefix overrides, e.g. ``{"scim": "/user-provisioning"}``.
    """

    conn_name_attr = "celonis_conn_id"
    default_conn_name = "celonis_default"
    conn_type = "celonis"
    hook_name = "Celonis"

    def __init__(
        self,
        celonis_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 6,
        min_wait: float = 1.0,
        max_wait: float = 30.0,
        max_rate_limit_wait: float = 300.0,
        timeout: float | None = None,
        api_prefixes: dict[str, str] | None = None,
        method: str = "GET",
    ) -> None:
        super().__init__(method=method, http_conn_id=celonis_conn_id)
        self.celonis_conn_id = celonis_conn_id
        where = f"CelonisOAuthHook('{celonis_conn_id}')"
        min_wait = check_number("min_wait", min_wait, minimum=0, where=where)
        self.retry_policy = RetryPolicy(
            check_int("max_attempts", max_attempts, minimum=1, where=where),
            min_wait,
            check_number("max_wait", max_wait, minimum=min_wait, where=where),
            check_number("max_rate_limit_wait", max_rate_limit_wait, minimum=0, where=where),
        )
        self.timeout = check_duration("timeout", timeout, allow_none=True, where=where)
        self._seen_tokens: set[str] = set()
        self.api_prefixes = check_api_prefixes("api_prefixes", dict(api_prefixes or {}), where)
        self._config: CelonisConnectionConfig | None = None
        self.sender = RetryingSender(self.retry_policy, self.log)
        self.grant = ClientCredentialsGrant(self.sender, celonis_conn_id)

    # -- connection form -------------------------------------------------------------------
    # Airflow 3.2+ reads the form from provider info (get_provider_info.py) and deprecates this
    # hook method; Airflow 3.0 and 3.1 read it only from here.
    if not compat.PROVIDER_INFO_CARRIES_FORM:

        @classmethod
        def get_ui_field_behaviour(cls) -> dict[str, Any]:
            return UI_FIELD_BEHAVIOUR

    # -- configuration ---------------------------------------------------------------------
    def _config_from(self, conn: Connection) -> CelonisConnectionConfig:
        config = parse_connection(
            self.celonis_conn_id,
            host=conn.host,
            login=conn.login,
            password=conn.password,
            extra=conn.extra,
            port=conn.port,
        )
        if self.timeout is not None:
            config = replace(config, timeout=self.timeout)
        if not config.uses_oauth:
            # Both: the log line reaches the task log on every run (a DeprecationWarning alone
            # is filtered out by default), the warning reaches pytest and warning filters.
            message = (
                f"Celonis connection '{self.celonis_conn_id}' authenticates with a legacy "
                f"{config.key_type} API key. Celonis is retiring API and application keys: create an "
                f"OAuth client and follow {MIGRATION_DOC}."
            )
            self.log.warning("%s", message)
            warnings.warn(message, AirflowProviderDeprecationWarning, stacklevel=3)
        if config.verify is False:
            self.log.warning(
                "Celonis connection '%s' has verify=false: TLS certificates are NOT checked, so anyone "
                "on the network path can read the client secret and tokens. Set verify to true or to "
                "the path of your CA bundle.",
                self.celonis_conn_id,
            )
        # Not conn.extra_dejson: it calls mask_secret, which talks to the supervisor synchronously
        # and must not run on a triggerer's event loop. parse_connection validated the JSON.
        extra = json.loads(conn.extra) if isinstance(conn.extra, str) and conn.extra else {}
        if unknown := unknown_extras(extra):
            self.log.warning(
                "Celonis connection '%s' ignores unknown extras %s", self.celonis_conn_id, unknown
            )
        return config

    def get_config(self) -> CelonisConnectionConfig:
        """Validated connection settings; looked up once per hook, never at DAG parse time."""
        if self._config is None:
            self._config = self._config_from(self.get_connection(self.celonis_conn_id))
            for secret in (self._config.api_key, *self._config.proxy_secrets()):
                transport.mask(secret)
        return self._config

    async def aget_config(self) -> CelonisConnectionConfig:
        """Async variant using Airflow's async-safe connection API (for triggers)."""
        if self._config is None:
            conn = await compat.aget_connection(self, self.celonis_conn_id)  # any store, also under dags test
            self._config = self._config_from(conn)
            for secret in (self._config.api_key, *self._config.proxy_secrets()):
                await transport.amask(secret)
        return self._config

    def api_url(self, api: CelonisApi | str, path: str, config: CelonisConnectionConfig | None = None) -> str:
        """Team URL + the API's prefix (hook argument, then extra ``api_prefixes``, then default) + path."""
        config = config or self.get_config()
        prefix = self.api_prefix(api, config)
        return f"{config.base_url}{prefix.rstrip('/')}/{path.lstrip('/')}"

    def api_prefix(self, api: CelonisApi | str, config: CelonisConnectionConfig | None = None) -> str:
        """The path prefix in use for an API: hook argument, then extra ``api_prefixes``, then default."""
        api = get_api(api)
        config = config or self.get_config()
        return self.api_prefixes.get(api.key, config.api_prefixes.get(api.key, api.prefix))

    def scope_for(self, api: CelonisApi | str, config: CelonisConnectionConfig | None = None) -> str:
        api = get_api(api)
        return (config or self.get_config()).scopes_for(api.key, api.scope)

    def get_session(self) -> requests.Session:
        """The ``requests`` session of the sync path (User-Agent set, connections kept alive)."""
        return self.sender.session()

    def request(
        self, method: str, path: str, *, api: CelonisApi | str, idempotent: bool | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send one authenticated request to an API and return the successful response.

        ``kwargs`` go to ``requests`` (``params``, ``json``, ``data``, ``files``, ``headers``,
        ``stream``). Error statuses raise typed exceptions; a 401 re-grants the token once.
        ``data_factory``, a callable returning a fresh body, replaces ``data`` for streamed
        uploads: it is called once per attempt, so a retried request resends the whole body.
        """
        api, method, url, idem = self._target(api, method, path, idempotent, self.get_config())
        return self.send_authenticated(method, url, path, api, idem, **kwargs)

    def _target(
        self,
        api: CelonisApi | str,
        method: str,
        path: str,
        idempotent: bool | None,
        config: CelonisConnectionConfig,
    ) -> tuple[CelonisApi, str, str, bool]:
        """API, method, URL and idempotency of a request (:meth:`request` and :meth:`arequest`)."""
        api, method = get_api(api), method.upper()
        return api, method, self.api_url(api, path, config), is_idempotent(method, idempotent)

    def send_authenticated(
        self,
        method: str,
        url: str,
        path: str,
        api: CelonisApi,
        idempotent: bool,
        *,
        check: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """The one sync request core (:meth:`request` and HttpHook's ``run()`` alike): the API's
        token, a 401 re-granted and replayed once, the retry policy, typed errors (unless
        ``check`` is False: then an error answer that the policy does not retry is returned)."""
        config = self.get_config()
        self._check_on_team(url, config)
        headers = dict(kwargs.pop("headers", None) or {})
        kwargs = given_once(kwargs)  # a consumed stream is never re-sent empty (429, 401 replay)
        for replay in (False, True):
            authorization, token = self._authorization(config, api)
            try:
                response = self.sender.send(
                    method,
                    url,
                    config,
                    idempotent=idempotent,
                    headers={**headers, "Authorization": authorization},
                    **kwargs,
                )
            except RetryableStatus as final:  # retryable answers outlasted the policy
                raise self._api_error(
                    final.status, final.body, final.headers, api, config, method, path, retried=True
                ) from None
            if self._regrant_after(response.status_code, token, replay, config, api):
                response.close()
                continue
            break
        if check and response.status_code >= 400:
            with response:
                raise self._api_error(
                    response.status_code,
                    transport.text_of(response),
                    response.headers,
                    api,
                    config,
                    method,
                    path,
                    idempotent=idempotent,
                )
        return response

    def request_json(self, method: str, path: str, *, api: CelonisApi | str, **kwargs: Any) -> Any:
        """:meth:`request` and decode JSON; an empty body (204) gives None."""
        with self.request(method, path, api=api, **kwargs) as response:
            return json.loads(response.content) if response.content.strip() else None  # UTF-8 (RFC 8259)

    @contextlib.contextmanager
    def call_response(self, call: Call) -> Iterator[requests.Response]:
        """Send one :class:`~airflow_provider_celonis.client.calls.Call` and hold its raw response
        (to stream it, or read its status and headers); closed when the block ends. Errors pass
        through :meth:`explain`, as in :meth:`call`; every provider error of the call, also one
        raised in the block (a reader quoting the body), is scrubbed of the secrets the hook
        knows and those the call carries (``Call.secrets``)."""
        try:
            response = self.request(
                call.method, call.path, api=call.api, idempotent=call.idempotent, **call.kwargs
            )
        except CelonisError as err:
            explained = self._explained(err, call)
            if explained is err:
                raise
            raise explained from err
        with response:
            try:
                yield response
            except CelonisError as err:
                raise scrubbed(err, self._scrubber(call))  # noqa: B904 (the same error, scrubbed in place)

    def call(self, call: Call) -> Any:
        """Send one :class:`~airflow_provider_celonis.client.calls.Call` and decode its answer.

        The one way endpoint methods talk to Celonis: ids percent-encoded, the API's token and
        retry policy, typed errors (passed through :meth:`explain`), the answer checked by
        :func:`~airflow_provider_celonis.client.calls.decode`.
        """
        with self.call_response(call) as response:
            return decode(call, response.content, response.headers.get("content-type"))

    async def acall(self, call: Call) -> Any:
        """Async twin of :meth:`call` (triggers): same request core, never blocks the loop."""
        try:
            response = await self.arequest(
                call.method, call.path, api=call.api, idempotent=call.idempotent, **call.kwargs
            )
        except CelonisError as err:
            explained = self._explained(err, call)
            if explained is err:
                raise
            raise explained from err
        try:
            return decode(call, response.body or response.text, response.headers.get("content-type"))
        except CelonisError as err:  # as in call_response: the body may echo the request
            raise scrubbed(err, self._scrubber(call))  # noqa: B904 (the same error, scrubbed in place)

    def _scrubber(self, call: Call) -> Callable[[str], str]:
        return lambda text: transport.scrub(self.scrub(text), call.secrets)

    def _explained(self, err: CelonisError, call: Call) -> CelonisError:
        """``err`` scrubbed in place (so no unscrubbed copy stays chained), then :meth:`explain`."""
        scrubbed(err, self._scrubber(call))
        return self.explain(err, call) if isinstance(err, CelonisApiError) else err

    def explain(self, err: CelonisApiError, call: Call) -> CelonisApiError:
        """A hook's chance to say what an error means for this endpoint (default: as it is)."""
        return err

    async def arequest(
        self, method: str, path: str, *, api: CelonisApi | str, idempotent: bool | None = None, **kwargs: Any
    ) -> transport.CelonisResponse:
        """Async twin of :meth:`request` (for triggers): same policy, never blocks the loop."""
        config = await self.aget_config()
        api, method, url, idem = self._target(api, method, path, idempotent, config)
        self._check_on_team(url, config)
        headers = dict(kwargs.pop("headers", None) or {})
        for replay in (False, True):
            authorization, token = await self._aauthorization(config, api)
            try:
                response = await self.sender.asend(
                    method,
                    url,
                    config,
                    idempotent=idem,
                    headers={**headers, "Authorization": authorization},
                    **kwargs,
                )
            except RetryableStatus as final:  # retryable answers outlasted the policy
                raise self._api_error(
                    final.status, final.body, final.headers, api, config, method, path, retried=True
                ) from None
            if self._regrant_after(response.status, token, replay, config, api):
                continue
            break
        if response.status >= 400:
            raise self._api_error(
                response.status, response.text, response.headers, api, config, method, path, idempotent=idem
            )
        return response

    async def arequest_json(self, method: str, path: str, *, api: CelonisApi | str, **kwargs: Any) -> Any:
        return (await self.arequest(method, path, api=api, **kwargs)).json()

    # -- the UI's Test button --------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Fetch tokens (no API call, no side effect) and report which scopes were granted."""
        return run_connection_test(self)

    # -- async session lifetime ------------------------------------------------------------
    def async_session(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Hold one shared aiohttp connection pool across many :meth:`arequest` calls.

        Triggers wrap their whole wait in it; without it each request opens and closes its
        own session (correct, but a new connection per poll).
        """
        return transport.shared_session()
