"""An output_path with credentials (s3://KEY:SECRET@bucket/...) never shows unredacted."""

from __future__ import annotations

from pathlib import Path

import pytest
from usage_support import context

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

SECRET = "VerySecret123"
URI = f"nosuchfs://AKIAKEY:{SECRET}@bucket/audit/{{{{ ds }}}}.jsonl"


def test_rendering_registers_the_password_with_airflows_masker() -> None:
    """Airflow stores rendered fields (and writes logs) through its masker: the password is known
    to it as soon as the template is rendered, before execute runs."""
    try:
        from airflow.sdk.log import redact  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - older task SDK
        from airflow.sdk.execution_time.secrets_masker import redact  # type: ignore[no-redef]
    op = CelonisAuditLogOperator(task_id="t", output_path=URI)
    op.render_template_fields(context())
    assert SECRET in op.output_path  # the operator needs it to write
    assert SECRET not in str(redact(op.output_path))
    assert op.shown_path == "nosuchfs://***@bucket/audit/2025-01-01.jsonl"


def test_a_secret_holding_a_slash_is_masked_whole() -> None:
    """AWS secret keys hold '/': pasted unencoded, the whole secret is registered, not the part
    before the '/' that a URL parser reads as the password."""
    try:
        from airflow.sdk.log import redact  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - older task SDK
        from airflow.sdk.execution_time.secrets_masker import redact  # type: ignore[no-redef]
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCY"
    op = CelonisAuditLogOperator(task_id="t", output_path=f"nosuchfs://AKIAKEY:{secret}@bucket/a.jsonl")
    op.render_template_fields(context())
    shown = str(redact(f"writing to {op.output_path}"))
    assert "K7MDENG" not in shown and "wJalrXUtnFEMI" not in shown, shown


def test_a_path_error_names_the_path_without_its_credentials(emulator: EmulatorProcess) -> None:
    op = CelonisAuditLogOperator(task_id="t", output_path=URI)
    ctx = context()
    op.render_template_fields(ctx)
    with pytest.raises(CelonisConfigurationError) as caught:
        op.execute(ctx)
    assert caught.value.field == "output_path"
    assert SECRET not in str(caught.value) and "AKIAKEY" not in str(caught.value)
    assert "nosuchfs://***@bucket" in str(caught.value)
    assert emulator.stats()["api_calls"] == 0


def test_xcom_and_log_show_the_redacted_path(
    emulator: EmulatorProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A local path has no userinfo; the summary and the log carry ``shown_path`` all the same."""
    out = tmp_path / "a.jsonl"
    result = CelonisAuditLogOperator(task_id="t", output_path=str(out)).execute(context())
    assert result["path"] == str(out)
    assert f"into {out} (jsonl)" in capsys.readouterr().out
