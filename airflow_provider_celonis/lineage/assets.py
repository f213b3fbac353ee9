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
  ``s3://bucket/key`` for an object (the userinfo, a connection id or credentials, dropped, and
  the query, a SAS token or signature, too; Azure's ``container@account`` kept). A local path is
  normalized (``/data/../x`` is ``file:///x``) and percent-encoded (``my dir/ü`` is
  ``my%20dir/%C3%BC``: Airflow 3.0 refuses non-ASCII), so one file has one URI, the one a
  consumer writes. A URI whose authority holds part of a secret (an unencoded ``/`` in it)
  declares nothing, and neither does a URI Airflow would store rewritten (3.0 drops Azure's
  ``container@``: that Asset would be every container's).
  A templated path declares the folder before its first template: ``/data/audit/{{ ds }}.jsonl``
  declares ``file:///data/audit``, so a DAG scheduled on that Asset runs after every
  interval's file. An object-store Asset (``s3://``) is normalized by its provider's handler
  at parse time, as any such Asset in a DAG is. A path templated from its start
  (``"{{ var.value.dir }}/x.jsonl"``), a relative path, or an object URI whose bucket or whole
  key is templated declares nothing.

``outlets=`` given to the operator (or in ``default_args``) always wins: ``outlets=[]`` turns
the Asset off, ``outlets=[Asset("...")]`` replaces it (e.g. for templated ids). An event for
each outlet is recorded when the task succeeds, by Airflow. See docs/lineage.md.
"""

from __future__ import annotations

import logging
import posixpath
import warnings
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_celonis.client.paths import path_id
from airflow_provider_celonis.lineage.naming import shared_host

__all__ = ["ASSET_SCHEME", "declare_outlets", "output_asset_uri", "pool_table_asset_uri"]

ASSET_SCHEME = "x-celonis"

log = logging.getLogger(__name__)

_TEMPLATE_MARKS = ("{{", "{%", "{#")
_PATH_SAFE = "/:@!$&'()*+,;=~"
"""RFC 3986 path characters kept as written (``dt=2025-11-01``); spaces, non-ASCII, ``?`` and
``#`` are percent-encoded (letters, digits and ``-._`` are never encoded)."""
_AZURE = frozenset({"abfs", "abfss", "wasb", "wasbs", "az"})


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


def _file_uri(path: str, *, encoded: bool) -> str | None:
    """``file://`` and the absolute ``path`` normalized (``..``, ``.``, ``//``) and
    percent-encoded (a URI is ASCII: Airflow 3.0 refuses anything else); None for a relative
    path (it depends on the worker) or the root."""
    if not path.startswith("/"):
        return None
    clean = "/" + posixpath.normpath(path).lstrip("/")
    if clean == "/":
        return None
    return "file://" + quote(clean, safe=_PATH_SAFE + ("%" if encoded else ""))


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
            return _file_uri(text[5:], encoded=True)  # RFC 8089 short form: a URI already
        return _file_uri(text, encoded=False)
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = shared_host(parts.netloc)  # userinfo dropped; None if it held part of a secret
    if host is None:
        return None
    if scheme in ("file", "local"):
        return _file_uri(parts.path, encoded=True) if host in ("", "localhost") else None
    if scheme in _AZURE and "@" in parts.netloc:
        container, _, account = parts.netloc.rpartition("@")
        if "." in account:  # container@account.dfs.core.windows.net: the container is the place
            host = f"{container.rsplit('@', 1)[-1]}@{account}"
    path = quote(parts.path.rstrip("/"), safe=_PATH_SAFE + "%")  # query and fragment dropped
    if not host or "{" in host or (cut >= 0 and not path):
        return None  # no bucket, or a whole bucket only because the key is templated
    return f"{scheme}://{host}{path}"


def declare_outlets(operator: Any, init_kwargs: dict[str, Any], uri: str | None) -> None:
    """Set ``operator.outlets`` to the Asset at ``uri`` unless the user passed ``outlets``.

    Called at the end of an operator's ``__init__`` with the keyword arguments it received.
    Never raises: a URI Airflow refuses only means no automatic Asset (DAG parsing must not fail
    for a convenience).
    """
    defaults = init_kwargs.get("default_args")  # the DAG's and the operator's, merged by Airflow
    if "outlets" in init_kwargs or (isinstance(defaults, dict) and "outlets" in defaults) or uri is None:
        return
    try:
        from airflow_provider_celonis.compat import OUTLETS_RUN_UNDER_DAGS_TEST, Asset

        if not OUTLETS_RUN_UNDER_DAGS_TEST:  # Airflow 3.0: an outlet fails `airflow dags test`
            return

        with warnings.catch_warnings():  # Airflow 3.0 warns when it drops an authority's '@' part
            warnings.simplefilter("ignore")
            asset = Asset(uri)
    except Exception as err:  # an Airflow that refuses the URI: no automatic Asset
        log.debug("No Asset declared for %s: %s", uri, err)
        return
    if asset.uri != uri:
        # Airflow rewrote it (3.0 drops Azure's "container@"): the Asset would not be the one
        # documented, nor this data only; declaring nothing beats declaring another's data.
        log.debug("No Asset declared for %s: Airflow keeps it as %s", uri, asset.uri)
        return
    operator.outlets = [asset]
