"""Who may see what, for :class:`~airflow_provider_celonis.hooks.celonis.CelonisOAuthHook`: the
``Authorization`` header (tokens per API scope, cached and re-granted once after a 401, or the
legacy API key), sent only to the team URL; and the typed errors built from Celonis's answers,
without the secrets the hook knows.

Sync and async share every decision (:func:`header_for`, :meth:`AuthorizationMixin._regrant_after`);
they differ only in how a token is fetched (``requests`` or ``aiohttp``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_celonis.auth.token import AccessToken, cache_key
from airflow_provider_celonis.auth.token_cache import TOKEN_CACHE
from airflow_provider_celonis.client import transport
from airflow_provider_celonis.client.apis import CelonisApi
from airflow_provider_celonis.client.connection import CelonisConnectionConfig
from airflow_provider_celonis.client.error_mapping import api_error, parse_error_body, scrub_body
from airflow_provider_celonis.client.redirects import ambiguous_authority, same_origin, shown
from airflow_provider_celonis.client.retry_policy import AMBIGUOUS_STATUSES, wait_hint_from_headers
from airflow_provider_celonis.exceptions import (
    CelonisConfigurationError,
    CelonisError,
    CelonisRequestMaybeSentError,
)

if TYPE_CHECKING:
    from airflow_provider_celonis.auth.grant import ClientCredentialsGrant


def header_for(token: AccessToken) -> tuple[str, AccessToken]:
    return f"Bearer {token.value}", token


def key_header(config: CelonisConnectionConfig) -> tuple[str, None]:
    """The legacy ``AppKey``/``Bearer`` API key header (no token to re-grant)."""
    return f"{config.key_type} {config.api_key}", None


class AuthorizationMixin:
    """Token and secret handling; the hook provides ``grant``, ``get_config``/``aget_config``,
    ``scope_for``, ``log`` and ``_config``."""

    grant: ClientCredentialsGrant
    celonis_conn_id: str
    _config: CelonisConnectionConfig | None
    _seen_tokens: set[str]
    log: Any

    if TYPE_CHECKING:

        def get_config(self) -> CelonisConnectionConfig: ...

        async def aget_config(self) -> CelonisConnectionConfig: ...

        def scope_for(self, api: CelonisApi | str, config: CelonisConnectionConfig | None = None) -> str: ...

        def api_prefix(self, api: CelonisApi | str, config: CelonisConnectionConfig | None = None) -> str: ...

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
            return key_header(config)
        scope = self.scope_for(api, config)
        token = TOKEN_CACHE.get(cache_key(config, scope), lambda: self.fetch_token(scope, api))
        self._seen_tokens.add(token.value)
        return header_for(token)

    async def _aauthorization(
        self, config: CelonisConnectionConfig, api: CelonisApi
    ) -> tuple[str, AccessToken | None]:
        if not config.uses_oauth:
            return key_header(config)
        scope = self.scope_for(api, config)
        token = await TOKEN_CACHE.aget(cache_key(config, scope), lambda: self.afetch_token(scope, api))
        self._seen_tokens.add(token.value)
        return header_for(token)

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

    def _check_on_team(
        self,
        url: str,
        config: CelonisConnectionConfig,
        fix: str = "send only paths of the team URL (check api_prefixes)",
    ) -> None:
        """The token is for the team URL only, whatever built ``url``."""
        base_url = config.base_url
        if ambiguous_authority(url) or not same_origin(url, base_url):
            raise CelonisConfigurationError(
                "url",
                f"({shown(url)}) is not on the team URL {base_url}, so the hook would send its "
                "Authorization header to another host",
                fix,
                where=f"CelonisOAuthHook('{self.celonis_conn_id}')",
            )

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
