"""Turn an Airflow Connection into validated Celonis client settings.

Pure functions, no I/O: they run before any network call so that a typo in a connection
fails the task with a message naming the field and the fix, instead of surfacing later as
a confusing 401 or a TLS error. The same settings feed the sync (requests) and async
(aiohttp) transports through :func:`requests_options` and :func:`aiohttp_options`
(defined in :mod:`airflow_provider_celonis.client.tls`, importable from here too).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from airflow_provider_celonis.client.apis import ALL_APIS
from airflow_provider_celonis.client.arguments import check_number
from airflow_provider_celonis.client.paths import redact_uri
from airflow_provider_celonis.client.tls import aiohttp_options as aiohttp_options  # re-exported
from airflow_provider_celonis.client.tls import parse_verify
from airflow_provider_celonis.client.tls import requests_options as requests_options  # re-exported
from airflow_provider_celonis.exceptions import CelonisConfigurationError

AUTH_METHODS = ("client_secret_post", "client_secret_basic")
KEY_TYPES = ("AppKey", "Bearer")
DEFAULT_TIMEOUT = 60.0
MIGRATION_DOC = "README.md#migrating-from-api-and-application-keys-to-oauth"

KNOWN_EXTRAS = frozenset(
    {
        "auth_method",
        "scopes",
        "token_url",
        "verify",
        "timeout",
        "proxies",
        "api_key",
        "key_type",
        "allow_insecure_http",
        "api_prefixes",
        "settle_period",  # read by the usage extract operators (docs/usage-extracts.md)
    }
)

_LOCAL_HOSTS = {"localhost"}


@dataclass(frozen=True)
class CelonisConnectionConfig:
    """Everything the hook needs from a connection, validated. ``repr`` hides secrets."""

    conn_id: str
    base_url: str
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    auth_method: str = "client_secret_post"
    scopes: str | dict[str, str] | None = None
    token_url: str = ""
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT
    proxies: dict[str, str] | None = field(default=None, repr=False)  # may hold credentials
    api_key: str | None = field(default=None, repr=False)
    key_type: str = "AppKey"
    api_prefixes: dict[str, str] = field(default_factory=dict)

    @property
    def uses_oauth(self) -> bool:
        return self.client_id is not None

    def proxy_secrets(self) -> list[str]:
        """Passwords in the proxy URLs, and the Basic value HTTP clients send them as: a proxy's
        error page may echo the Proxy-Authorization header."""
        found = []
        for url in (self.proxies or {}).values():
            parts = urlsplit(url)
            if parts.password:
                user, password = unquote(parts.username or ""), unquote(parts.password)
                found += [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
        return found

    def scopes_for(self, api_key: str, default: str) -> str:
        """The scope string to request for one API: the connection's override, else the default."""
        if isinstance(self.scopes, str):
            return self.scopes
        if isinstance(self.scopes, dict) and api_key in self.scopes:
            return self.scopes[api_key]
        return default


def _is_local(hostname: str) -> bool:
    if hostname in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _as_bool(name: str, value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise CelonisConfigurationError(
        f"extra.{name}", f"is {value!r}, not a boolean", "use true or false", where=where
    )


def _parse_extra(raw: str | dict[str, Any] | None, where: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    try:
        extra = json.loads(raw)
    except json.JSONDecodeError as err:
        raise CelonisConfigurationError(
            "extra",
            f"is not valid JSON ({err.msg} at position {err.pos})",
            'write the extras as a JSON object, e.g. {"auth_method": "client_secret_post"}',
            where=where,
        ) from None
    if not isinstance(extra, dict):
        raise CelonisConfigurationError(
            "extra", "is not a JSON object", 'write the extras as a JSON object: {"key": value}', where=where
        )
    return extra


def _parse_base_url(host: str | None, port: int | None, extra: dict[str, Any], where: str) -> str:
    example = "https://<team>.<realm>.celonis.cloud"
    if not host or not host.strip():
        raise CelonisConfigurationError(
            "host", "(Team URL) is empty", f"set it to your team URL, e.g. {example}", where=where
        )
    host = host.strip().rstrip("/")
    parts = urlsplit(host)
    _refuse_userinfo("host", host, parts.username, parts.password, where)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CelonisConfigurationError(
            "host",
            f"({redact_uri(host)!r}) has no http(s) scheme",
            f"write the full team URL, e.g. {example}; in an AIRFLOW_CONN_ URI the host loses its "
            "scheme, so use the JSON form of the connection instead",
            where=where,
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        team = f"{parts.scheme}://{parts.netloc}"
        raise CelonisConfigurationError(
            "host",
            f"({redact_uri(host)!r}) has a path; the Team URL is the scheme and host only",
            f"use {team} (API paths are added per API; change them with the extra api_prefixes)",
            where=where,
        )
    _refuse_plain_http("host", parts.scheme, parts.hostname, host, extra, where)
    if port and parts.port is None:
        host = f"{host}:{port}"
    return host


def _refuse_userinfo(field: str, url: str, user: str | None, password: str | None, where: str) -> None:
    """``https://user:pw@host``: requests would send the pair as Basic auth to every URL of the
    host, and it would show wherever the URL is shown. Credentials belong in login/password."""
    if user is not None or password is not None:
        raise CelonisConfigurationError(
            field,
            f"({redact_uri(url)!r}) carries credentials before the host",
            "remove them from the URL; put the OAuth client ID in login and its secret in password",
            where=where,
        )


def _refuse_plain_http(
    field: str, scheme: str, hostname: str, url: str, extra: dict[str, Any], where: str
) -> None:
    """The client secret travels to the host and the token URL: never in clear text off-machine."""
    insecure_ok = _as_bool("allow_insecure_http", extra.get("allow_insecure_http", False), where)
    if scheme == "http" and not _is_local(hostname) and not insecure_ok:
        raise CelonisConfigurationError(
            field,
            f"({redact_uri(url)!r}) uses plain http:// to a non-local host, which would send the client "
            "secret unencrypted",
            "use https://, or set the extra allow_insecure_http to true for a trusted local "
            "emulator (e.g. the docker-compose service)",
            where=where,
        )


def _parse_timeout(value: Any, where: str) -> float:
    return check_number("extra.timeout", value, above=0, where=where)


def _parse_str_map(name: str, value: Any, where: str, example: str) -> dict[str, str]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise CelonisConfigurationError(
            f"extra.{name}", "is not a JSON object of strings", f"use e.g. {example}", where=where
        )
    return dict(value)


def _parse_scopes(value: Any, where: str) -> str | dict[str, str] | None:
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return " ".join(value)
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("{"):
            value = _parse_str_map("scopes", stripped, where, '{"audit_log": "audit.log"}')
        else:
            return " ".join(stripped.replace(",", " ").split())
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(ALL_APIS))
        if unknown:
            raise CelonisConfigurationError(
                "extra.scopes",
                f"names unknown APIs {unknown}",
                f"use API keys from: {', '.join(sorted(ALL_APIS))}",
                where=where,
            )
        return _parse_str_map("scopes", value, where, '{"audit_log": "audit.log"}')
    raise CelonisConfigurationError(
        "extra.scopes",
        f"is {value!r}",
        'give a space-separated string ("audit.log:read team.login-history:read"), a list, '
        'or an object per API ({"audit_log": "audit.log"})',
        where=where,
    )


def parse_connection(
    conn_id: str,
    *,
    host: str | None,
    login: str | None,
    password: str | None,
    extra: str | dict[str, Any] | None,
    port: int | None = None,
) -> CelonisConnectionConfig:
    """Validate the fields of a ``celonis`` connection; raise :class:`CelonisConfigurationError`."""
    where = f"Celonis connection '{conn_id}'"
    extras = _parse_extra(extra, where)
    base_url = _parse_base_url(host, port, extras, where)

    auth_method = str(extras.get("auth_method") or "client_secret_post").strip()
    if auth_method not in AUTH_METHODS:
        raise CelonisConfigurationError(
            "extra.auth_method",
            f"is {auth_method!r}",
            f"use one of {', '.join(AUTH_METHODS)}, as chosen for the OAuth client in "
            "Admin & Settings > Applications",
            where=where,
        )

    api_key = extras.get("api_key") or None
    key_type = str(extras.get("key_type") or "AppKey")
    if key_type not in KEY_TYPES:
        raise CelonisConfigurationError(
            "extra.key_type",
            f"is {key_type!r}",
            "use AppKey for an application key or Bearer for a personal API key",
            where=where,
        )
    client_id = (login or "").strip() or None
    if not client_id and api_key is not None and not re.fullmatch(r"[\x21-\x7e]+", str(api_key)):
        # It goes into the Authorization header: a pasted line break would make requests quote the
        # whole header, key included, in its error (aiohttp: a raw ValueError).
        raise CelonisConfigurationError(
            "extra.api_key",
            "holds spaces, line breaks or non-ASCII characters, which an Authorization header cannot "
            "carry (the key is not shown)",
            "paste the key again without surrounding spaces or line breaks",
            where=where,
        )
    if client_id and not password:
        raise CelonisConfigurationError(
            "password",
            "(Client Secret) is empty while login (Client ID) is set",
            "paste the client secret shown when the OAuth client was created in Admin & Settings > "
            "Applications (create a new secret if it was lost)",
            where=where,
        )
    if not client_id and not api_key:
        raise CelonisConfigurationError(
            "login",
            "(Client ID) is empty and no legacy api_key is set, so there is nothing to authenticate with",
            "create an OAuth client in Admin & Settings > Applications and put its client ID in "
            "login and its secret in password",
            where=where,
        )

    token_url = str(extras.get("token_url") or f"{base_url}/oauth2/token")
    token_parts = urlsplit(token_url)
    _refuse_userinfo("extra.token_url", token_url, token_parts.username, token_parts.password, where)
    if token_parts.scheme not in ("http", "https") or not token_parts.hostname:
        raise CelonisConfigurationError(
            "extra.token_url",
            f"({redact_uri(token_url)!r}) is not an http(s) URL",
            "leave it empty for <Team URL>/oauth2/token, or give a full URL",
            where=where,
        )
    _refuse_plain_http("extra.token_url", token_parts.scheme, token_parts.hostname, token_url, extras, where)

    proxies = None
    if extras.get("proxies"):
        proxies = _parse_str_map(
            "proxies", extras["proxies"], where, '{"https": "http://proxy.example.com:3128"}'
        )
    prefixes = {}
    if extras.get("api_prefixes"):
        prefixes = _parse_str_map(
            "api_prefixes", extras["api_prefixes"], where, '{"scim": "/user-provisioning"}'
        )
        unknown = sorted(set(prefixes) - set(ALL_APIS))
        if unknown:
            raise CelonisConfigurationError(
                "extra.api_prefixes",
                f"names unknown APIs {unknown}",
                f"use API keys from: {', '.join(sorted(ALL_APIS))}",
                where=where,
            )
        check_api_prefixes("extra.api_prefixes", prefixes, where)

    return CelonisConnectionConfig(
        conn_id=conn_id,
        base_url=base_url,
        client_id=client_id,
        client_secret=password if client_id else None,
        auth_method=auth_method,
        scopes=_parse_scopes(extras.get("scopes"), where),
        token_url=token_url,
        verify=parse_verify(extras.get("verify", True), where),
        timeout=_parse_timeout(extras.get("timeout", DEFAULT_TIMEOUT), where),
        proxies=proxies,
        api_key=None if client_id else str(api_key),
        key_type=key_type,
        api_prefixes=prefixes,
    )


_PREFIX = re.compile(r"(/[^\\@?#\s]*)?")


def check_api_prefixes(name: str, prefixes: dict[str, str], where: str) -> dict[str, str]:
    """Each prefix is a path ("" or "/..."): the API URL is the team URL followed by it, so
    ``"@evil.example"`` or ``".evil.example"`` would move the host, and the token with it."""
    for api, prefix in prefixes.items():
        if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
            raise CelonisConfigurationError(
                name,
                f"gives {api!r} the prefix {prefix!r}, which is not a path starting with '/'",
                'use a path such as {"scim": "/user-provisioning"} (no host, no @, \\, ? or #)',
                where=where,
            )
    return prefixes


def unknown_extras(extra: dict[str, Any]) -> list[str]:
    """Extras this provider does not read; the hook logs them because they are usually typos."""
    return sorted(set(extra) - KNOWN_EXTRAS)
