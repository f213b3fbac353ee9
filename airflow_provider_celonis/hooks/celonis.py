"""``CelonisOAuthHook``: authenticated, retried, well-diagnosed calls to one Celonis team.

This is the transport layer. API-specific methods (audit log pages, data job execution...)
live in their own modules and call :meth:`CelonisOAuthHook.request` /
:meth:`CelonisOAuthHook.arequest` with the :class:`~airflow_provider_celonis.client.apis.CelonisApi`
they belong to, so the hook requests exactly that API's scope.

It subclasses providers-http's ``HttpHook`` so ``run()``, ``run_and_check()`` and
``run_with_advanced_retry()`` keep working, routed through the same request core as
:meth:`CelonisOAuthHook.request` (:mod:`._http_compat`): ``HttpHook`` itself turns 429/5xx into a
bare ``AirflowException`` a retry predicate cannot inspect, and ``HttpAsyncHook`` neither
retries 429 nor sleeps between attempts. Sync and async paths share one policy
(:mod:`airflow_provider_celonis.client.retry_policy`), one redirect rule (:mod:`._redirects`) and a
total deadline per request (:mod:`._deadline` on the sync path). Security: docs/security.md.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import requests
from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_provider_celonis import compat
from airflow_provider_celonis.auth.grant import ClientCredentialsGrant
from airflow_provider_celonis.auth.token import (
    AccessToken,
    cache_key,
)
from airflow_provider_celonis.auth.token_cache import TOKEN_CACHE
from airflow_provider_celonis.client import transport
from airflow_provider_celonis.client.apis import CelonisApi, get_api
from airflow_provider_celonis.client.arguments import check_duration, check_int, check_number
from airflow_provider_celonis.client.calls import Call, decode
from airflow_provider_celonis.client.connection import (
    MIGRATION_DOC,
    CelonisConnectionConfig,
    check_api_prefixes,
    parse_connection,
    unknown_extras,
)
from airflow_provider_celonis.client.error_mapping import api_error, parse_error_body, scrub_body
from airflow_provider_celonis.client.redirects import ambiguous_authority, same_origin, shown
from airflow_provider_celonis.client.retry_policy import (
    AMBIGUOUS_STATUSES,
    RetryableStatus,
    RetryPolicy,
    is_idempotent,
    wait_hint_from_headers,
)
from airflow_provider_celonis.client.sending import RetryingSender, given_once
from airflow_provider_celonis.exceptions import (
    CelonisApiError,
    CelonisConfigurationError,
    CelonisError,
    CelonisRequestMaybeSentError,
)
from airflow_provider_celonis.hooks._http_compat import HttpHookCompat

if TYPE_CHECKING:
    from airflow.sdk import Connection


class CelonisOAuthHook(HttpHookCompat):
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
            from airflow_provider_celonis.get_provider_info import UI_FIELD_BEHAVIOUR

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
            from airflow_provider_celonis.compat import aget_connection

            conn = await aget_connection(self, self.celonis_conn_id)  # any store, also under dags test
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

    # -- tokens ----------------------------------------------------------------------------
    def fetch_token(self, scope: str, api: CelonisApi | None = None) -> AccessToken:
        """Request a new token (no cache). Retries 429/5xx/network errors: the grant is safe to repeat."""
        token = self.grant.fetch(self.get_config(), scope, api)
        transport.mask(token.value)
        return token

    async def afetch_token(self, scope: str, api: CelonisApi | None = None) -> AccessToken:
        token = await self.grant.afetch(await self.aget_config(), scope, api)
        await transport.amask(token.value)
        return token

    def _authorization(
        self, config: CelonisConnectionConfig, api: CelonisApi
    ) -> tuple[str, AccessToken | None]:
        if not config.uses_oauth:
            return f"{config.key_type} {config.api_key}", None
        scope = self.scope_for(api, config)
        token = TOKEN_CACHE.get(cache_key(config, scope), lambda: self.fetch_token(scope, api))
        self._seen_tokens.add(token.value)
        return f"Bearer {token.value}", token

    async def _aauthorization(
        self, config: CelonisConnectionConfig, api: CelonisApi
    ) -> tuple[str, AccessToken | None]:
        if not config.uses_oauth:
            return f"{config.key_type} {config.api_key}", None
        scope = self.scope_for(api, config)
        token = await TOKEN_CACHE.aget(cache_key(config, scope), lambda: self.afetch_token(scope, api))
        self._seen_tokens.add(token.value)
        return f"Bearer {token.value}", token

    def get_session(self) -> requests.Session:
        """The ``requests`` session of the sync path (User-Agent set, connections kept alive)."""
        return self.sender.session()

    # -- the request core ------------------------------------------------------------------
    def _regrant_after(
        self,
        status: int,
        token: AccessToken | None,
        replay: bool,
        config: CelonisConnectionConfig,
        api: CelonisApi,
    ) -> bool:
        """After a 401 to a cached OAuth token: drop it and say "replay once with a new one".

        Only once: a second 401 with a fresh token means a missing scope or permission, which
        another token will not fix.
        """
        if status != 401 or token is None or replay:
            return False
        self.log.info("Celonis refused the cached token for %s; requesting a new one", api.title)
        TOKEN_CACHE.invalidate(cache_key(config, self.scope_for(api, config)), token)
        return True

    def request(
        self, method: str, path: str, *, api: CelonisApi | str, idempotent: bool | None = None, **kwargs: Any
    ) -> requests.Response:
        """Send one authenticated request to an API and return the successful response.

        ``kwargs`` go to ``requests`` (``params``, ``json``, ``data``, ``files``, ``headers``,
        ``stream``). Error statuses raise typed exceptions; a 401 re-grants the token once.
        ``data_factory``, a callable returning a fresh body, replaces ``data`` for streamed
        uploads: it is called once per attempt, so a retried request resends the whole body.
        """
        api, method = get_api(api), method.upper()
        url = self.api_url(api, path, self.get_config())
        return self.send_authenticated(method, url, path, api, is_idempotent(method, idempotent), **kwargs)

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
            except RetryableStatus as final:
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
                    response.text,
                    response.headers,
                    api,
                    config,
                    method,
                    path,
                    idempotent=idempotent,
                )
        return response

    def _check_on_team(self, url: str, config: CelonisConnectionConfig) -> None:
        """The token is for the team URL only, whatever built ``url``."""
        base_url = config.base_url
        if ambiguous_authority(url) or not same_origin(url, base_url):
            raise CelonisConfigurationError(
                "url",
                f"({shown(url)}) is not on the team URL {base_url}, so the hook would send its "
                "Authorization header to another host",
                "send only paths of the team URL (check api_prefixes)",
                where=f"CelonisOAuthHook('{self.celonis_conn_id}')",
            )

    def request_json(self, method: str, path: str, *, api: CelonisApi | str, **kwargs: Any) -> Any:
        """:meth:`request` and decode JSON; an empty body (204) gives None."""
        with self.request(method, path, api=api, **kwargs) as response:
            return response.json() if response.content.strip() else None

    def call(self, call: Call) -> Any:
        """Send one :class:`~airflow_provider_celonis.client.calls.Call` and decode its answer.

        The one way endpoint methods talk to Celonis: ids percent-encoded, the API's token and
        retry policy, typed errors (passed through :meth:`explain`), the answer checked by
        :func:`~airflow_provider_celonis.client.calls.decode`.
        """
        try:
            with self.request(
                call.method, call.path, api=call.api, idempotent=call.idempotent, **call.kwargs
            ) as response:
                return decode(call, response.text, response.headers.get("content-type"))
        except CelonisApiError as err:
            raise self.explain(err, call) from err

    async def acall(self, call: Call) -> Any:
        """Async twin of :meth:`call` (triggers): same request core, never blocks the loop."""
        try:
            response = await self.arequest(
                call.method, call.path, api=call.api, idempotent=call.idempotent, **call.kwargs
            )
        except CelonisApiError as err:
            raise self.explain(err, call) from err
        return decode(call, response.text, response.headers.get("content-type"))

    def explain(self, err: CelonisApiError, call: Call) -> CelonisApiError:
        """A hook's chance to say what an error means for this endpoint (default: as it is)."""
        return err

    async def arequest(
        self, method: str, path: str, *, api: CelonisApi | str, idempotent: bool | None = None, **kwargs: Any
    ) -> transport.CelonisResponse:
        """Async twin of :meth:`request` (for triggers): same policy, never blocks the loop."""
        api, method = get_api(api), method.upper()
        config = await self.aget_config()
        url = self.api_url(api, path, config)
        self._check_on_team(url, config)
        idem = is_idempotent(method, idempotent)
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
            except RetryableStatus as final:
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

    def _api_error(
        self,
        status: int,
        text: str,
        headers: Any,
        api: CelonisApi,
        config: CelonisConnectionConfig,
        method: str,
        path: str,
        retried: bool = False,
        idempotent: bool = True,
    ) -> CelonisError:
        text = self.scrub(text)
        if not idempotent and status in AMBIGUOUS_STATUSES:
            # A server error or a gateway that gave up waiting does not prove that Celonis did
            # not act on the request (e.g. started the job): the caller must read the state back.
            return CelonisRequestMaybeSentError(
                f"{method} {path.split('?')[0]} got HTTP {status}; Celonis may have acted on it, so it "
                "was not sent again (a job must not start twice).",
                fix="check in Celonis whether the operation started before retrying the task",
            )
        return api_error(
            status=status,
            body=scrub_body(parse_error_body(text), self.scrub),
            api=api,
            scope=self.scope_for(api, config),
            method=method,
            path=path.split("?")[0],
            conn_id=self.celonis_conn_id,
            reset_in=wait_hint_from_headers(dict(headers)) if status == 429 else None,
            retried=retried,
            prefix=self.api_prefix(api, config),
            legacy_key=not config.uses_oauth,
        )

    def known_secrets(self) -> list[str]:
        """What this hook knows that must never be shown: client secret, API key, tokens it used."""
        config = self._config
        found = [config.client_secret, config.api_key, *config.proxy_secrets()] if config is not None else []
        return [s for s in (*found, *self._seen_tokens) if s]

    def scrub(self, text: str) -> str:
        """``text`` (built from a Celonis answer) without the secrets this hook knows, whatever
        Airflow's masker does: Celonis error pages may echo the request."""
        return transport.scrub(text, self.known_secrets())

    # -- the UI's Test button --------------------------------------------------------------
    def test_connection(self) -> tuple[bool, str]:
        """Fetch tokens (no API call, no side effect) and report which scopes were granted."""
        from airflow_provider_celonis.hooks._connection_test import run_connection_test

        return run_connection_test(self)

    # -- async session lifetime ------------------------------------------------------------
    def async_session(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Hold one shared aiohttp connection pool across many :meth:`arequest` calls.

        Triggers wrap their whole wait in it; without it each request opens and closes its
        own session (correct, but a new connection per poll).
        """
        return transport.shared_session()
