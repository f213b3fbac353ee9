"""Dataset names of what the operators read and write, in OpenLineage's naming convention.

A dataset is a ``namespace`` (the data source: ``scheme://authority``) and a ``name`` unique in
it (OpenLineage spec, "Naming"). Storage follows the spec and Airflow's own providers:

======================================  ==============================================  =============
URI                                     namespace                                       name
======================================  ==============================================  =============
``/data/x``, ``file:///data/x``         ``file``                                        ``/data/x``
``s3://[conn@]bucket/key``              ``s3://bucket``                                 ``key``
``gs://`` or ``gcs://[conn@]bucket/k``  ``gs://bucket``                                 ``k``
``abfss://cont@acct.dfs.core...``       ``abfss://cont@acct.dfs.core...`` (the spec's)  ``path``
``abfs://[conn@]cont/path`` (fsspec)    ``abfs://cont`` (no account in the URI)          ``path``
``scheme://[user@]host/path``           ``scheme://host``                               ``path``
======================================  ==============================================  =============

Userinfo is never part of a name: in an Airflow ``ObjectStoragePath`` it is a connection id
(``s3://aws_default@bucket``) or, worse, credentials; it is dropped, not redacted, so the same
object has the same name whatever connection read it (Azure's ``container@account`` form is a
host, not userinfo, and is kept). Nor is the query or fragment (a SAS token, a presigned
signature). A secret holding an unencoded ``/`` (``s3://KEY:ab/cd@bucket``) ends the authority
early, so the parser sees ``KEY:ab`` as host and port: such a URI is no dataset at all
(:func:`shared_host`), rather than a namespace holding half a secret key.

A local path is normalized (``/data/../x`` and ``file:///data/./x`` are ``/x`` and ``/data/x``),
so one file has one name however it was spelled.

Celonis itself is one data source per team: namespace ``celonis://<team host>`` (the host of the
connection's team URL, e.g. ``celonis://acme.eu-1.celonis.cloud``). Names in it:

* a usage API as the extracts read it: ``audit-log``, ``login-history``, ``studio-adoption``,
  ``team-members``, ``scim/Users``, ``scim/Groups``, ``knowledge-models/<id>`` (and
  ``knowledge-models/<id>/records/<record id>``);
* a data pool table: ``<pool id>.<table>``, or ``<pool id>.<data connection id>.<table>`` when
  the push names a data connection: the spec's ``{database}.{schema}.{table}`` with the pool
  as the database and the data connection as the schema (the global schema has no name);
* a whole data pool (what a data job reads and writes): ``<pool id>``;
* a data model: ``data-models/<data model id>``.
"""

from __future__ import annotations

import os
import posixpath
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

__all__ = [
    "DatasetName",
    "celonis_dataset",
    "celonis_namespace",
    "data_model_name",
    "local_path",
    "pool_table_name",
    "shared_host",
    "storage_dataset",
]

_ALIASES = {"gcs": "gs", "local": "file"}
"""fsspec spellings with one OpenLineage scheme."""


class DatasetName(NamedTuple):
    namespace: str
    name: str


def _host_of(netloc: str) -> str:
    """The authority without userinfo (a connection id or credentials): ``aws_default@bucket``
    -> ``bucket``; ``KEY:SECRET@bucket`` -> ``bucket``; a port is kept."""
    return netloc.rsplit("@", 1)[-1]


def shared_host(netloc: str) -> str | None:
    """The authority without userinfo, or None when what is left cannot be a host: a ``:``
    followed by anything but a port number is the rest of a secret whose unencoded ``/`` ended
    the authority early (``s3://KEY:ab/cd@bucket`` parses as host ``KEY``, "port" ``ab``)."""
    host = _host_of(netloc)
    if host.startswith("["):  # an IPv6 literal
        return host
    _, colon, port = host.rpartition(":")
    return None if colon and not port.isdigit() else host


def local_path(path: str) -> str:
    """An absolute local path, normalized (``..``, ``.``, ``//``); a relative one is made
    absolute in the worker's working directory, as the file it writes."""
    return "/" + os.path.abspath(posixpath.normpath(path or "/")).lstrip("/")


def storage_dataset(uri: str) -> DatasetName | None:
    """The dataset of a file or object: ``uri`` is a local path or an ``ObjectStoragePath`` URI.

    Never raises for a string; credentials never reach the result: None for a URI whose
    authority holds part of a secret (:func:`shared_host`).
    """
    text = str(uri).strip()
    if "://" not in text:
        if text[:5].lower() == "file:":  # RFC 8089 short form, file:/data/x
            text = text[5:]
        return DatasetName("file", local_path(text))
    parts = urlsplit(text)
    scheme = _ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
    path = unquote(parts.path)
    if scheme == "file":
        return DatasetName("file", local_path(path))
    netloc = parts.netloc
    if shared_host(netloc) is None:
        return None
    if scheme in ("abfs", "abfss", "wasb", "wasbs", "az") and "@" in netloc:
        container, _, account = netloc.rpartition("@")
        if "." in account:  # container@account.dfs.core.windows.net: the spec's form, keep it
            container = container.rsplit("@", 1)[-1]  # a connection id before it is still dropped
            return DatasetName(f"{scheme}://{container}@{account}", path.lstrip("/") or "/")
    host = _host_of(netloc)
    return DatasetName(f"{scheme}://{host}", path.lstrip("/") or "/")


def celonis_namespace(team_url: str | None) -> str | None:
    """``celonis://<team host>`` for the connection's team URL (``https://acme.eu-1.celonis.cloud``);
    a port is kept (the emulator listens on one). None when the URL has no host."""
    if not team_url:
        return None
    parts = urlsplit(str(team_url))
    host = _host_of(parts.netloc).lower()
    return f"celonis://{host}" if host else None


def celonis_dataset(team_url: str | None, name: str) -> DatasetName | None:
    namespace = celonis_namespace(team_url)
    return DatasetName(namespace, name) if namespace else None


def pool_table_name(pool_id: str, table: str, data_connection_id: str | None = None) -> str:
    """``<pool>.<table>``, or ``<pool>.<data connection>.<table>`` (the connection's schema)."""
    if data_connection_id:
        return f"{pool_id}.{data_connection_id}.{table}"
    return f"{pool_id}.{table}"


def data_model_name(data_model_id: str) -> str:
    return f"data-models/{data_model_id}"
