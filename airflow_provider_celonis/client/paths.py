"""URLs and URIs the provider builds or shows: ids into URL paths, credentials out of URIs.

An id is one path segment: ``path_id("a/b")`` is ``a%2Fb``, so an id holding ``/``, ``?``,
``#`` or ``..`` reaches the endpoint it was meant for (and gets that endpoint's 404) instead of
another endpoint of the API.

A URI a user gives (``output_path``, a push ``source``) may carry credentials in its userinfo
(``s3://KEY:SECRET@bucket/x``). Everything the provider logs, returns, renders or puts in an
exception shows it through :func:`redact_uri`, which replaces the userinfo with ``***``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["path_id", "redact_uri", "redact_uris_in", "uri_password"]

# scheme://userinfo@ ; the userinfo ends at the last '@' before the first '/', '?' or '#'.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*@)")
# scheme://user:secret@ where the secret holds an unencoded '/', '?' or '#' (AWS secret keys often
# hold '/'): not a valid URI, but exactly what a user pastes, and the rule above would stop at the
# '/' and show the secret. A ':' after the user and an '@' before any blank mark it as userinfo.
_USER_COLON_SECRET = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s@:]*:[^\s@]*@)")


def path_id(value: object) -> str:
    """``value`` as one percent-encoded URL path segment (nothing is left unescaped but unreserved)."""
    return quote(str(value), safe="")


def redact_uri(uri: object) -> str:
    """``uri`` with any userinfo (``user:password@``) replaced by ``***@``; other text unchanged.

    ``s3://KEY:SECRET@bucket/a.jsonl`` -> ``s3://***@bucket/a.jsonl``. A local path has no
    userinfo and comes back as it was.
    """
    return redact_uris_in(str(uri))


def redact_uris_in(text: str) -> str:
    """Every URI inside ``text`` (a message, a traceback line) with its userinfo redacted."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}***@", text)
    return _USER_COLON_SECRET.sub(lambda m: f"{m['scheme']}***@", text)


def uri_password(uri: object) -> str | None:
    """The password in ``uri``'s userinfo (what to register with the log masker), or None.

    Read like :func:`redact_uris_in` reads it: ``s3://KEY:abc/def@bucket/x`` gives ``abc/def``
    (``urlsplit`` would stop at the ``/`` and leave the rest of the secret unmasked).
    """
    found = _USER_COLON_SECRET.match(str(uri).strip())
    if found:
        return found["userinfo"].split(":", 1)[1][:-1] or None
    found = _USERINFO.match(str(uri).strip())
    if found and ":" in found["userinfo"]:
        return found["userinfo"][:-1].split(":", 1)[1] or None
    return None
