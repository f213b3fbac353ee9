"""Put caller-given ids into URL paths safely.

An id is one path segment: ``path_id("a/b")`` is ``a%2Fb``, so an id holding ``/``, ``?``,
``#`` or ``..`` reaches the endpoint it was meant for (and gets that endpoint's 404) instead of
another endpoint of the API.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["path_id"]


def path_id(value: object) -> str:
    """``value`` as one percent-encoded URL path segment (nothing is left unescaped but unreserved)."""
    return quote(str(value), safe="")
