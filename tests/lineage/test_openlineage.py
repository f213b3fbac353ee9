"""The OpenLineage provider's objects, built from a plain Lineage; a failure never fails a task."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from airflow_provider_celonis.lineage.facts import Dataset, Lineage
from airflow_provider_celonis.lineage.openlineage import facets_on_complete, to_operator_lineage

pytest.importorskip("airflow.providers.openlineage")


def test_inputs_outputs_statistics_and_run_id() -> None:
    from airflow.providers.openlineage.extractors import OperatorLineage

    result = to_operator_lineage(
        Lineage(
            inputs=[Dataset("celonis://t", "audit-log")],
            outputs=[Dataset("file", "/data/x.jsonl", rows=7, size=70), Dataset("s3://b", "k")],
            external_id="job-1",
            external_source="celonis://t",
        )
    )
    assert isinstance(result, OperatorLineage)
    assert [(d.namespace, d.name) for d in result.inputs] == [("celonis://t", "audit-log")]
    first, second = result.outputs
    assert (first.namespace, first.name) == ("file", "/data/x.jsonl")
    stats = first.outputFacets["outputStatistics"]
    assert (stats.rowCount, stats.size) == (7, 70)
    assert second.outputFacets == {}
    assert result.run_facets["externalQuery"].externalQueryId == "job-1"


def test_a_broken_report_logs_and_returns_empty_lineage(caplog: pytest.LogCaptureFixture) -> None:
    from airflow.providers.openlineage.extractors import OperatorLineage

    class Op:
        task_id = "t1"

    def broken(op: Any) -> Lineage:
        raise KeyError("boom")

    with caplog.at_level(logging.WARNING):
        result = facets_on_complete(Op(), broken)
    assert result == OperatorLineage()
    assert "no lineage for task t1" in caplog.text


def test_operators_delegate_and_survive_a_missing_fact() -> None:
    """The operators' own method: an operator that never ran still answers (empty outputs)."""
    from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

    op = CelonisAuditLogOperator(task_id="a", output_path="/x.jsonl")
    method = getattr(op, "get_openlineage_facets_on_complete", None)
    if method is None:
        pytest.skip("operators not wired yet")
    result = method(None)
    assert result.outputs == []


def test_nothing_imports_openlineage_until_its_provider_asks() -> None:
    """Parse-time path (import every operator, build each, declare Assets): OpenLineage stays
    unimported; asked anyway with OpenLineage unimportable, the method returns None, no error."""
    import subprocess
    import sys

    code = """
import sys
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator
from airflow_provider_celonis.operators.knowledge_model import CelonisKnowledgeModelDataOperator
from airflow_provider_celonis.operators.scim import CelonisScimExportOperator
from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

push = CelonisDataPushOperator(task_id="p", data_pool_id="pool", target_table="t", source="/x.csv")
audit = CelonisAuditLogOperator(task_id="a", output_path="/data/audit/{{ ds }}.jsonl")
CelonisScimExportOperator(task_id="s", output_path="/x.jsonl")
CelonisKnowledgeModelDataOperator(task_id="k", knowledge_model_id="km", output_path="/x.jsonl")
CelonisExecuteDataJobOperator(task_id="j", data_pool_id="p", data_job_id="j")
CelonisReloadDataModelOperator(task_id="m", data_pool_id="p", data_model_id="m")
assert [a.uri for a in push.outlets] == ["x-celonis://data-pools/pool/tables/t"], push.outlets
assert [a.uri for a in audit.outlets] == ["file:///data/audit"], audit.outlets
# Airflow's providers manager reads every installed provider's info module: not ours to avoid.
info = ("airflow.providers.openlineage", "airflow.providers.openlineage.get_provider_info")
loaded = sorted(m for m in sys.modules if "openlineage" in m and m not in info)
assert not loaded, loaded
for blocked in ("openlineage", "airflow.providers.openlineage"):
    sys.modules[blocked] = None  # import raises ImportError, as without the extra
print("ok", push.get_openlineage_facets_on_complete(None))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    last = run.stdout.strip().splitlines()[-1]
    assert last == "ok None", last  # asked anyway without the provider: nothing to return, no error


def _failed(op: Any) -> Any:
    """What the OpenLineage provider sends in a FAIL event: without ``..._on_failure`` it falls
    back to ``..._on_complete``, which reported the table a failed push never filled."""
    method = getattr(op, "get_openlineage_facets_on_failure", None)
    assert callable(method), f"{type(op).__name__} has no get_openlineage_facets_on_failure"
    return method(None)


def test_a_failed_run_reports_its_inputs_and_celonis_id_but_no_output() -> None:
    from airflow_provider_celonis.lineage.facts import remember
    from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
    from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
    from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator
    from airflow_provider_celonis.operators.knowledge_model import CelonisKnowledgeModelDataOperator
    from airflow_provider_celonis.operators.scim import CelonisScimExportOperator
    from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

    team, ns = "https://acme.eu-1.celonis.cloud", "celonis://acme.eu-1.celonis.cloud"
    push = CelonisDataPushOperator(task_id="p", data_pool_id="pool-1", target_table="t", source="/d/a.csv")
    push.celonis_pool_url = f"{team}/integration/ui/pools/pool-1"
    remember(push, job_id="job-9")
    job = CelonisExecuteDataJobOperator(task_id="j", data_pool_id="pool-1", data_job_id="dj")
    job.celonis_url = f"{team}/integration/ui/pools/pool-1"
    model = CelonisReloadDataModelOperator(task_id="m", data_pool_id="pool-1", data_model_id="dm")
    model.celonis_url = f"{team}/integration/ui/pools/pool-1"
    # an extract whose file was written before a later step (the re-check) failed the task
    audit = CelonisAuditLogOperator(task_id="a", output_path="/x.jsonl")
    scim = CelonisScimExportOperator(task_id="s", output_path="/x.jsonl")
    km = CelonisKnowledgeModelDataOperator(task_id="k", knowledge_model_id="km", output_path="/x.jsonl")
    for extract in (audit, scim, km):
        remember(extract, team_url=team, output="/x.jsonl", records=3)
        assert extract.get_openlineage_facets_on_complete(None).outputs  # success: the file

    failed = _failed(push)
    assert [(d.namespace, d.name) for d in failed.inputs] == [("file", "/d/a.csv")]
    assert failed.outputs == []
    assert failed.run_facets["externalQuery"].externalQueryId == "job-9"
    assert [(d.namespace, d.name) for d in _failed(job).inputs] == [(ns, "pool-1")]
    assert _failed(job).outputs == [] and _failed(model).outputs == []
    for extract in (audit, scim, km):
        result = _failed(extract)
        assert result.inputs and result.outputs == []


def test_a_broken_failure_report_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_celonis.lineage.openlineage import facets_on_failure

    class Op:
        task_id = "t2"

    def broken(op: Any) -> Lineage:
        raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING):
        assert facets_on_failure(Op(), broken) == OperatorLineage()
    assert "no lineage for task t2" in caplog.text


def test_the_warning_of_a_broken_report_shows_no_credentials(caplog: pytest.LogCaptureFixture) -> None:
    class Op:
        task_id = "t3"

    def broken(op: Any) -> Lineage:
        raise ValueError("cannot name s3://AKIAEXAMPLE:wJalrSECRET@bucket/x.jsonl")

    with caplog.at_level(logging.WARNING):
        facets_on_complete(Op(), broken)
    assert "no lineage for task t3" in caplog.text and "s3://***@bucket/x.jsonl" in caplog.text
    assert "wJalrSECRET" not in caplog.text


def test_an_extract_failing_in_its_pull_still_names_what_it_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """A FAIL event with no dataset at all makes the OpenLineage provider fall back to the hook
    lineage collector (the temporary file) or the task's outlets (the final file, claimed by a
    failed run): an extract that reached Celonis reports its API, so neither is used."""
    from types import SimpleNamespace

    from airflow_provider_celonis.extracts.pull import PullMixin
    from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

    def failing_pull(self: Any, hook: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("Celonis answered 500")

    monkeypatch.setattr(PullMixin, "_pull_and_write", failing_pull)
    hook = SimpleNamespace(get_config=lambda: SimpleNamespace(base_url="https://acme.eu-1.celonis.cloud"))
    op = CelonisAuditLogOperator(task_id="a", output_path="/data/x.jsonl")
    with pytest.raises(RuntimeError):
        op._pull_and_write(hook, "jsonl", None, None, state=None, context={})
    failed = op.get_openlineage_facets_on_failure(None)
    assert [(d.namespace, d.name) for d in failed.inputs] == [
        ("celonis://acme.eu-1.celonis.cloud", "audit-log")
    ]
    assert failed.outputs == []
