"""Every input problem of CelonisDataPushOperator is reported before any call to Celonis."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from data_pool_helpers import make_context

from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator


def csv_file(path: Path, header: str = "id,name") -> Path:
    path.write_text(f"{header}\n1,a\n2,b\n")
    return path


def make_op(**kwargs: Any) -> CelonisDataPushOperator:
    return CelonisDataPushOperator(
        **{"task_id": "push", "data_pool_id": POOL, "target_table": "orders", "poll_interval": 0.05, **kwargs}
    )


def cases(tmp: Path) -> list[tuple[str, dict[str, Any], str]]:
    a = csv_file(tmp / "a.csv")
    (tmp / "b.parquet").write_bytes(b"PAR1")
    other = csv_file(tmp / "other" / "c.csv", header="id,title") if (tmp / "other").mkdir() is None else a
    locked = csv_file(tmp / "locked.csv")
    locked.chmod(0)
    long_row = tmp / "long.csv"
    long_row.write_text("id,name\n" + "1," + "x" * 500 + "\n")
    return [
        ("source", {"source": str(tmp / "nothing-*.csv")}, "matched no files"),
        ("source", {"source": str(tmp / "*")}, "mixes file types"),
        ("keys", {"source": str(a), "mode": "DELTA"}, "is empty but mode is DELTA"),
        ("keys", {"source": str(a), "mode": "DELTA", "keys": ["order_id"]}, "not in the file's columns"),
        ("source", {"source": str(locked)}, "cannot be read"),
        # A file whose every read fails (EIO), readable as root too.
        ("source", {"source": "/proc/self/mem", "file_type": "CSV"}, "cannot be read"),
        ("source", {"source": [str(a), str(other)]}, "different columns"),
        ("mode", {"source": str(a), "mode": "UPSERT"}, "use 'REPLACE' or 'DELTA'"),
        ("chunk_size", {"source": str(long_row), "chunk_size": 100}, "longer than the chunk budget"),
        ("file_type", {"source": str(a), "file_type": "JSON"}, "use 'CSV' or 'PARQUET'"),
        ("delete_source", {"source": str(a), "delete_source": str(tmp / "none.csv")}, "matched no files"),
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod-0 file; covered by the other cases")
def test_unreadable_file_as_non_root(emulator: Any, tmp_path: Path) -> None:
    locked = csv_file(tmp_path / "locked.csv")
    locked.chmod(0)
    with pytest.raises(CelonisConfigurationError, match="cannot be read"):
        make_op(source=str(locked)).execute(make_context())


def test_each_input_error_is_raised_before_any_call(emulator: Any, tmp_path: Path) -> None:
    for field, kwargs, message in cases(tmp_path):
        if kwargs.get("source") == str(tmp_path / "locked.csv") and os.geteuid() == 0:
            continue  # root can read a chmod-0 file
        with pytest.raises(CelonisConfigurationError) as raised:
            make_op(**kwargs).execute(make_context())
        assert raised.value.field == field, (kwargs, str(raised.value))
        assert message in str(raised.value), (kwargs, str(raised.value))
    stats = emulator.stats()
    assert stats["api_calls"] == 0 and stats["token_requests"] == 0


def test_bad_parquet_file_is_an_input_error(emulator: Any, tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(CelonisConfigurationError, match="header cannot be read"):
        make_op(source=str(bad)).execute(make_context())
    assert emulator.stats()["api_calls"] == 0


def test_constructor_does_no_io_and_source_is_templated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_CELONIS_DEFAULT", raising=False)
    op = make_op(source="/no/such/{{ ds }}/*.csv", celonis_conn_id="does_not_exist")
    assert "source" in op.template_fields and "keys" in op.template_fields
    assert op.deferrable is False and op.mode == "REPLACE"


def test_parquet_row_group_above_chunk_size_is_an_input_error(emulator: Any, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "big_groups.parquet"
    pq.write_table(pa.table({"id": list(range(5000))}), path, row_group_size=5000, compression="none")
    with pytest.raises(CelonisConfigurationError, match="row group 0") as raised:
        make_op(source=str(path), chunk_size=path.stat().st_size // 2).execute(make_context())
    assert raised.value.field == "chunk_size"
    assert emulator.stats()["api_calls"] == 0


def test_escape_sequence_with_a_split_is_refused_before_any_call(emulator: Any, tmp_path: Path) -> None:
    """``\\"`` breaks the splitter's quote parity: refuse when a split is needed, allow when not."""
    path = tmp_path / "escaped.csv"
    path.write_text("id,note\n" + "".join(f'{i},"say \\"hi\\", {i}\nbye"\n' for i in range(40)))
    escaped = {"escapeSequence": "\\", "quoteSequence": '"'}
    with pytest.raises(CelonisConfigurationError, match="escapeSequence") as raised:
        make_op(source=str(path), csv_options=escaped, chunk_size=200).execute(make_context())
    assert raised.value.field == "csv_options"
    assert "raise chunk_size" in str(raised.value) and "doubled quotes" in str(raised.value)
    with pytest.raises(CelonisConfigurationError, match="lineEnding") as raised:
        make_op(source=str(path), csv_options={"lineEnding": "\r"}, chunk_size=200).execute(make_context())
    assert emulator.stats()["api_calls"] == 0
    # The same file fits one chunk: sent as it is, Celonis parses it with the escape character.
    assert make_op(source=str(path), csv_options=escaped, timeout=20).execute(make_context())["rows"] == 40


def test_utf8_bom_is_not_part_of_the_first_key(emulator: Any, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeffid,name\n1,a\n2,b\n".encode())
    from airflow_provider_celonis.push.plan import make_plan

    plan = make_plan(make_op(source=str(path), mode="DELTA", keys="id"))  # the key check passes
    assert plan.keys == ["id"]
    assert emulator.stats()["api_calls"] == 0


def test_parquet_chunk_size_below_the_footer_is_an_input_error(emulator: Any, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "small.parquet"
    pq.write_table(pa.table({"id": list(range(50))}), path, row_group_size=10)
    with pytest.raises(CelonisConfigurationError, match="Parquet footer") as raised:
        make_op(source=str(path), chunk_size=100).execute(make_context())
    assert raised.value.field == "chunk_size"
    assert emulator.stats()["api_calls"] == 0


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("chunk_size", 2_000_000_000, "at most 1000000000"),
        ("chunk_size", 0, "at least 1"),
        ("chunk_size", 1.5, "not a whole number"),
        ("poll_interval", 0, "greater than 0"),
        ("poll_interval", float("nan"), "finite"),
        ("timeout", -1, "at least 0"),
        ("timeout", True, "boolean"),
        ("start_grace_period", "soon", "not a number"),
        ("max_rebuilds", -1, "at least 0"),
        ("max_rebuilds", 11, "at most 10"),
        ("execute_resends", 6, "at most 5"),
    ],
)
def test_numeric_arguments_are_checked_in_the_constructor(field: str, value: Any, text: str) -> None:
    """Not templated, so checked at DAG parse time: the field is named, no Celonis call."""
    with pytest.raises(CelonisConfigurationError) as raised:
        make_op(source="/data/*.csv", **{field: value})
    assert raised.value.field == field and text in str(raised.value)


@pytest.mark.parametrize("uri", ["nofs://KEY:SECRET@bucket/x.csv", "gs://KEY:SECRET@bucket/x-*.csv"])
def test_source_without_a_filesystem_is_one_clean_error(emulator: Any, uri: str) -> None:
    """No chained ImportError tracebacks: one configuration error naming the field and the
    package to install, before any call, with the URI's credentials redacted."""
    from airflow_provider_celonis.compat import has_fs

    if uri.startswith("gs") and has_fs("gs"):
        pytest.skip("a gs:// filesystem is installed here")
    with pytest.raises(CelonisConfigurationError) as raised:
        make_op(source=uri).execute(make_context())
    error = raised.value
    assert error.field == "source" and "pip install" in str(error)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert "SECRET" not in str(error) and "KEY" not in str(error) and "***@bucket" in str(error)
    if uri.startswith("gs"):
        assert "gcsfs" in str(error)
    assert emulator.stats()["api_calls"] == 0


def test_missing_fsspec_package_is_one_clean_error(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A registered scheme whose fsspec package is missing (fsspec raises ImportError)."""
    from airflow_provider_celonis.push import sources as push_sources

    def missing(text: str) -> Any:
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr(push_sources, "_check_filesystem", lambda field, text: None)
    monkeypatch.setattr(push_sources, "_expand_uri", missing)
    with pytest.raises(CelonisConfigurationError) as raised:
        make_op(source="s3://KEY:SECRET@bucket/x.csv").execute(make_context())
    text = str(raised.value)
    assert (
        raised.value.field == "source"
        and "Install s3fs" in text
        and "apache-airflow-providers-amazon" in text
    )
    assert "SECRET" not in text and raised.value.__cause__ is None
    assert emulator.stats()["api_calls"] == 0


def test_credentials_in_a_source_uri_never_show(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Logs, XCom, the result and the masker see s3://***@...; the secret is registered for masking."""
    from airflow_provider_celonis.client import transport as _transport
    from airflow_provider_celonis.push import sources as push_sources

    local = csv_file(tmp_path / "x.csv")
    masked: list[str] = []
    monkeypatch.setattr(_transport, "mask", lambda secret: masked.append(secret) if secret else None)
    uri = "s3://AKIAKEY:TOPSECRET@bucket/x.csv"

    def fake_expand(text: str) -> list[push_sources.PushFile]:
        assert text == uri
        return [
            push_sources.PushFile(
                push_sources.redact_uri(text), "x.csv", local.stat().st_size, lambda: open(local, "rb")
            )
        ]

    monkeypatch.setattr(push_sources, "_check_filesystem", lambda field, text: None)
    monkeypatch.setattr(push_sources, "_expand_uri", fake_expand)
    emulator.configure_data_push(queued_seconds=0.05, running_seconds=0.05)
    op = make_op(source="{{ params.src }}", timeout=20)
    context = make_context()
    op.render_template_fields({**context, "params": {"src": uri}})  # type: ignore[dict-item]
    assert masked == ["TOPSECRET"]
    result = op.execute(context)
    logs = "".join(capfd.readouterr())
    shown = repr(result) + repr(context["ti"].xcom) + logs
    assert result["status"] == "DONE" and "TOPSECRET" not in shown and "AKIAKEY" not in shown
    assert "s3://***@bucket/x.csv" in logs


def test_a_secret_with_a_slash_is_masked_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS secret keys hold '/': pasted unencoded, urlsplit cuts the password at it, and only the
    part before the '/' would reach the masker (the rendered field then showed the rest)."""
    from airflow_provider_celonis.client import transport as _transport

    masked: list[str] = []
    monkeypatch.setattr(_transport, "mask", lambda secret: masked.append(secret) if secret else None)
    op = make_op(source=["s3://AKIAKEY:ab/cd+ef@bucket/x.csv"], delete_source="s3://token@bucket/d.csv")
    op.render_template_fields(make_context())  # type: ignore[arg-type]
    assert masked == ["ab/cd+ef", "token"]
