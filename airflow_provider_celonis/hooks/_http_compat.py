"""HttpHook's own API on :class:`~airflow_provider_celonis.hooks.celonis.CelonisOAuthHook`.

``run()``, ``run_and_check()`` and ``run_with_advanced_retry()`` (which calls ``run()``) go
through the hook's one request core, so they get exactly what :meth:`request` gets: the
token of the API the path belongs to, a 401 re-granted and replayed once, 429 waits and
5xx retries under the same idempotency rule, refused cross-origin redirects, the total
deadline, and typed errors with secrets scrubbed. ``get_conn()`` still returns a plain
``requests`` session with a team-API bearer token for code that sends by itself; such
requests are outside the hook's policy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import requests
from airflow.providers.http.hooks.http import HttpHook

from airflow_provider_celonis.client import transport
from airflow_provider_celonis.client.apis import ALL_APIS, TEAM, CelonisApi
from airflow_provider_celonis.client.connection import requests_options
from airflow_provider_celonis.client.retry_policy import is_idempotent
from airflow_provider_celonis.client.sending import OwnAuthorization

if TYPE_CHECKING:
    from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

_NOT_FORWARDED = frozenset({"authorization", "user-agent", "content-length", "host"})


def api_for_path(hook: CelonisOAuthHook, path: str) -> CelonisApi:
    """The API whose prefix (as configured) is the longest one ``path`` starts with; else the team API.

    APIs without a prefix (team members, login history) cannot be told apart by path; they get
    the team API's token, as ``HttpHook.run()`` always did. Use :meth:`request` with ``api=`` for them.
    """
    config = hook.get_config()
    best, length = TEAM, 0
    for api in ALL_APIS.values():
        prefix = hook.api_prefix(api, config).rstrip("/")
        if prefix and (path == prefix or path.startswith(prefix + "/")) and len(prefix) > length:
            best, length = api, len(prefix)
    return best


class HttpHookCompat(HttpHook):
    """HttpHook's methods routed through ``CelonisOAuthHook.send_authenticated``."""

    def _hook(self) -> CelonisOAuthHook:
        return cast("CelonisOAuthHook", self)

    def run(
        self,
        endpoint: str | None = None,
        data: dict[str, Any] | str | None = None,
        headers: dict[str, Any] | None = None,
        extra_options: dict[str, Any] | None = None,
        **request_kwargs: Any,
    ) -> Any:
        """``HttpHook.run``: ``endpoint`` relative to the team URL, ``data`` as query (GET) or body.

        ``extra_options``: ``check_response`` (False returns error answers the policy does not
        retry), ``timeout`` and ``verify``/``proxies`` are taken from the connection instead.
        """
        config = self._hook().get_config()
        self.base_url = config.base_url
        self._base_url_initialized = True
        url = self.url_from_endpoint(endpoint)
        method = (self.method or "GET").upper()
        kwargs = dict(request_kwargs)
        if method == "GET":
            kwargs["params"] = data
        elif method != "HEAD":
            kwargs["data"] = data
        return self._compat_send(method, url, headers or {}, extra_options or {}, kwargs)

    def run_and_check(
        self,
        session: requests.Session,
        prepped_request: requests.PreparedRequest,
        extra_options: dict[Any, Any],
    ) -> Any:
        """A request prepared elsewhere, sent through the hook's core (the session is not used)."""
        headers = {k: v for k, v in prepped_request.headers.items() if k.lower() not in _NOT_FORWARDED}
        return self._compat_send(
            (prepped_request.method or "GET").upper(),
            prepped_request.url or "",
            headers,
            extra_options or {},
            {"data": prepped_request.body},
        )

    def _compat_send(
        self,
        method: str,
        url: str,
        headers: dict[str, Any],
        extra_options: dict[Any, Any],
        kwargs: dict[str, Any],
    ) -> requests.Response:
        # run_and_check() takes a request prepared anywhere: the team's token goes to the team only.
        self._hook()._check_on_team(
            url,
            self._hook().get_config(),
            "send only paths of the team URL through run() and run_and_check()",
        )
        path = urlsplit(url).path or "/"
        return self._hook().send_authenticated(
            method,
            url,
            path,
            api_for_path(self._hook(), path),
            is_idempotent(method),
            check=bool(extra_options.get("check_response", True)),
            headers=headers,
            **kwargs,
        )

    def get_conn(
        self,
        headers: dict[Any, Any] | None = None,
        extra_options: dict[str, Any] | None = None,
    ) -> requests.Session:
        """A ``requests`` session with the team URL as base and a bearer token for the team API."""
        config = self._hook().get_config()
        self.base_url = config.base_url
        self._base_url_initialized = True
        self.merged_extra = {**requests_options(config), **(extra_options or {})}
        session = requests.Session()
        session.auth = OwnAuthorization()  # not the worker's ~/.netrc over the bearer token
        session.headers["User-Agent"] = transport.user_agent()
        session.headers["Authorization"] = self._hook()._authorization(config, TEAM)[0]
        if headers:
            session.headers.update(headers)
        return session

    def check_response(self, response: requests.Response) -> None:
        if response.status_code >= 400:
            path = response.request.path_url if response.request else ""
            raise self._hook()._api_error(
                response.status_code,
                transport.text_of(response),
                response.headers,
                TEAM,
                self._hook().get_config(),
                response.request.method or "",
                path,
            )
