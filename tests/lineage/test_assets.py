"""Assets declared at parse time from arguments only; the user's ``outlets`` always wins."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from airflow_provider_celonis.lineage.assets import (
    declare_outlets,
    output_asset_uri,
    pool_table_asset_uri,
)


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("/data/audit/x.jsonl", "file:///data/audit/x.jsonl"),
        ("/data/audit/{{ ds }}.jsonl", "file:///data/audit"),
        ("/data/{{ ds }}/audit.jsonl", "file:///data"),
        ("/data/audit/day-{{ ds }}.jsonl", "file:///data/audit"),
        ("/data/audit/{% if x %}a{% endif %}.jsonl", "file:///data/audit"),
        ("file:///data/audit/{{ ds }}.jsonl", "file:///data/audit"),
        ("file://localhost/data/x.jsonl", "file:///data/x.jsonl"),
        ("s3://aws_default@bucket/audit/{{ ds }}.jsonl", "s3://bucket/audit"),
        ("s3://KEY:SECRET@bucket/audit/x.jsonl", "s3://bucket/audit/x.jsonl"),
        ("gs://bucket/a/b.parquet", "gs://bucket/a/b.parquet"),
        # Nothing stable to declare:
        ("{{ var.value.celonis_extract_dir }}/audit/{{ ds }}.jsonl", None),
        ("/{{ ds }}.jsonl", None),
        ("relative/x.jsonl", None),
        ("s3://bucket/{{ ds }}.jsonl", None),
        ("s3://{{ var.value.bucket }}/x.jsonl", None),
        ("file://otherhost/x.jsonl", None),
        ("", None),
        (None, None),
    ],
)
def test_output_asset_uri(path: Any, uri: str | None) -> None:
    assert output_asset_uri(path) == uri


def test_pool_table_asset_uri() -> None:
    assert pool_table_asset_uri("p-1", "orders") == "x-celonis://data-pools/p-1/tables/orders"
    assert (
        pool_table_asset_uri("p-1", "orders", "dc-2")
        == "x-celonis://data-pools/p-1/data-connections/dc-2/tables/orders"
    )
    # ids are single path segments: a slash or a query cannot change which asset it is
    assert pool_table_asset_uri("p/1", "a?b") == "x-celonis://data-pools/p%2F1/tables/a%3Fb"
    for templated in (("{{ params.pool }}", "t", None), ("p", "{{ ds }}", None), ("p", "t", "{{ x }}")):
        assert pool_table_asset_uri(*templated) is None
    assert pool_table_asset_uri("", "t") is None
    assert pool_table_asset_uri(["p"], "t") is None


class _Op:
    outlets: list[Any]

    def __init__(self) -> None:
        self.outlets = []


def test_declare_outlets_sets_the_asset_unless_the_user_gave_outlets() -> None:
    from airflow.sdk import Asset

    op = _Op()
    declare_outlets(op, {}, "x-celonis://data-pools/p/tables/t")
    assert op.outlets == [Asset("x-celonis://data-pools/p/tables/t")]

    mine = _Op()
    mine.outlets = ["kept"]
    declare_outlets(mine, {"outlets": []}, "x-celonis://data-pools/p/tables/t")
    assert mine.outlets == ["kept"]  # outlets=[] (off) or the user's own: untouched

    none = _Op()
    declare_outlets(none, {}, None)
    assert none.outlets == []


def test_no_automatic_asset_where_an_outlet_fails_dags_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 3.0's `airflow dags test` fails a task with any outlet (checked on 3.0.6 with a plain
    PythonOperator): an automatic Asset there would break a user's `dags test` of our operators."""
    from airflow_provider_celonis import compat

    monkeypatch.setattr(compat, "OUTLETS_RUN_UNDER_DAGS_TEST", False)
    op = _Op()
    declare_outlets(op, {}, "x-celonis://data-pools/p/tables/t")
    assert op.outlets == []


def test_an_asset_airflow_refuses_does_not_fail_the_dag() -> None:
    op = _Op()
    declare_outlets(op, {}, "airflow://reserved")  # Airflow reserves the scheme: ValueError
    assert op.outlets == []


def test_the_push_asset_costs_no_provider_imports_at_parse_time() -> None:
    """A ``celonis://`` scheme made Airflow start its providers manager (0.5 s, boto3 imported)."""
    import subprocess

    code = (
        "import sys\n"
        "from airflow_provider_celonis.lineage.assets import declare_outlets, pool_table_asset_uri\n"
        "class Op: outlets = []\n"
        "op = Op()\n"
        "declare_outlets(op, {}, pool_table_asset_uri('p', 't'))\n"
        "assert op.outlets, op.outlets\n"
        "print(sorted(m for m in sys.modules if m.startswith(('boto', 'airflow.providers.amazon.aws'))))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        # the same file has one Asset, the one a consumer writes by hand
        ("/data/../etc/x.jsonl", "file:///etc/x.jsonl"),
        ("file:///data/./a//x.jsonl", "file:///data/a/x.jsonl"),
        ("//data//x.jsonl", "file:///data/x.jsonl"),
        ("/data/../{{ ds }}.jsonl", None),  # the folder is the root: nothing stable
        # a URI is ASCII and percent-encoded (Airflow 3.0 refuses non-ASCII Asset names)
        ("/data/my dir/ü.jsonl", "file:///data/my%20dir/%C3%BC.jsonl"),
        ("file:///data/my%20dir/x.jsonl", "file:///data/my%20dir/x.jsonl"),
        ("/data/50%/x.jsonl", "file:///data/50%25/x.jsonl"),
        ("s3://bucket/dt=2025-11-01/x.jsonl", "s3://bucket/dt=2025-11-01/x.jsonl"),
        # Azure's container@account form: the container is part of where the data is
        (
            "abfss://cont@acct.dfs.core.windows.net/x/y.parquet",
            "abfss://cont@acct.dfs.core.windows.net/x/y.parquet",
        ),
        ("abfs://conn_id@cont/x/y.parquet", "abfs://cont/x/y.parquet"),
        # a SAS token or signature in the query never reaches the Asset
        (
            "abfs://cont@acct.dfs.core.windows.net/x?sv=1&sig=SECRET",
            "abfs://cont@acct.dfs.core.windows.net/x",
        ),
        ("s3://bucket/x.jsonl?X-Amz-Signature=SECRET", "s3://bucket/x.jsonl"),
        # an unencoded '/' in a secret ends the authority early: the secret would be the "host"
        ("s3://AKIAEXAMPLE:ab/cd@bucket/x.jsonl", None),
        ("s3://AKIAEXAMPLE:ab/cd@bucket/{{ ds }}.jsonl", None),
    ],
)
def test_output_asset_uri_is_canonical_and_secret_free(path: str, uri: str | None) -> None:
    assert output_asset_uri(path) == uri
    if uri is not None:
        assert uri.isascii() and "SECRET" not in uri


@pytest.mark.parametrize(
    "uri",
    [
        "file:///data/my%20dir/%C3%BC.jsonl",
        "x-celonis://data-pools/p%2F1/tables/a%3Fb",
        "abfss://cont@acct.dfs.core.windows.net/x/y.parquet",
    ],
)
def test_declared_uris_are_what_airflow_keeps(uri: str) -> None:
    """Airflow normalizes an Asset's URI; a declared URI must come back unchanged, or a consumer
    writing the documented URI by hand would wait on another Asset."""
    from airflow.sdk import Asset

    assert Asset(uri).uri == uri


def test_an_asset_airflow_would_rewrite_is_not_declared() -> None:
    """Airflow 3.0 drops anything before '@' in the authority (Azure's container): that Asset
    would be another container's too; declaring nothing beats declaring the wrong data."""
    op = _Op()
    declare_outlets(op, {}, "abfss://cont@acct.dfs.core.windows.net/x")
    from airflow.sdk import Asset

    kept = Asset("abfss://cont@acct.dfs.core.windows.net/x").uri
    if kept == "abfss://cont@acct.dfs.core.windows.net/x":
        assert [a.uri for a in op.outlets] == [kept]
    else:  # this Airflow rewrites it
        assert op.outlets == []


def test_outlets_in_default_args_win_too() -> None:
    """``default_args={"outlets": [...]}`` (the DAG's or the operator's) is the user's choice as
    much as ``outlets=``: the automatic Asset must not overwrite it."""
    from airflow.sdk import DAG, Asset

    from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator
    from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

    mine = Asset("x-mine://audit")
    with DAG("off", default_args={"outlets": []}):
        off = CelonisAuditLogOperator(task_id="a", output_path="/data/x.jsonl")
        push = CelonisDataPushOperator(task_id="p", data_pool_id="p", target_table="t", source="/x.csv")
    with DAG("own", default_args={"outlets": [mine]}):
        own = CelonisAuditLogOperator(task_id="a", output_path="/data/x.jsonl")
    assert off.outlets == [] and push.outlets == []
    assert own.outlets == [mine]
    with DAG("auto", default_args={"retries": 1}):
        auto = CelonisAuditLogOperator(task_id="a", output_path="/data/x.jsonl")
    assert [a.uri for a in auto.outlets] == ["file:///data/x.jsonl"]
