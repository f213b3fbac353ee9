"""Dataset names: OpenLineage's storage convention, the Celonis namespace, and no credentials."""

from __future__ import annotations

import os

import pytest

from airflow_provider_celonis.lineage.naming import (
    DatasetName,
    celonis_dataset,
    celonis_namespace,
    data_model_name,
    pool_table_name,
    storage_dataset,
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/data/audit/2025-10-31.jsonl", ("file", "/data/audit/2025-10-31.jsonl")),
        ("file:///data/x.jsonl", ("file", "/data/x.jsonl")),
        ("file://localhost/data/x.jsonl", ("file", "/data/x.jsonl")),
        ("file:/data/x.jsonl", ("file", "/data/x.jsonl")),
        ("file:///data/a%20b.csv", ("file", "/data/a b.csv")),
        ("s3://bucket/audit/x.jsonl", ("s3://bucket", "audit/x.jsonl")),
        ("S3://bucket/x", ("s3://bucket", "x")),
        ("gs://bucket/k/x.parquet", ("gs://bucket", "k/x.parquet")),
        ("gcs://bucket/k", ("gs://bucket", "k")),
        (
            "abfss://data@acct.dfs.core.windows.net/celonis/x.csv",
            ("abfss://data@acct.dfs.core.windows.net", "celonis/x.csv"),
        ),
        ("abfs://container/celonis/x.csv", ("abfs://container", "celonis/x.csv")),
        ("s3://bucket", ("s3://bucket", "/")),
    ],
)
def test_storage_names_follow_the_openlineage_convention(uri: str, expected: tuple[str, str]) -> None:
    assert storage_dataset(uri) == DatasetName(*expected)


@pytest.mark.parametrize(
    "uri",
    [
        "s3://AKIAEXAMPLE:wJalrXUtnFEMI@bucket/x.jsonl",
        "s3://aws_default@bucket/x.jsonl",
        "s3://***@bucket/x.jsonl",
        "gs://user:pa@ss@bucket/x.jsonl",
    ],
)
def test_userinfo_never_reaches_a_name(uri: str) -> None:
    """A connection id or credentials in the URI: dropped, so the same object has one name."""
    name = storage_dataset(uri)
    assert name.namespace in ("s3://bucket", "gs://bucket")
    assert name.name == "x.jsonl"
    assert "@" not in name.namespace and "wJal" not in repr(name) and "pa" not in name.namespace


def test_azure_connection_id_is_dropped_but_the_account_form_is_kept() -> None:
    assert storage_dataset("abfs://azure_conn@container/p.csv") == DatasetName("abfs://container", "p.csv")
    assert storage_dataset("abfss://conn@data@acct.dfs.core.windows.net/p.csv") == DatasetName(
        "abfss://data@acct.dfs.core.windows.net", "p.csv"
    )


def test_a_relative_path_is_the_file_the_worker_writes(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(str(tmp_path))
    assert storage_dataset("out/x.csv") == DatasetName("file", os.path.join(str(tmp_path), "out", "x.csv"))


def test_celonis_namespace_is_the_team_host() -> None:
    assert celonis_namespace("https://acme.eu-1.celonis.cloud") == "celonis://acme.eu-1.celonis.cloud"
    assert celonis_namespace("https://ACME.eu-1.celonis.cloud/") == "celonis://acme.eu-1.celonis.cloud"
    assert celonis_namespace("http://127.0.0.1:8123") == "celonis://127.0.0.1:8123"
    assert celonis_namespace("https://user:secret@acme.celonis.cloud") == "celonis://acme.celonis.cloud"
    assert celonis_namespace(None) is None
    assert celonis_namespace("") is None
    assert celonis_namespace("not a url") is None
    assert celonis_dataset(None, "audit-log") is None
    assert celonis_dataset("https://t.celonis.cloud", "audit-log") == DatasetName(
        "celonis://t.celonis.cloud", "audit-log"
    )


def test_pool_table_and_model_names() -> None:
    assert pool_table_name("pool-1", "orders") == "pool-1.orders"
    assert pool_table_name("pool-1", "orders", "dc-9") == "pool-1.dc-9.orders"
    assert data_model_name("m-1") == "data-models/m-1"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        # one file, one name, however it is spelled (a relative or '..' path is normalized too)
        ("file:///data/../x.jsonl", ("file", "/x.jsonl")),
        ("file:///data/./a//x.jsonl", ("file", "/data/a/x.jsonl")),
        ("//data//x.jsonl", ("file", "/data/x.jsonl")),
        # a SAS token, a presigned signature: the query is never part of a name
        (
            "abfs://cont@acct.dfs.core.windows.net/x?sv=1&sig=SECRET",
            ("abfs://cont@acct.dfs.core.windows.net", "x"),
        ),
        ("s3://bucket/x.jsonl?X-Amz-Signature=SECRET#frag", ("s3://bucket", "x.jsonl")),
    ],
)
def test_names_are_canonical_and_drop_queries(uri: str, expected: tuple[str, str]) -> None:
    assert storage_dataset(uri) == DatasetName(*expected)


@pytest.mark.parametrize(
    "uri",
    ["s3://AKIAEXAMPLE:ab/cd@bucket/x.jsonl", "gs://user:p/w@bucket/x", "s3://KEY:SECRET/bucket/x"],
)
def test_a_secret_that_ends_the_authority_early_is_no_dataset(uri: str) -> None:
    """An unencoded '/' in a secret makes the parser see ``KEY:ab`` as host and port: no
    dataset at all rather than a namespace holding half a secret key."""
    assert storage_dataset(uri) is None


def test_no_output_from_a_malformed_uri_in_the_facts() -> None:
    from airflow_provider_celonis.lineage.facts import extract_lineage, push_lineage

    assert extract_lineage("https://t", ["audit-log"], "s3://AKIA:ab/cd@bucket/x", 3).outputs == []
    lineage = push_lineage("https://t", "p", "t", sources=["s3://AKIA:ab/cd@bucket/x", "/d/a.csv"])
    assert [d.name for d in lineage.inputs] == ["/d/a.csv"]
