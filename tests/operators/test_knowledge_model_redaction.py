"""A Knowledge Model export's output_path with credentials (s3://KEY:SECRET@bucket/...) never
shows unredacted: not in the task log, the XCom summary, rendered fields or exceptions."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.operators import knowledge_model as km_operator
from airflow_provider_celonis.operators.knowledge_model import CelonisKnowledgeModelDataOperator

KM = "km-order-to-cash"
SECRET = "VerySecret123"
CONTEXT: dict[str, Any] = {"ds": "2025-01-02", "run_id": "manual__2025-01-02"}


def make_op(output_path: str) -> CelonisKnowledgeModelDataOperator:
    return CelonisKnowledgeModelDataOperator(
        task_id="km", knowledge_model_id=KM, record_id="ORDER", output_path=output_path
    )


def test_rendering_registers_the_password_with_airflows_masker() -> None:
    try:
        from airflow.sdk.log import redact  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - older task SDK
        from airflow.sdk.execution_time.secrets_masker import redact  # type: ignore[no-redef]
    op = make_op(f"s3://AKIAKEY:{SECRET}@bucket/km/{{{{ ds }}}}.jsonl")
    op.render_template_fields(CONTEXT)
    assert SECRET in op.output_path  # the operator needs it to write
    assert SECRET not in str(redact(op.output_path))
    assert op.shown_path == "s3://***@bucket/km/2025-01-02.jsonl"


def test_a_bare_userinfo_is_not_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """s3://aws_default@bucket names a connection, not a secret: masking it would hide that name
    in every log line of the task."""
    from airflow_provider_celonis.client import transport

    masked: list[str] = []
    monkeypatch.setattr(transport, "mask", lambda secret: masked.append(secret) if secret else None)
    make_op("s3://aws_default@bucket/km.jsonl").render_template_fields(CONTEXT)
    make_op(f"s3://AKIAKEY:{SECRET}@bucket/km.jsonl").render_template_fields(CONTEXT)
    assert masked == [SECRET]


def test_a_path_error_names_the_path_without_its_credentials(emulator: EmulatorProcess) -> None:
    with pytest.raises(CelonisConfigurationError) as caught:
        make_op(f"nosuchfs://AKIAKEY:{SECRET}@bucket/km.jsonl").execute(CONTEXT)
    assert caught.value.field == "output_path"
    assert SECRET not in str(caught.value) and "AKIAKEY" not in str(caught.value)
    assert "nosuchfs://***@bucket" in str(caught.value)
    assert emulator.stats()["api_calls"] == 0


@pytest.mark.parametrize(
    "uri",
    [f"s3://AKIAKEY:{SECRET}@bucket/km.jsonl", f"s3://AKIAKEY:{SECRET}/with/slash@bucket/km.jsonl"],
)
def test_log_and_xcom_show_the_redacted_uri(
    emulator: EmulatorProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    uri: str,
) -> None:
    """The export writes to the URI as given, but says and returns only ``s3://***@bucket/...``.
    The object store is replaced by a local file (no S3 here); Celonis is the emulator."""
    emulator.configure_knowledge_model(order_rows=30)
    written: list[str] = []

    def write_locally(rows: Iterable[Any], path: str, fmt: str, **kwargs: Any) -> int:
        written.append(path)
        return sum(1 for _ in rows)

    monkeypatch.setattr(km_operator, "check_output_path", lambda path: None)
    monkeypatch.setattr(km_operator, "write_in_order", write_locally)
    result = make_op(uri).execute(CONTEXT)
    shown = repr(result) + "".join(capfd.readouterr())
    assert written == [uri]  # the writer gets the credentials it needs
    assert result["records"] == 30 and result["path"] == "s3://***@bucket/km.jsonl"
    assert SECRET not in shown and "AKIAKEY" not in shown, shown[-2000:]
    assert "to s3://***@bucket/km.jsonl (jsonl)" in shown


@pytest.mark.parametrize(
    ("uri", "secret"),
    [
        ("s3://KEY:abc/def@bucket/x", "abc/def"),
        ("s3://KEY:abc@bucket/x", "abc"),
        ("s3://KEY:a%2Fb@bucket/x", "a%2Fb"),
        ("s3://aws_default@bucket/x", None),
        ("s3://bucket/x", None),
        ("/data/x.jsonl", None),
    ],
)
def test_uri_password_reads_the_secret_as_redaction_does(uri: str, secret: str | None) -> None:
    from airflow_provider_celonis.client.paths import uri_password

    assert uri_password(uri) == secret
