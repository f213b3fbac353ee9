"""CelonisDataPoolHook over real sockets: every list, sync == async, hostile shapes, names to ids."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.client.transport import close_loop_session
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import (
    CelonisApiError,
    CelonisConfigurationError,
    CelonisNameError,
    CelonisNotFoundError,
    CelonisUnexpectedResponseError,
)
from airflow_provider_celonis.hooks.data_pools import CelonisDataPoolHook, checked_list

POOLS = "/integration/api/pools"
PAGED = "/integration/api/pools/paged"
JOBS = f"/integration/api/pools/{POOL}/jobs"
TASKS = f"/integration/api/pools/{POOL}/jobs/{JOB}/tasks/"
MODELS = f"/integration/api/pools/{POOL}/data-models"
TABLES = f"/integration/api/v1/data-pools/{POOL}/data-models/{MODEL}/tables"


@pytest.fixture
def hook(emulator: Any, fast_retries: dict[str, float]) -> CelonisDataPoolHook:
    return CelonisDataPoolHook(**fast_retries)


def _names(items: list[dict[str, Any]]) -> list[str]:
    return [str(i["name"]) for i in items]


async def test_every_list_sync_and_async(hook: CelonisDataPoolHook, emulator: Any) -> None:
    emulator.configure_data_pool("pool-b", "Second pool")
    emulator.configure_data_job(POOL, "job-2", name="Hourly")
    emulator.configure_data_model("pool-b", "model-b", name="P2P")
    pools = hook.list_pools()
    assert _names(pools) == ["Emulated SAP ECC pool", "Second pool"]
    assert [p["id"] for p in pools] == [POOL, "pool-b"]
    assert await hook.alist_pools() == pools
    jobs = hook.list_jobs(POOL)
    assert {(j["id"], j["name"]) for j in jobs} == {(JOB, "Daily delta load"), ("job-2", "Hourly")}
    assert await hook.alist_jobs(POOL) == jobs
    tasks = hook.list_tasks(POOL, JOB)
    assert [(t["name"], t["taskType"]) for t in tasks] == [
        ("Extract SAP tables", "EXTRACTION"),
        ("Create activity table", "TRANSFORMATION"),
    ]
    assert await hook.alist_tasks(POOL, JOB) == tasks
    assert hook.list_tasks(POOL, JOB, "TRANSFORMATION") == [tasks[1]]
    assert await hook.alist_tasks(POOL, JOB, "EXTRACTION") == [tasks[0]]
    assert _names(hook.list_data_models(POOL)) == ["Order-to-Cash"]
    assert _names(hook.list_data_models("pool-b")) == ["P2P"]
    assert await hook.alist_data_models(POOL) == hook.list_data_models(POOL)
    tables = hook.list_tables(POOL, MODEL)
    assert _names(tables) == ["VBAK", "VBAP", "_CEL_O2C_ACTIVITIES"]
    assert await hook.alist_tables(POOL, MODEL) == tables
    await close_loop_session()


def test_a_task_type_filter_is_checked(hook: CelonisDataPoolHook) -> None:
    with pytest.raises(CelonisConfigurationError, match="task_type"):
        hook.list_tasks(POOL, JOB, "LOAD")


async def test_paged_list_reads_every_page_and_stops_on_an_empty_one(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    for n in range(5):
        emulator.configure_data_pool(f"pool-{n}", f"Pool {n}")
    hook = CelonisDataPoolHook(pool_listing="paged", page_size=2, **fast_retries)
    pools = hook.list_pools()
    assert len(pools) == 6 and len({p["id"] for p in pools}) == 6
    # three pages of 2, then the empty page; twice, since one read cannot tell a shifted list
    assert emulator.requests_to("GET", PAGED) == 8
    assert emulator.requests_to("GET", POOLS) == 0
    assert await hook.alist_pools() == pools
    await close_loop_session()


@pytest.mark.parametrize("counts", ["pools", "pages"])
def test_the_paged_list_does_not_depend_on_what_total_count_counts(
    emulator: Any, fast_retries: dict[str, float], counts: str
) -> None:
    for n in range(4):
        emulator.configure_data_pool(f"pool-{n}", f"Pool {n}")
    emulator.configure_pool_listing(total_counts=counts)
    hook = CelonisDataPoolHook(pool_listing="paged", page_size=2, **fast_retries)
    assert len(hook.list_pools()) == 5  # totalCount 5 or 3: every pool either way


async def test_auto_falls_back_to_the_paged_list_on_404(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    emulator.configure_pool_listing(serve_unpaged=False)
    hook = CelonisDataPoolHook(**fast_retries)
    assert [p["id"] for p in hook.list_pools()] == [POOL]
    assert [p["id"] for p in await hook.alist_pools()] == [POOL]
    with pytest.raises(CelonisNotFoundError):
        CelonisDataPoolHook(pool_listing="all", **fast_retries).list_pools()
    await close_loop_session()


async def test_a_page_repeated_by_a_server_ignoring_page_fails_closed(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    emulator.configure_data_pool("pool-2", "Another")
    emulator.add_faults([{"path": PAGED, "method": "GET", "kind": "ignore_paging", "times": -1}])
    hook = CelonisDataPoolHook(pool_listing="paged", page_size=1, **fast_retries)
    with pytest.raises(CelonisUnexpectedResponseError, match="repeats page 0"):
        hook.list_pools()
    with pytest.raises(CelonisUnexpectedResponseError, match="repeats page 0"):
        await hook.alist_pools()
    await close_loop_session()


def test_a_paged_list_that_never_ends_is_bounded(emulator: Any, fast_retries: dict[str, float]) -> None:
    for n in range(3):
        emulator.configure_data_pool(f"pool-{n}", f"Pool {n}")
    hook = CelonisDataPoolHook(pool_listing="paged", page_size=1, max_pages=2, **fast_retries)
    with pytest.raises(CelonisConfigurationError, match="max_pages"):
        hook.list_pools()


LISTS = [
    (POOLS, lambda h: h.list_pools(), lambda h: h.alist_pools()),
    (JOBS, lambda h: h.list_jobs(POOL), lambda h: h.alist_jobs(POOL)),
    (TASKS, lambda h: h.list_tasks(POOL, JOB), lambda h: h.alist_tasks(POOL, JOB)),
    (MODELS, lambda h: h.list_data_models(POOL), lambda h: h.alist_data_models(POOL)),
    (TABLES, lambda h: h.list_tables(POOL, MODEL), lambda h: h.alist_tables(POOL, MODEL)),
]


@pytest.mark.parametrize("kind", ["html", "truncate", "no_list", "rename_list"])
@pytest.mark.parametrize(
    ("path", "sync", "async_"), LISTS, ids=["pools", "jobs", "tasks", "models", "tables"]
)
async def test_a_list_of_the_wrong_shape_is_a_typed_error(
    hook: CelonisDataPoolHook, emulator: Any, kind: str, path: str, sync: Any, async_: Any
) -> None:
    emulator.add_faults([{"path": path, "method": "GET", "kind": kind, "times": -1}])
    with pytest.raises(CelonisApiError) as raised:
        sync(hook)
    assert raised.value.status == 200 and path.removeprefix("/integration") in str(raised.value)
    with pytest.raises(CelonisApiError) as araised:
        await async_(hook)
    assert araised.value.status == 200
    await close_loop_session()


@pytest.mark.parametrize("kind", ["html", "truncate", "no_list"])
def test_a_paged_pool_list_of_the_wrong_shape_is_a_typed_error(
    emulator: Any, fast_retries: dict[str, float], kind: str
) -> None:
    emulator.add_faults([{"path": PAGED, "method": "GET", "kind": kind, "skip": 1, "times": 1}])
    emulator.configure_data_pool("pool-2", "Another")
    hook = CelonisDataPoolHook(pool_listing="paged", page_size=1, **fast_retries)
    with pytest.raises(CelonisApiError, match=r"page 1 has no content list|body is not JSON"):
        hook.list_pools()


@pytest.mark.parametrize(
    "answer",
    [
        [{"name": "no id"}],
        [{"id": "", "name": "blank id"}],
        [None],
        [{"id": "x", "name": 7}],
        ["x"],
        {"content": []},
        [{"id": True, "name": "a bool is not an id"}],
        [{"id": "x", "name": "Sales"}, {"id": "x", "name": "Old sales"}],  # which name is x's?
    ],
)
def test_an_item_without_an_id_or_a_text_name_fails_closed(answer: Any) -> None:
    with pytest.raises(CelonisUnexpectedResponseError, match="failing closed"):
        checked_list(Call("data_jobs", "GET", "/api/pools"), answer, "data pools")


def test_a_task_without_its_type_fails_closed() -> None:
    with pytest.raises(CelonisUnexpectedResponseError, match="without taskType"):
        checked_list(
            Call("data_jobs", "GET", "/x"), [{"id": "t", "name": "n"}], "tasks", required=("taskType",)
        )


def test_ids_stay_in_their_segment(hook: CelonisDataPoolHook, emulator: Any) -> None:
    with pytest.raises(CelonisNotFoundError):
        hook.list_jobs(f"{POOL}/jobs/{JOB}")
    assert emulator.requests_to("GET", f"{JOBS}/{JOB}") == 0


# -- names to ids ---------------------------------------------------------------------------
def test_names_resolve_exactly(hook: CelonisDataPoolHook, emulator: Any) -> None:
    emulator.configure_data_model(POOL, MODEL, table_aliases={"VBAP": "Sales items"})
    assert hook.resolve_pool("Emulated SAP ECC pool") == POOL
    assert hook.resolve_job(POOL, "Daily delta load") == JOB
    assert hook.resolve_data_model(POOL, "Order-to-Cash") == MODEL
    tasks = {t["name"]: t["id"] for t in hook.list_tasks(POOL, JOB)}
    ids = hook.resolve_tasks(POOL, JOB, ["Create activity table"], "TRANSFORMATION", "transformation_names")
    assert ids == [tasks["Create activity table"]]
    report = emulator.data_model_report(POOL, MODEL)["table_ids"]
    assert hook.resolve_tables(POOL, MODEL, ["VBAK", "Sales items"], "table_names") == [
        report["VBAK"],
        report["VBAP"],
    ]


def test_a_task_of_the_other_type_is_not_found(hook: CelonisDataPoolHook) -> None:
    with pytest.raises(CelonisNameError, match="matches no transformation") as raised:
        hook.resolve_tasks(POOL, JOB, ["Extract SAP tables"], "TRANSFORMATION", "transformation_names")
    assert raised.value.candidates == [("Create activity table", raised.value.candidates[0][1])]


def test_case_insensitive_match_only_when_unique(
    hook: CelonisDataPoolHook, emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hook.resolve_job(POOL, "  daily DELTA load ") == JOB
    assert "only ignoring case" in capsys.readouterr().out  # a warning, so the DAG gets fixed
    emulator.configure_data_job(POOL, "job-2", name="DAILY delta load")
    with pytest.raises(CelonisNameError, match=r"ambiguous.*ignoring case") as raised:
        hook.resolve_job(POOL, "daily delta load")
    assert raised.value.ambiguous and {i for _, i in raised.value.candidates} == {JOB, "job-2"}
    assert hook.resolve_job(POOL, "DAILY delta load") == "job-2"  # the exact match wins


def test_a_duplicate_name_is_ambiguous_never_the_first(hook: CelonisDataPoolHook, emulator: Any) -> None:
    emulator.configure_data_pool("pool-twin", "Emulated SAP ECC pool")
    with pytest.raises(CelonisNameError, match="ambiguous: 2 data pools") as raised:
        hook.resolve_pool("Emulated SAP ECC pool")
    assert POOL in str(raised.value) and "pool-twin" in str(raised.value)
    assert isinstance(raised.value, CelonisConfigurationError)  # a DAG problem, not a Celonis fault


def test_a_missing_name_lists_a_readable_number_of_candidates(
    hook: CelonisDataPoolHook, emulator: Any
) -> None:
    for n in range(20):
        emulator.configure_data_pool(f"pool-{n:02d}", f"Pool {n:02d}")
    with pytest.raises(CelonisNameError) as raised:
        hook.resolve_pool("Nope")
    text = str(raised.value)
    assert "matches no data pool on this team; Celonis lists 21" in text
    assert "'Pool 00' (pool-00)" in text and "and 6 more" in text and "pool-19" not in text
    assert len(raised.value.candidates) == 21 and not raised.value.ambiguous


def test_table_names_match_the_name_or_the_alias(hook: CelonisDataPoolHook, emulator: Any) -> None:
    emulator.configure_data_model(POOL, MODEL, table_aliases={"VBAP": "VBAK"})
    with pytest.raises(CelonisNameError, match="ambiguous: 2 tables"):
        hook.resolve_tables(POOL, MODEL, ["VBAK"], "table_names")


def test_for_operator_keeps_only_the_arguments_it_knows(emulator: Any) -> None:
    hook = CelonisDataPoolHook.for_operator(
        "celonis_default", {"history_limit": 5, "max_attempts": 2, "celonis_conn_id": "other"}
    )
    assert hook.retry_policy.max_attempts == 2 and hook.celonis_conn_id == "celonis_default"
    with pytest.raises(CelonisConfigurationError, match="pool_listing"):
        CelonisDataPoolHook(pool_listing="sometimes")


# -- a pool list that changes while it is paged ---------------------------------------------
async def test_a_pool_removed_while_paging_cannot_hide_a_twin(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    """The first pool goes away after page 0 is served: every later item moves up one place, so
    a single read skips pool-a and would call 'Sales' unique (pool-b). Reading until two complete
    reads agree sees both twins: ambiguous, never the survivor."""
    emulator.configure_data_pool("pool-a", "Sales")
    emulator.configure_data_pool("pool-b", "Sales")
    hook = CelonisDataPoolHook(pool_listing="paged", page_size=1, **fast_retries)
    emulator.configure_pool_listing(while_paging={"after_page": 0, "remove": POOL})
    with pytest.raises(CelonisNameError, match="ambiguous: 2 data pools"):
        hook.resolve_pool("Sales")
    emulator.configure_data_pool(POOL, "Emulated SAP ECC pool")
    emulator.configure_pool_listing(while_paging={"after_page": 0, "remove": POOL})
    assert {p["id"] for p in await hook.alist_pools()} == {"pool-a", "pool-b"}
    await close_loop_session()


async def test_a_pool_inserted_while_paging_is_not_a_duplicate_or_a_loss(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    """A pool put first after page 0 pushes page 0's last item onto page 1 (seen twice) and the
    new pool is never read: the read is repeated until two agree, and the new pool is listed."""
    for n in range(3):
        emulator.configure_data_pool(f"pool-{n}", f"Pool {n}")
    hook = CelonisDataPoolHook(pool_listing="paged", page_size=2, **fast_retries)
    emulator.configure_pool_listing(while_paging={"after_page": 0, "insert": ["pool-new", "New"]})
    assert hook.resolve_pool("New") == "pool-new"
    emulator.configure_pool_listing(while_paging={"after_page": 0, "insert": ["pool-new2", "New 2"]})
    assert "pool-new2" in {p["id"] for p in await hook.alist_pools()}
    await close_loop_session()


def test_a_pool_list_that_never_holds_still_fails_closed(
    emulator: Any, fast_retries: dict[str, float]
) -> None:
    emulator.configure_data_pool("pool-2", "Two")
    change = {"after_page": 0, "insert": ["pool-new", "New"], "times": -1}
    emulator.configure_pool_listing(while_paging=change)  # a new pool during every read
    hook = CelonisDataPoolHook(pool_listing="paged", page_size=2, **fast_retries)
    with pytest.raises(CelonisUnexpectedResponseError, match="changed while it was read, 3 times"):
        hook.resolve_pool("Two")
    assert emulator.requests_to("GET", PAGED) < 20  # bounded: a few reads, not a loop


def test_the_fallback_ignores_unicode_composition_but_the_exact_match_does_not(
    hook: CelonisDataPoolHook, emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """'Café' typed on one system (é as one code point) and saved on another (e + accent) look
    the same and are not equal: the friendly fallback compares them normalized (NFKC, which also
    turns a no-break space into a space), with its warning."""
    emulator.configure_data_job(POOL, JOB, name="Cafe\u0301 daily\u00a0load")
    assert hook.resolve_job(POOL, "Caf\u00e9 daily load") == JOB
    assert "only ignoring case" in capsys.readouterr().out


def test_an_id_given_as_a_name_is_pointed_at_its_argument(hook: CelonisDataPoolHook) -> None:
    with pytest.raises(CelonisNameError, match=r"is the id of a data pool .*give it as data_pool_id"):
        hook.resolve_pool(POOL)
    with pytest.raises(CelonisNameError, match=r"is the id of a data job .*give it as data_job_id"):
        hook.resolve_job(POOL, JOB)


def test_the_fallback_warning_names_the_alias_that_matched(
    hook: CelonisDataPoolHook, emulator: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.configure_data_model(POOL, MODEL, table_aliases={"VBAP": "Sales items"})
    report = emulator.data_model_report(POOL, MODEL)["table_ids"]
    assert hook.resolve_tables(POOL, MODEL, ["sales ITEMS"], "table_names") == [report["VBAP"]]
    assert "('Sales items')" in capsys.readouterr().out  # not 'VBAP', which the user never wrote


def test_huge_names_do_not_flood_the_error(hook: CelonisDataPoolHook, emulator: Any) -> None:
    for n in range(3):
        emulator.configure_data_pool(f"pool-{n}", f"{n}" + "x" * 20_000)
    with pytest.raises(CelonisNameError) as raised:
        hook.resolve_pool("Nope")
    assert len(str(raised.value)) < 2_000 and "pool-2" in str(raised.value)
    assert len(raised.value.candidates) == 4  # the whole names stay available to code
