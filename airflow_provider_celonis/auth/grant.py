"""The client-credentials grant over the wire: one token request, sync or async, with typed errors.

Token requests are safe to repeat, so they go through the retry policy as idempotent; a
refusal becomes :class:`~airflow_provider_celonis.exceptions.CelonisInvalidClientError`,
:class:`~airflow_provider_celonis.exceptions.CelonisInvalidScopeError` or another
:class:`~airflow_provider_celonis.exceptions.CelonisAuthenticationError` whose message says
how to fix it.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.auth.token import (
    AccessToken,
    TokenResponseError,
    build_token_request,
    parse_token_response,
)
from airflow_provider_celonis.client.apis import CelonisApi
from airflow_provider_celonis.client.connection import CelonisConnectionConfig
from airflow_provider_celonis.client.error_mapping import parse_error_body, scrub_body, token_error
from airflow_provider_celonis.client.retry_policy import RetryableStatus
from airflow_provider_celonis.client.sending import RetryingSender
from airflow_provider_celonis.client.transport import scrub, text_of
from airflow_provider_celonis.exceptions import CelonisAuthenticationError


def token_exchange(config: CelonisConnectionConfig, scope: str) -> dict[str, Any]:
    """The token request as the sender's arguments, the same for :meth:`ClientCredentialsGrant.fetch`
    and its async twin: safe to repeat, and never redirected (a 307/308 would re-post the
    client secret to the redirect's target)."""
    req = build_token_request(config, scope)
    return {
        "method": "POST",
        "url": req.url,
        "config": config,
        "idempotent": True,
        "follow_redirects": False,
        "data": req.data,
        "headers": req.headers,
    }


class ClientCredentialsGrant:
    def __init__(self, sender: RetryingSender, conn_id: str) -> None:
        self.sender = sender
        self.conn_id = conn_id

    def fetch(self, config: CelonisConnectionConfig, scope: str, api: CelonisApi | None) -> AccessToken:
        try:
            response = self.sender.send(**token_exchange(config, scope))
        except RetryableStatus as final:
            raise self._refused(final.status, final.body, config, scope, api) from None
        with response:
            return self._token(response.status_code, text_of(response), config, scope, api)

    async def afetch(
        self, config: CelonisConnectionConfig, scope: str, api: CelonisApi | None
    ) -> AccessToken:
        """Async twin of :meth:`fetch`: same request, same decisions; only the I/O differs."""
        try:
            response = await self.sender.asend(**token_exchange(config, scope))
        except RetryableStatus as final:
            raise self._refused(final.status, final.body, config, scope, api) from None
        return self._token(response.status, response.text, config, scope, api)

    def _token(
        self, status: int, text: str, config: CelonisConnectionConfig, scope: str, api: CelonisApi | None
    ) -> AccessToken:
        if status >= 400:
            raise self._refused(status, text, config, scope, api)
        try:
            return parse_token_response(text, scope)
        except TokenResponseError as err:
            raise CelonisAuthenticationError(
                f"Celonis token endpoint {config.token_url} answered {status} but {err}.",
                status=status,
                fix="check the connection's host and the extra token_url",
            ) from None

    def _refused(
        self,
        status: int | None,
        text: str,
        config: CelonisConnectionConfig,
        scope: str,
        api: CelonisApi | None,
    ) -> CelonisAuthenticationError:
        # The endpoint may echo the form body (client secret) or the Basic header: scrub first.
        basic = build_token_request(config, scope).headers.get("Authorization", "").removeprefix("Basic ")
        known = [s for s in (config.client_secret, basic, *config.proxy_secrets()) if s]
        return token_error(
            status=status,
            body=scrub_body(parse_error_body(scrub(text, known)), lambda t: scrub(t, known)),
            conn_id=self.conn_id,
            client_id=config.client_id or "",
            auth_method=config.auth_method,
            scope=scope,
            token_url=config.token_url,
            api=api,
        )
