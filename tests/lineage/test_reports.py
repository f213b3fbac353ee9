"""What each operator reports, read from real operator instances (no run needed for arguments)."""

from __future__ import annotations

from airflow_provider_celonis.lineage.facts import Dataset, remember
from airflow_provider_celonis.lineage.reports import (
    api_names,
    data_job_report,
    data_model_report,
    extract_report,
    push_report,
    source_items,
)
from airflow_provider_celonis.operators.data_jobs import CelonisExecuteDataJobOperator
from airflow_provider_celonis.operators.data_models import CelonisReloadDataModelOperator
from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator
from airflow_provider_celonis.operators.knowledge_model import CelonisKnowledgeModelDataOperator
from airflow_provider_celonis.operators.scim import CelonisScimExportOperator
from airflow_provider_celonis.operators.usage import (
    CelonisAuditLogOperator,
    CelonisLoginHistoryOperator,
    CelonisStudioAdoptionOperator,
    CelonisTeamMembersOperator,
)

TEAM = "https://acme.eu-1.celonis.cloud"
NS = "celonis://acme.eu-1.celonis.cloud"


def test_api_names_of_each_export() -> None:
    assert api_names(CelonisAuditLogOperator(task_id="a", output_path="/x")) == ["audit-log"]
    assert api_names(CelonisLoginHistoryOperator(task_id="a", output_path="/x")) == ["login-history"]
    assert api_names(CelonisStudioAdoptionOperator(task_id="a", output_path="/x")) == ["studio-adoption"]
    assert api_names(CelonisTeamMembersOperator(task_id="a", output_path="/x")) == ["team-members"]
    scim = CelonisScimExportOperator(task_id="a", output_path="/x", scim_resources=["Groups"])
    assert api_names(scim) == ["scim/Groups"]
    km = CelonisKnowledgeModelDataOperator(task_id="a", output_path="/x", knowledge_model_id="km-1")
    assert api_names(km) == ["knowledge-models/km-1"]
    km.record_id = "rec-2"
    assert api_names(km) == ["knowledge-models/km-1/records/rec-2"]

    class MyAudit(CelonisAuditLogOperator):
        pass

    assert api_names(MyAudit(task_id="a", output_path="/x")) == ["audit-log"]


def test_extract_report_uses_the_kept_final_path_not_the_template() -> None:
    op = CelonisAuditLogOperator(task_id="a", output_path="/data/{{ ds }}.jsonl")
    assert extract_report(op).outputs == []  # nothing written yet
    remember(op, team_url=TEAM, output="/data/2025-10-31.jsonl", records=12)
    lineage = extract_report(op)
    assert lineage.inputs == [Dataset(NS, "audit-log")]
    assert lineage.outputs == [Dataset("file", "/data/2025-10-31.jsonl", rows=12)]


def test_source_items_without_io() -> None:
    assert source_items("/data/a.csv") == ["/data/a.csv"]
    assert source_items(["/data/out/*.csv", "/data/out/*.csv", "/data/x.csv"]) == ["/data/out", "/data/x.csv"]
    assert source_items("s3://bucket/in/2025-*/part-*.parquet") == ["s3://bucket/in"]
    assert source_items([None, ""]) == []


def test_push_report_prefers_the_resolved_files() -> None:
    op = CelonisDataPushOperator(task_id="p", data_pool_id="pool-1", target_table="orders", source="/d/*.csv")
    op.celonis_pool_url = f"{TEAM}/integration/ui/pools/pool-1"
    # after a deferral the resumed operator has only its arguments: the glob's folder
    assert push_report(op).inputs == [Dataset("file", "/d")]
    remember(op, sources=["/d/a.csv", "/d/b.csv"], rows=10, bytes=99, job_id="j-1")
    lineage = push_report(op)
    assert lineage.inputs == [Dataset("file", "/d/a.csv"), Dataset("file", "/d/b.csv")]
    assert lineage.outputs == [Dataset(NS, "pool-1.orders", rows=10, size=99)]
    assert lineage.external_id == "j-1"


def test_data_job_and_model_reports() -> None:
    job = CelonisExecuteDataJobOperator(task_id="j", data_pool_id="pool-1", data_job_id="job-1")
    assert data_job_report(job).outputs == []  # no team URL before the run
    job.celonis_url = f"{TEAM}/integration/ui/pools/pool-1/data-configuration/data-jobs/job-1"
    assert data_job_report(job).outputs == [Dataset(NS, "pool-1")]
    model = CelonisReloadDataModelOperator(task_id="m", data_pool_id="pool-1", data_model_id="model-1")
    model.celonis_url = f"{TEAM}/integration/ui/pools/pool-1/process-data-models/model-1"
    lineage = data_model_report(model)
    assert lineage.inputs == [Dataset(NS, "pool-1")]
    assert lineage.outputs == [Dataset(NS, "data-models/model-1")]


def test_names_never_resolved_report_nothing() -> None:
    job = CelonisExecuteDataJobOperator(task_id="j", data_pool_name="Sales", data_job_id="job-1")
    job.celonis_url = f"{TEAM}/integration/ui/pools/x"
    assert data_job_report(job).inputs == [] and data_job_report(job).outputs == []
    model = CelonisReloadDataModelOperator(task_id="m", data_pool_name="Sales", data_model_name="Orders")
    model.celonis_url = f"{TEAM}/integration/ui/pools/x"
    assert data_model_report(model).outputs == []


def test_push_without_a_pool_id_reports_its_sources_only() -> None:
    op = CelonisDataPushOperator(task_id="p", data_pool_id="pool-1", target_table="orders", source="/d/a.csv")
    op.data_pool_id = ""  # e.g. a pool name that was never resolved
    op.celonis_pool_url = f"{TEAM}/integration/ui/pools/x"
    lineage = push_report(op)
    assert lineage.inputs == [Dataset("file", "/d/a.csv")]
    assert lineage.outputs == []


class _TI:
    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def test_data_job_reports_the_execution_it_ran() -> None:
    """The Celonis execution id reaches the event (``externalQuery``), as the push's job id does."""
    job = CelonisExecuteDataJobOperator(task_id="j", data_pool_id="pool-1", data_job_id="job-1")
    job.celonis_url = f"{TEAM}/integration/ui/pools/pool-1/data-configuration/data-jobs/job-1"
    job._push_execution({"ti": _TI()}, "exec-7", 123)  # type: ignore[arg-type]
    lineage = data_job_report(job)
    assert (lineage.external_id, lineage.external_source) == ("exec-7", NS)


def test_data_model_reports_the_load_it_ran() -> None:
    model = CelonisReloadDataModelOperator(task_id="m", data_pool_id="pool-1", data_model_id="model-1")
    model.celonis_url = f"{TEAM}/integration/ui/pools/pool-1/process-data-models/model-1"
    event = {
        "status": "success",
        "message": "loaded",
        "data_pool_id": "pool-1",
        "data_model_id": "model-1",
        "data_load_id": "load-3",
        "load_status": "SUCCESS",
    }
    assert model._finish({"ti": _TI()}, event) == "load-3"  # type: ignore[arg-type]
    lineage = data_model_report(model)
    assert (lineage.external_id, lineage.external_source) == ("load-3", NS)


def test_push_reports_its_job_as_soon_as_it_owns_one() -> None:
    """A fire-and-forget push (``wait_for_completion=False``) or one that fails while waiting
    still names its Celonis job in the event: kept when the job is created, not at the end."""
    op = CelonisDataPushOperator(task_id="p", data_pool_id="pool-1", target_table="orders", source="/d/a.csv")
    op.celonis_pool_url = f"{TEAM}/integration/ui/pools/pool-1"
    op._ti = _TI()  # type: ignore[assignment]
    op.own_job("job-5")
    assert push_report(op).external_id == "job-5"
