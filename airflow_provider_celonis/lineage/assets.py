"""The Airflow Assets the extract and push operators declare as ``outlets``, from arguments only.

Outlets are fixed when the DAG is parsed, so they come from the operator's arguments as written,
without I/O, connection lookups or template rendering:

* a push declares ``x-celonis://data-pools/<pool id>/tables/<table>`` (with
  ``/data-connections/<id>`` before ``/tables`` when it names a data connection). The team host
  is not in it: it needs a connection lookup, which DAG parsing must not do. Ids are
  percent-encoded path segments. A templated pool, table or data connection
  (``"{{ params.pool }}"``) has no value at parse time: no Asset is declared.
  Why ``x-celonis`` and not ``celonis``: Airflow looks up a URI normalizer for every scheme it
  does not know by starting its providers manager, which imports every provider's asset
  handlers (with the Amazon provider installed: boto3), measured at 0.5 s of DAG parse time;
  a scheme starting with ``x-`` is Airflow's way to say "custom, do not normalize";
* an extract declares its ``output_path``: ``file:///data/audit/x.jsonl`` for a local path,
  ``s3://bucket/key`` for an object (the userinfo, a connection id or credentials, dropped).
  A templated path declares the folder before its first template: ``/data/audit/{{ ds }}.jsonl``
  declares ``file:///data/audit``, so a DAG scheduled on that Asset runs after every
  interval's file. An object-store Asset (``s3://``) is normalized by its provider's handler
  at parse time, as any such Asset in a DAG is. A path templated from its start
  (``"{{ var.value.dir }}/x.jsonl"``), a relative path, or an object URI whose bucket or whole
  key is templated declares nothing.

``outlets=`` given to the operator always wins: ``outlets=[]`` turns the Asset off,
``outlets=[Asset("...")]`` replaces it (e.g. for templated ids). An event for each outlet is
recorded when the task succeeds, by Airflow. See docs/lineage.md.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_celonis.client.paths import path_id

__all__ = ["ASSET_SCHEME", "declare_outlets", "output_asset_uri", "pool_table_asset_uri"]

ASSET_SCHEME = "x-celonis"

log = logging.getLogger(__name__)

_TEMPLATE_MARKS = ("{{", "{%", "{#")


def _templated(value: str) -> bool:
    return any(mark in value for mark in _TEMPLATE_MARKS)


def _literal(value: Any) -> str | None:
    """A non-empty, untemplated string id, else None."""
    if not isinstance(value, str) or not value.strip() or _templated(value):
        return None
    return value.strip()


def pool_table_asset_uri(pool_id: Any, table: Any, data_connection_id: Any = None) -> str | None:
    """``x-celonis://data-pools/<pool>/tables/<table>`` (or with ``/data-connections/<id>``); None
    when an argument is templated or empty."""
    pool, name = _literal(pool_id), _literal(table)
    if pool is None or name is None:
        return None
    middle = ""
    if data_connection_id not in (None, ""):
        connection = _literal(data_connection_id)
        if connection is None:
            return None
        middle = f"/data-connections/{path_id(connection)}"
    return f"{ASSET_SCHEME}://data-pools/{path_id(pool)}{middle}/tables/{path_id(name)}"


def output_asset_uri(output_path: Any) -> str | None:
    """The Asset URI of an extract's ``output_path`` as written (see the module docstring)."""
    if not isinstance(output_path, str) or not output_path.strip():
        return None
    text = output_path.strip()
    cut = min((text.find(mark) for mark in _TEMPLATE_MARKS if mark in text), default=-1)
    if cut >= 0:
        text = text[:cut]
        text = text[: text.rfind("/")] if "/" in text else ""  # the folder before the template
    if "://" not in text:
        if text[:5].lower() == "file:":
            text = text[5:]
        if not text.startswith("/") or text.rstrip("/") == "":
            return None  # relative (depends on the worker) or the root / nothing left
        return f"file://{text.rstrip('/')}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = parts.netloc.rsplit("@", 1)[-1]
    path = parts.path.rstrip("/")
    if scheme in ("file", "local"):
        if host not in ("", "localhost") or not path:
            return None
        return f"file://{path}"
    if not host or "{" in host or (cut >= 0 and not path):
        return None  # no bucket, or a whole bucket only because the key is templated
    return f"{scheme}://{host}{path}"


def declare_outlets(operator: Any, init_kwargs: dict[str, Any], uri: str | None) -> None:
    """Set ``operator.outlets`` to the Asset at ``uri`` unless the user passed ``outlets``.

    Called at the end of an operator's ``__init__`` with the keyword arguments it received.
    Never raises: a URI Airflow refuses only means no automatic Asset (DAG parsing must not fail
    for a convenience).
    """
    if "outlets" in init_kwargs or uri is None:
        return
    try:
        from airflow_provider_celonis.compat import Asset

        operator.outlets = [Asset(uri)]
    except Exception as err:  # an Airflow that refuses the URI: no automatic Asset
        log.debug("No Asset declared for %s: %s", uri, err)
