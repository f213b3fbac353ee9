"""Knowledge Model hook and export operator: paging, the 5,000-record cut, limits, errors, scope."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import (
    CelonisApiDisabledError,
    CelonisBadRequestError,
    CelonisConfigurationError,
    CelonisError,
    CelonisNotFoundError,
    CelonisPermissionError,
    CelonisRateLimitError,
)
from airflow_provider_celonis.hooks.knowledge_model import CelonisKnowledgeModelHook
from airflow_provider_celonis.operators.knowledge_model import CelonisKnowledgeModelDataOperator

KM = "km-order-to-cash"
ORDER_DATA = f"/intelligence/api/knowledge-models/{KM}/records/ORDER/data"
CONTEXT: dict[str, Any] = {"ds": "2025-01-02", "run_id": "manual__2025-01-02"}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_record_data_pages_through_everything(emulator: EmulatorProcess) -> None:
    emulator.configure_knowledge_model(order_rows=1234)
    data = CelonisKnowledgeModelHook().data(KM, record_id="ORDER", page_size=500)
    rows = list(data)
    assert len(rows) == 1234 == data.total == data.fetched and not data.cut
    assert [r["id"] for r in rows[:2]] == ["ORD-000000", "ORD-000001"]
    assert emulator.requests_to("GET", ORDER_DATA) == 3


def test_a_filtered_table_cut_at_5000_fails_by_default_naming_the_filter(
    emulator: EmulatorProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args: dict[str, Any] = {
        "task_id": "km",
        "knowledge_model_id": KM,
        "record_id": "ORDER",
        "filter_expr": "active eq true",
        "page_size": 1000,
        "output_path": str(tmp_path / "orders.jsonl"),
    }
    with pytest.raises(CelonisError, match="cut at 5000 of 9000 records") as caught:
        CelonisKnowledgeModelDataOperator(**args).execute(CONTEXT)
    assert "split filter_expr='active eq true' into ranges" in str(caught.value)
    assert "allow_cut=True" in str(caught.value) and "sort" not in str(caught.value).split("Fix:")[1][:20]
    assert list(tmp_path.iterdir()) == []  # no partial file
    assert emulator.requests_to("GET", ORDER_DATA) == 5  # stops at the cut, no wasted request
    result = CelonisKnowledgeModelDataOperator(**args, allow_cut=True).execute(CONTEXT)
    assert result == {"path": str(tmp_path / "orders.jsonl"), "records": 5000, "total": 9000, "cut": True}
    assert len(read_jsonl(tmp_path / "orders.jsonl")) == 5000
    assert "first 5000 records of a filtered or sorted table" in capsys.readouterr().out


def test_exactly_5000_sorted_rows_are_complete_not_cut(emulator: EmulatorProcess, tmp_path: Path) -> None:
    emulator.configure_knowledge_model(order_rows=5000)
    op = CelonisKnowledgeModelDataOperator(
        task_id="km",
        knowledge_model_id=KM,
        record_id="ORDER",
        sort="-amount",
        page_size=1000,  # a false "cut" would fail this complete export (failing is the default)
        output_path=str(tmp_path / "o.jsonl"),
    )
    result = op.execute(CONTEXT)
    assert (result["records"], result["total"], result["cut"]) == (5000, 5000, False)
    assert emulator.requests_to("GET", ORDER_DATA) == 5  # no request past the cut


def test_server_that_caps_total_at_the_cut_is_warned_about(
    emulator: EmulatorProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    """Indistinguishable from exactly 5,000 rows: not flagged as cut, but the log says so."""
    emulator.configure_knowledge_model(cut_total="capped")
    data = CelonisKnowledgeModelHook().data(KM, record_id="ORDER", sort="-amount", page_size=1000)
    rows = list(data)
    assert len(rows) == 5000 and data.total == 5000 and not data.cut
    assert rows[0]["amount"] >= rows[-1]["amount"]
    assert "complete, unless the server reports a cut result's total as 5000" in capsys.readouterr().out


def test_ids_are_one_path_segment(emulator: EmulatorProcess) -> None:
    """Unencoded, "x/../ORDER" would read ORDER's data (dot segments); encoded it is a 404."""
    hook = CelonisKnowledgeModelHook()
    with pytest.raises(CelonisNotFoundError, match=r"x%2F..%2FORDER"):
        list(hook.data(KM, record_id="x/../ORDER"))
    with pytest.raises(CelonisNotFoundError):
        hook.list_records(f"x/../{KM}")
    assert emulator.requests_to("GET", ORDER_DATA) == 0


def test_a_list_that_never_ends_fails_after_the_page_cap(emulator: EmulatorProcess) -> None:
    from airflow_provider_celonis.client.apis import KNOWLEDGE_MODEL
    from airflow_provider_celonis.client.intelligence_pages import intelligence_pages
    from airflow_provider_celonis.exceptions import CelonisUnexpectedResponseError

    hook = CelonisKnowledgeModelHook()
    path = f"/api/knowledge-models/{KM}/records/ORDER/data"

    def ignores_page(number: int) -> Any:  # a server that ignores ``page`` (always the first)
        return hook.request_json("GET", path, api=KNOWLEDGE_MODEL, params={"page": 0, "pageSize": 10})

    pages = intelligence_pages(ignores_page, what="ORDER data", max_pages=3)
    assert [len(content) for _body, content in itertools.islice(pages, 1)] == [10]
    with pytest.raises(CelonisUnexpectedResponseError, match="page 1 repeats page 0"):
        next(pages)  # neither a loop nor a silent stop

    def total_keeps_growing(number: int) -> Any:
        body = hook.request_json("GET", path, api=KNOWLEDGE_MODEL, params={"page": number, "pageSize": 10})
        return {**body, "total": 10**9}

    pages = intelligence_pages(total_keeps_growing, what="ORDER data", max_pages=3)
    assert [len(content) for _body, content in itertools.islice(pages, 3)] == [10, 10, 10]
    with pytest.raises(CelonisError, match="ORDER data did not end after 3 pages"):
        next(pages)
    assert emulator.requests_to("GET", ORDER_DATA) == 5


def test_small_filtered_result_is_not_cut(emulator: EmulatorProcess) -> None:
    data = CelonisKnowledgeModelHook().data(
        KM, record_id="ORDER", filters=["open_orders", "high_value"], kpis=["order_value_eur"]
    )
    rows = list(data)
    assert not data.cut and 0 < len(rows) == data.total < 5000
    assert all(
        r["status"] == "OPEN" and r["amount"] > 900 and r["order_value_eur"] == r["amount"] for r in rows
    )


def test_deprecated_fail_on_cut_still_works_and_names_the_sort(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    from airflow.exceptions import AirflowProviderDeprecationWarning

    args: dict[str, Any] = {
        "task_id": "km",
        "knowledge_model_id": KM,
        "record_id": "ORDER",
        "page_size": 1000,
    }
    with pytest.warns(AirflowProviderDeprecationWarning, match="allow_cut"):
        op = CelonisKnowledgeModelDataOperator(
            **args, sort="+created", fail_on_cut=True, output_path=str(tmp_path / "o.jsonl")
        )
    with pytest.raises(CelonisError, match="cut at 5000 of 12000") as caught:
        op.execute(CONTEXT)
    assert "drop sort='+created'" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.warns(AirflowProviderDeprecationWarning):
        kept = CelonisKnowledgeModelDataOperator(
            **args, sort="+created", fail_on_cut=False, output_path=str(tmp_path / "p.jsonl")
        )
    assert kept.execute(CONTEXT)["cut"] is True  # fail_on_cut=False still accepts the partial export
    with pytest.warns(AirflowProviderDeprecationWarning):
        both = CelonisKnowledgeModelDataOperator(
            **args, allow_cut=True, fail_on_cut=True, output_path=str(tmp_path / "q.jsonl")
        )
    with pytest.raises(CelonisConfigurationError, match="allow_cut"):
        both.execute(CONTEXT)


def test_model_level_post_query_csv_with_templated_fields(emulator: EmulatorProcess, tmp_path: Path) -> None:
    op = CelonisKnowledgeModelDataOperator(
        task_id="km",
        knowledge_model_id=KM,
        fields="CUSTOMER.id,CUSTOMER.country",
        filter_expr="country eq '{{ params.country }}'",
        method="POST",
        output_format="csv",
        output_path=str(tmp_path / "{{ ds }}.csv"),
        params={"country": "NL"},
    )
    op.render_template_fields({**CONTEXT, "params": {"country": "NL"}})
    result = op.execute(CONTEXT)
    rows = list(csv.DictReader((tmp_path / "2025-01-02.csv").open()))
    assert result["records"] == len(rows) == 50
    assert list(rows[0]) == ["CUSTOMER.id", "CUSTOMER.country"] and {r["CUSTOMER.country"] for r in rows} == {
        "NL"
    }
    assert emulator.requests_to("POST", f"/intelligence/api/knowledge-models/{KM}/data") == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"knowledge_model_id": ""}, "knowledge_model_id"),
        ({"record_id": None}, "fields"),
        ({"fields": [f"f{i}" for i in range(201)]}, "fields"),
        ({"method": "PUT"}, "method"),
        ({"page_size": 0}, "page_size"),
        ({"output_format": "xml"}, "output_format"),
        ({"filters": 7}, "filters"),
        ({"allow_cut": "yes"}, "allow_cut"),
    ],
)
def test_bad_arguments_fail_before_any_call(
    emulator: EmulatorProcess, tmp_path: Path, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {
        "knowledge_model_id": KM,
        "record_id": "ORDER",
        "output_path": str(tmp_path / "x"),
    }
    with pytest.raises(CelonisConfigurationError, match=field) as caught:
        CelonisKnowledgeModelDataOperator(task_id="km_task", **{**args, **kwargs}).execute(CONTEXT)
    if field != "output_format":  # checked by the shared output module
        assert str(caught.value).startswith("km_task: ")  # names the task
    assert emulator.stats()["api_calls"] == 0


def test_server_side_errors(emulator: EmulatorProcess) -> None:
    hook = CelonisKnowledgeModelHook()
    with pytest.raises(CelonisBadRequestError, match="Unknown field"):
        list(hook.data(KM, record_id="ORDER", filter_expr="colour eq 'red'"))
    with pytest.raises(CelonisNotFoundError, match="not found"):
        list(hook.data("km-missing", record_id="ORDER"))
    assert [m["id"] for m in hook.list_knowledge_models()] == [KM]
    assert {r["id"] for r in hook.list_records(KM)} == {"ORDER", "CUSTOMER"}
    assert {k["id"] for k in hook.list_kpis(KM)} == {"order_value_eur", "is_open"}
    assert {f["id"] for f in hook.list_filters(KM)} == {"open_orders", "high_value"}


def test_daily_limit_gives_a_rate_limit_error_with_a_datetime_reset(emulator: EmulatorProcess) -> None:
    emulator.configure_knowledge_model(per_day=2)
    hook = CelonisKnowledgeModelHook(max_attempts=2, min_wait=0.01, max_wait=0.02, max_rate_limit_wait=0.05)
    hook.list_records(KM)
    hook.list_kpis(KM)
    with pytest.raises(CelonisRateLimitError) as caught:
        hook.list_filters(KM)
    assert caught.value.reset_in is not None and 0 < caught.value.reset_in <= 86400  # next UTC midnight


def test_per_second_limit_is_waited_out(emulator: EmulatorProcess) -> None:
    emulator.configure_knowledge_model(per_second=2)
    hook = CelonisKnowledgeModelHook(min_wait=0.01, max_wait=0.05)
    rows = list(hook.data(KM, record_id="CUSTOMER", page_size=50))  # 5 pages at 2/s
    assert len(rows) == 250
    assert emulator.requests_to("GET", f"/intelligence/api/knowledge-models/{KM}/records/CUSTOMER/data") > 5


def test_scope_permission_and_not_activated(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.add_client("no-package", "secret", permissions=[])
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("no-package", "secret")))
    with pytest.raises(CelonisPermissionError, match="USE PACKAGE"):
        CelonisKnowledgeModelHook().list_knowledge_models()
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json())
    emulator.configure(disabled_apis=["knowledge_model"])
    with pytest.raises(CelonisApiDisabledError):
        CelonisKnowledgeModelHook().list_knowledge_models()
