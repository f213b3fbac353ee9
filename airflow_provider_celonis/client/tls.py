"""TLS and proxy settings of a Celonis connection, for both transports.

``verify`` is read strictly (:func:`parse_verify`): a typo must never turn certificate checks
off, nor fail only at the first call. The sync (requests) and async (aiohttp) transports get
their keyword arguments from :func:`requests_options` and :func:`aiohttp_options`, so that a
worker and a triggerer trust the same CAs (the ``verify`` bundle, else ``REQUESTS_CA_BUNDLE``
or ``CURL_CA_BUNDLE``) and use the same proxy.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_celonis.exceptions import CelonisConfigurationError

if TYPE_CHECKING:
    from airflow_provider_celonis.client.connection import CelonisConnectionConfig

__all__ = ["aiohttp_options", "env_ca_bundle", "parse_verify", "requests_options", "ssl_context"]


def parse_verify(value: Any, where: str) -> bool | str:
    """``true``/``false`` (JSON booleans or those words in any case), or a readable CA bundle.

    Strict on purpose: ``""``, ``"Off"`` or a mistyped path must not quietly turn certificate
    checks off (``requests`` treats a falsy ``verify`` as "off") nor fail only at the first call
    with a raw ``OSError``.
    """
    if isinstance(value, bool):
        return value
    fix = (
        "use true, false, or the path of a readable CA bundle file or directory, "
        'e.g. "/etc/ssl/certs/corp-ca.pem"'
    )
    if not isinstance(value, str) or not value.strip():
        raise CelonisConfigurationError("extra.verify", f"is {value!r}", fix, where=where)
    word = value.strip().lower()
    if word in ("true", "false"):
        return word == "true"
    path = os.path.expanduser(value.strip())
    if not (os.path.isfile(path) or os.path.isdir(path)) or not os.access(path, os.R_OK):
        raise CelonisConfigurationError(
            "extra.verify",
            f"is {value!r}, which is neither true/false nor a readable CA bundle file or directory",
            fix,
            where=where,
        )
    try:
        # Load it now, as aiohttp will: a readable file holding no certificate (a key, a typo'd
        # notes file) would otherwise fail only at the first call, with a raw ssl.SSLError.
        ssl_context(path)
    except (ssl.SSLError, OSError, ValueError) as err:
        raise CelonisConfigurationError(
            "extra.verify",
            f"is {value!r}, which holds no usable CA certificate ({type(err).__name__}: {err})",
            fix,
            where=where,
        ) from None
    return path


def requests_options(config: CelonisConnectionConfig) -> dict[str, Any]:
    """Keyword arguments for ``requests.Session.send`` derived from the connection."""
    if config.verify is True:
        env_ca_bundle()  # requests reads it too: a bad one is named here, not a raw OSError mid-call
    options: dict[str, Any] = {"verify": config.verify, "timeout": config.timeout}
    if config.proxies:
        options["proxies"] = config.proxies
    return options


@functools.lru_cache(maxsize=8)
def ssl_context(ca_path: str) -> ssl.SSLContext:
    """The context of a ``verify`` path: a bundle file, or a hashed directory (``c_rehash``),
    which ``cafile`` cannot read (requests tells the two apart the same way)."""
    if os.path.isdir(ca_path):
        return ssl.create_default_context(capath=ca_path)
    return ssl.create_default_context(cafile=ca_path)


def env_ca_bundle() -> ssl.SSLContext | None:
    """REQUESTS_CA_BUNDLE, else CURL_CA_BUNDLE, as requests trusts them in workers with
    ``verify: true``: the deferrable path trusts the same CAs (a corporate CA set there failed
    TLS only in triggers)."""
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        bundle = os.environ.get(variable)
        if bundle:
            try:
                return ssl_context(bundle)
            except (ssl.SSLError, OSError) as err:
                raise CelonisConfigurationError(
                    variable,
                    f"(environment) is {bundle!r}, which holds no usable CA certificate "
                    f"({type(err).__name__}: {err})",
                    "point it to a readable CA bundle file or directory, or unset it",
                ) from None
    return None


def aiohttp_options(config: CelonisConnectionConfig) -> dict[str, Any]:
    """Keyword arguments for ``aiohttp.ClientSession.request``; ``ssl`` follows ``verify``."""
    options: dict[str, Any] = {}
    if config.verify is False:
        options["ssl"] = False
    elif isinstance(config.verify, str):
        options["ssl"] = ssl_context(config.verify)
    elif bundle := env_ca_bundle():
        options["ssl"] = bundle
    if config.proxies:
        scheme = urlsplit(config.base_url).scheme
        proxy = config.proxies.get(scheme)
        if proxy:
            options["proxy"] = proxy
    return options
