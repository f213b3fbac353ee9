"""The plain lineage of each operator family, and the facts operators keep while they run."""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis.lineage.facts import (
    FACTS_ATTRIBUTE,
    Dataset,
    data_job_lineage,
    data_model_lineage,
    extract_lineage,
    push_lineage,
    remember,
    team_url_of,
)

TEAM = "https://acme.eu-1.celonis.cloud"
NS = "celonis://acme.eu-1.celonis.cloud"


def test_extract_reads_the_api_and_writes_the_final_file() -> None:
    lineage = extract_lineage(TEAM, ["audit-log"], "/data/audit/2025-10-31.jsonl", 2880)
    assert lineage.inputs == [Dataset(NS, "audit-log")]
    assert lineage.outputs == [Dataset("file", "/data/audit/2025-10-31.jsonl", rows=2880)]


def test_extract_without_a_written_file_reports_no_output() -> None:
    lineage = extract_lineage(None, ["audit-log"], None)
    assert lineage.inputs == [] and lineage.outputs == []


def test_counts_that_are_not_counts_are_dropped() -> None:
    for bad in (True, -1, "12", 1.5):
        assert extract_lineage(TEAM, [], "/x", bad).outputs == [Dataset("file", "/x")]


def test_push_sources_in_pool_table_out() -> None:
    lineage = push_lineage(
        TEAM,
        "pool-1",
        "orders",
        sources=["/data/orders.csv", "s3://aws_default@bucket/in/orders-2.csv"],
        rows=5000,
        size=123456,
        job_id="job-9",
    )
    assert lineage.inputs == [Dataset("file", "/data/orders.csv"), Dataset("s3://bucket", "in/orders-2.csv")]
    assert lineage.outputs == [Dataset(NS, "pool-1.orders", rows=5000, size=123456)]
    assert (lineage.external_id, lineage.external_source) == ("job-9", NS)
    with_schema = push_lineage(TEAM, "pool-1", "orders", data_connection_id="dc-1")
    assert with_schema.outputs == [Dataset(NS, "pool-1.dc-1.orders")]


def test_data_job_and_model() -> None:
    job = data_job_lineage(TEAM, "pool-1", "exec-1")
    assert job.inputs == job.outputs == [Dataset(NS, "pool-1")]
    assert job.external_id == "exec-1"
    model = data_model_lineage(TEAM, "pool-1", "model-1")
    assert model.inputs == [Dataset(NS, "pool-1")]
    assert model.outputs == [Dataset(NS, "data-models/model-1")]
    assert data_job_lineage(None, "pool-1").outputs == []


def test_remember_merges_and_redacts_uris() -> None:
    class Op:
        pass

    op = Op()
    remember(op, output="s3://KEY:SECRET@bucket/x.jsonl", records=3)
    remember(op, sources=["s3://KEY:SECRET@bucket/a.csv", "/b.csv"], team_url=TEAM)
    facts = getattr(op, FACTS_ATTRIBUTE)
    assert facts["output"] == "s3://***@bucket/x.jsonl"
    assert facts["records"] == 3
    assert facts["sources"] == ["s3://***@bucket/a.csv", "/b.csv"]
    assert "SECRET" not in repr(facts)


def test_remember_never_raises() -> None:
    class Slotted:
        __slots__ = ()

    remember(Slotted(), output="/x")  # nowhere to keep it: lineage is lost, the task is not


def test_team_url_of() -> None:
    class Config:
        base_url = TEAM

    class Hook:
        def get_config(self) -> Any:
            return Config()

    class Broken:
        def get_config(self) -> Any:
            raise RuntimeError("no connection")

    assert team_url_of(Hook()) == TEAM
    assert team_url_of(Broken()) is None
    assert team_url_of(object()) is None
