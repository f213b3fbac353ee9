"""Event triggers (AssetWatcher): one event per new finished run, never for old ones, never twice.

Against the emulator over real sockets. The durable cursor is a ``MemoryCursorStore`` shared
between two trigger instances built from the same kwargs: that is what a triggerer restart
looks like to the trigger (the Variable store itself is exercised by the e2e stack).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from data_pool_helpers import recreate

from airflow_provider_celonis.client.transport import close_loop_session
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_JOB_ID as JOB
from airflow_provider_celonis.emulator.apis.data_jobs import DEFAULT_POOL_ID as POOL
from airflow_provider_celonis.emulator.apis.data_jobs import PREVIOUS_EXECUTION_ID
from airflow_provider_celonis.emulator.apis.data_models import DEFAULT_DATA_MODEL_ID as MODEL
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.triggers.events import (
    CelonisDataJobExecutionEventTrigger,
    CelonisDataModelLoadEventTrigger,
    MemoryCursorStore,
)

HISTORY = f"/integration/api/pools/{POOL}/logs/{JOB}/executions"
FLAKY_HOOK = {"min_wait": 0.01, "max_wait": 0.02, "max_attempts": 2}


def job_trigger(store: MemoryCursorStore | None = None, **kwargs: Any) -> Any:
    params = {"poll_interval": 0.05, "hook_params": FLAKY_HOOK, "cursor": "memory", **kwargs}
    trigger = recreate(CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB, **params))
    if store is not None:
        trigger._store = store
    return trigger


class Watch:
    """Runs a trigger in the background, as the triggerer does, and collects its events."""

    def __init__(self, trigger: Any) -> None:
        self.trigger, self.events = trigger, []  # type: ignore[var-annotated]
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            self.events.append(event.payload)

    async def until(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        for _ in range(int(timeout / 0.05)):
            if len(self.events) >= count or self.task.done():
                break
            await asyncio.sleep(0.05)
        return self.events

    async def stop(self, settle: float = 0.5) -> list[dict[str, Any]]:
        """Let it poll a few more times (a second event would show here), then cancel it."""
        await asyncio.sleep(settle)
        if self.task.done():
            self.task.result()  # re-raise: the watch must never end by itself
            raise AssertionError("the watcher ended")
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await close_loop_session()
        return self.events


async def started(watch: Watch, store: MemoryCursorStore) -> None:
    """Wait until the first poll stored the baseline cursor."""
    for _ in range(200):
        if store.values:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("no baseline cursor")


def seed_running(emulator: Any, seconds: float = 0.3, outcome: str = "SUCCESS") -> str:
    execution: str = emulator.seed_execution(POOL, JOB, "RUNNING", running_seconds=seconds, outcome=outcome)
    return execution


async def test_fires_once_for_a_schedule_started_run_and_never_for_the_old_one(emulator: Any) -> None:
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    execution = seed_running(emulator)
    await watch.until(1)
    events = await watch.stop(settle=0.6)
    assert len(events) == 1, events
    event = events[0]
    assert event["execution_id"] == execution != PREVIOUS_EXECUTION_ID
    assert event["kind"] == "data_job_execution" and event["status"] == "SUCCESS"
    assert (event["data_pool_id"], event["data_job_id"]) == (POOL, JOB)
    assert event["scheduling_id"] and event["end_ms"] >= event["start_ms"]
    json.dumps(event)
    assert "secret" not in json.dumps(event).lower() and "token" not in json.dumps(event).lower()


async def test_not_twice_across_a_restart_and_runs_ended_while_down_fire_once(emulator: Any) -> None:
    store = MemoryCursorStore()
    first = Watch(job_trigger(store))
    await started(first, store)
    one = seed_running(emulator, 0.1)
    assert [e["execution_id"] for e in await first.until(1)] == [one]
    await first.stop(settle=0.2)
    # The triggerer is down: a run ends meanwhile; then the trigger is rebuilt from its kwargs.
    two = emulator.seed_execution(POOL, JOB, "SUCCESS", age=0.5)
    second = Watch(job_trigger(store))
    await second.until(1)
    events = await second.stop(settle=0.5)
    assert [e["execution_id"] for e in events] == [two]


async def test_runs_finished_before_the_first_poll_never_fire_even_if_listed_later(emulator: Any) -> None:
    old = emulator.seed_execution(POOL, JOB, "SUCCESS", age=120)
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    assert old in json.loads(store.values[next(iter(store.values))])["seen"]
    # A run that ended long ago shows up only now (a page the watcher had not read): it is old.
    emulator.seed_execution(POOL, JOB, "SUCCESS", age=7200)
    assert await watch.stop(settle=0.5) == []


async def test_failure_filter(emulator: Any) -> None:
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store, on=["fail", "CANCEL"]))
    await started(watch, store)
    seed_running(emulator, 0.1, outcome="SUCCESS")
    failed = seed_running(emulator, 0.2, outcome="FAIL")
    await watch.until(1)
    events = await watch.stop(settle=0.5)
    assert [(e["execution_id"], e["status"]) for e in events] == [(failed, "FAIL")]


async def test_success_filter_ignores_failures(emulator: Any) -> None:
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    seed_running(emulator, 0.1, outcome="FAIL")
    assert await watch.stop(settle=0.6) == []


@pytest.mark.parametrize("shape", ["no_list", "html", "truncate"])
async def test_a_page_of_unexpected_shape_fires_nothing_and_the_watch_goes_on(
    emulator: Any, shape: str
) -> None:
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    emulator.add_faults([{"path": HISTORY, "method": "GET", "kind": shape, "times": 3}])
    execution = seed_running(emulator, 0.05)
    await watch.until(1)
    events = await watch.stop(settle=0.3)
    assert [e["execution_id"] for e in events] == [execution]


async def test_survives_5xx_and_dropped_connections(emulator: Any) -> None:
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    emulator.add_faults(
        [
            {"path": HISTORY, "method": "GET", "kind": "status", "status": 503, "times": 4},
            {"path": HISTORY, "method": "GET", "kind": "drop", "times": 3},
        ]
    )
    execution = seed_running(emulator, 0.05)
    await watch.until(1, timeout=15)
    events = await watch.stop(settle=0.3)
    assert [e["execution_id"] for e in events] == [execution]


class FlakyStore(MemoryCursorStore):
    """A cursor store whose writes fail ``failures`` times after the baseline."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def set(self, key: str, value: str) -> None:
        if self.values and self.failures > 0:
            self.failures -= 1
            raise OSError("variable store unavailable")
        await super().set(key, value)


async def test_a_cursor_that_cannot_be_written_fires_nothing_until_it_can(emulator: Any) -> None:
    store = FlakyStore(failures=2)
    watch = Watch(job_trigger(store))
    await started(watch, store)
    execution = seed_running(emulator, 0.05)
    await watch.until(1)
    events = await watch.stop(settle=0.4)
    assert store.failures == 0
    assert [e["execution_id"] for e in events] == [execution]


async def test_an_unreadable_cursor_fails_closed(emulator: Any) -> None:
    store = MemoryCursorStore()
    trigger = job_trigger(store)
    store.values[trigger.cursor_key] = '{"version": 1, "seen": []}'
    watch = Watch(trigger)
    seed_running(emulator, 0.05)
    assert await watch.stop(settle=0.6) == []
    assert store.values[trigger.cursor_key] == '{"version": 1, "seen": []}'


async def test_only_gets_reach_celonis(emulator: Any) -> None:
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    seed_running(emulator, 0.05)
    await watch.until(1)
    await watch.stop(settle=0.2)
    celonis = [r for r in emulator.recent_requests() if "/integration/" in r["path"]]
    assert celonis and {r["method"] for r in celonis} == {"GET"}


async def test_data_model_loads(emulator: Any) -> None:
    from airflow_provider_celonis.hooks.data_models import CelonisDataModelHook

    emulator.configure_data_model(POOL, MODEL, load_seconds=0.1, stale_seconds=0.0)
    hook = CelonisDataModelHook("celonis_default")
    hook.start_load(POOL, MODEL)  # before the watcher: old
    await asyncio.sleep(0.2)
    store = MemoryCursorStore()
    trigger = recreate(
        CelonisDataModelLoadEventTrigger(
            data_pool_id=POOL, data_model_id=MODEL, poll_interval=0.05, cursor="memory"
        )
    )
    trigger._store = store
    watch = Watch(trigger)
    await started(watch, store)
    hook.start_load(POOL, MODEL)  # another client's load, after the watcher started
    await watch.until(1)
    events = await watch.stop(settle=0.4)
    loads = emulator.data_model_report(POOL, MODEL)["loads"]
    assert [e["data_load_id"] for e in events] == [loads[-1]["dataLoadId"]]
    assert events[0]["kind"] == "data_model_load" and events[0]["status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"on": []}, "on"),
        ({"on": ["RUNNING"]}, "on"),
        ({"on": "DONE"}, "on"),
        ({"cursor": "disk"}, "cursor"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"data_job_id": " "}, "data_job_id"),
        ({"cursor_key": ""}, "cursor_key"),
    ],
)
def test_bad_arguments_are_refused_before_any_network_call(kwargs: dict[str, Any], field: str) -> None:
    args = {"data_pool_id": POOL, "data_job_id": JOB, **kwargs}
    with pytest.raises(CelonisConfigurationError) as raised:
        CelonisDataJobExecutionEventTrigger(**args)
    assert raised.value.field == field


def test_serialisation_is_stable_and_names_its_own_class() -> None:
    from airflow.sdk import Asset, AssetWatcher
    from airflow.triggers.base import BaseEventTrigger

    one = CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB, on=("SUCCESS", "FAIL"))
    two = recreate(
        CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB, on=["fail", "success"])
    )
    classpath, kwargs = one.serialize()
    assert classpath == "airflow_provider_celonis.triggers.events.CelonisDataJobExecutionEventTrigger"
    assert BaseEventTrigger.hash(classpath, kwargs) == BaseEventTrigger.hash(*two.serialize())
    assert one.cursor_key == two.cursor_key
    other = CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB, on=["FAIL"])
    assert other.cursor_key != one.cursor_key  # two watchers never share (and hide) runs
    named = CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB, cursor_key="nightly")
    assert named.cursor_key == "celonis_event_cursor__nightly"
    model = CelonisDataModelLoadEventTrigger(data_pool_id=POOL, data_model_id=MODEL)
    assert model.serialize()[0].endswith("events.CelonisDataModelLoadEventTrigger")
    assert Asset("celonis_job", watchers=[AssetWatcher(name="w", trigger=one)]).watchers[0].trigger is one


def test_the_cursor_is_durable_only_where_the_triggerer_can_write_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_celonis.triggers import events

    monkeypatch.setattr(events, "TRIGGERS_CAN_WRITE_VARIABLES", True)
    durable = CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB).store
    assert isinstance(durable, events.VariableCursorStore)
    monkeypatch.setattr(events, "TRIGGERS_CAN_WRITE_VARIABLES", False)  # Airflow 3.0: memory, warned
    assert isinstance(
        CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB).store, MemoryCursorStore
    )
    memory = CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB, cursor="memory").store
    assert isinstance(memory, MemoryCursorStore)


async def test_a_hook_that_cannot_be_built_does_not_end_the_watch(emulator: Any) -> None:
    trigger = job_trigger(MemoryCursorStore(), hook_params={"max_attempts": "many"})
    watch = Watch(trigger)
    assert await watch.stop(settle=0.3) == []  # still running, nothing fired


class ForgetfulStore(MemoryCursorStore):
    """Writes succeed but every read says "no such Variable" (a triggerer that cannot read them)."""

    async def get(self, key: str) -> str | None:
        return None


async def test_a_cursor_that_reads_as_missing_after_a_write_still_fires_once(emulator: Any) -> None:
    store = ForgetfulStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    execution = seed_running(emulator, 0.05)
    await watch.until(1)
    events = await watch.stop(settle=0.4)
    assert [e["execution_id"] for e in events] == [execution]


async def test_more_runs_than_a_history_page_ended_while_down_all_fire_once(emulator: Any) -> None:
    """A day of a 15-minute schedule is more than a page: the middle pages must be read too."""
    params = {**FLAKY_HOOK, "history_limit": 3}
    store = MemoryCursorStore()
    first = Watch(job_trigger(store, hook_params=params))
    await started(first, store)
    await first.stop(settle=0.1)
    ended = [emulator.seed_execution(POOL, JOB, "SUCCESS", age=1.5 - n * 0.05) for n in range(8)]
    second = Watch(job_trigger(store, hook_params=params))
    await second.until(8)
    events = await second.stop(settle=0.4)
    assert sorted(e["execution_id"] for e in events) == sorted(ended)
    assert len(events) == 8


@pytest.mark.parametrize("order", ["newest_first", "oldest_first"])
async def test_a_quiet_poll_reads_two_pages_whatever_the_history_order(emulator: Any, order: str) -> None:
    emulator.configure_data_job(POOL, JOB, history_order=order)
    for n in range(9):
        emulator.seed_execution(POOL, JOB, "SUCCESS", age=600 - n)
    store = CountingStore()
    watch = Watch(job_trigger(store, hook_params={**FLAKY_HOOK, "history_limit": 3}))
    await started(watch, store)
    await asyncio.sleep(0.3)
    before, polls_before = len([r for r in emulator.recent_requests() if r["path"] == HISTORY]), store.reads
    await asyncio.sleep(0.5)
    after, polls = len([r for r in emulator.recent_requests() if r["path"] == HISTORY]), store.reads
    new = emulator.seed_execution(POOL, JOB, "SUCCESS", age=1.0)
    await watch.until(1)
    events = await watch.stop(settle=0.3)
    assert [e["execution_id"] for e in events] == [new]
    polls -= polls_before
    assert polls >= 3, polls
    assert (after - before) <= 2 * (polls + 1), (after - before, polls)  # page 0 and the last page


class CountingStore(MemoryCursorStore):
    """Counts cursor reads: one per poll."""

    reads = 0

    async def get(self, key: str) -> str | None:
        self.reads += 1
        return await super().get(key)


class StaleStore(MemoryCursorStore):
    """Writes land, but reads keep answering the first value (a cached or lagging Variable read)."""

    def __init__(self) -> None:
        super().__init__()
        self.first: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.first.get(key)

    async def set(self, key: str, value: str) -> None:
        self.first.setdefault(key, value)
        await super().set(key, value)


async def test_a_cursor_read_older_than_the_last_write_does_not_fire_a_run_again(emulator: Any) -> None:
    store = StaleStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    execution = seed_running(emulator, 0.05)
    await watch.until(1)
    events = await watch.stop(settle=0.6)
    assert [e["execution_id"] for e in events] == [execution]


async def test_a_run_in_progress_at_the_baseline_fires_even_if_it_ends_before_the_floor(
    emulator: Any,
) -> None:
    """Clock skew between Celonis nodes (or two ends in one millisecond): a run the watcher saw in
    progress is provably new, whatever end date it reports against the newest finished run."""
    # Its end date is 5 s ahead (a fast node); the other run ends in 3 s, long enough for the
    # watcher's first poll to see it in progress even on a loaded machine.
    emulator.seed_execution(POOL, JOB, "SUCCESS", age=-4)
    running = seed_running(emulator, 3)
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store))
    await started(watch, store)
    assert running in json.loads(next(iter(store.values.values())))["running"], "seen in progress"
    await watch.until(1, timeout=10)
    events = await watch.stop(settle=0.3)
    assert [e["execution_id"] for e in events] == [running]
    assert events[0]["end_ms"] <= json.loads(next(iter(store.values.values())))["floor_ms"]  # really skewed


@pytest.mark.parametrize(
    "hook_params",
    [{"client_secret": "s3cr3t"}, {"api_key": "s3cr3t"}, {"password": "s3cr3t"}, {"max_wait": object()}],
)
def test_hook_params_that_would_put_a_secret_or_garbage_in_the_kwargs_are_refused(
    hook_params: dict[str, Any],
) -> None:
    """Trigger kwargs are stored in the metadata database in clear and shown in the UI."""
    with pytest.raises(CelonisConfigurationError) as raised:
        CelonisDataJobExecutionEventTrigger(data_pool_id=POOL, data_job_id=JOB, hook_params=hook_params)
    assert raised.value.field == "hook_params"
    assert "s3cr3t" not in str(raised.value)


async def test_a_named_cursor_of_another_data_job_is_refused_not_shared(emulator: Any) -> None:
    """A ``cursor_key`` copied to a watcher of another job would share its floor and hide runs."""
    store = MemoryCursorStore()
    watch = Watch(job_trigger(store, cursor_key="nightly"))
    await started(watch, store)
    await watch.stop(settle=0.1)
    other_job = "another-job"
    emulator.configure_data_job(POOL, other_job)
    other = recreate(
        CelonisDataJobExecutionEventTrigger(
            data_pool_id=POOL,
            data_job_id=other_job,
            cursor_key="nightly",
            poll_interval=0.05,
            cursor="memory",
        )
    )
    other._store = store
    before = dict(store.values)
    with pytest.raises(CelonisConfigurationError, match="another watcher"):
        await other.step(other.make_hook())
    assert store.values == before
    await close_loop_session()


async def test_the_history_walk_stops_at_max_history_pages_and_says_so(
    emulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The cost of one poll is bounded: a longer burst fires its newest runs and warns."""
    params = {**FLAKY_HOOK, "history_limit": 2, "max_history_pages": 3}
    store = MemoryCursorStore()
    first = Watch(job_trigger(store, hook_params=params))
    await started(first, store)
    await first.stop(settle=0.1)
    ended = [emulator.seed_execution(POOL, JOB, "SUCCESS", age=1.5 - n * 0.05) for n in range(9)]
    trigger = job_trigger(store, hook_params=params)
    marks = len([r for r in emulator.recent_requests() if r["path"] == HISTORY])
    fired = await trigger.step(trigger.make_hook())
    await close_loop_session()
    reads = len([r for r in emulator.recent_requests() if r["path"] == HISTORY]) - marks
    assert reads == 3, reads
    assert {r.run_id for r in fired} < set(ended) and len(fired) >= 4  # newest two pages (and the oldest)
    assert "max_history_pages" in caplog.text


def test_the_default_cursor_name_and_kwargs_are_pinned_across_releases() -> None:
    """The cursor Variable is named by a hash of the kwargs: a release that adds, renames or
    re-encodes a kwarg renames it, and every deployed watcher silently takes a new baseline
    (runs ending during the upgrade never fire). Such a change must come with a migration (or a
    kwarg left out of the hash), so this test pins today's names."""
    job = CelonisDataJobExecutionEventTrigger(data_pool_id="p", data_job_id="j")
    model = CelonisDataModelLoadEventTrigger(data_pool_id="p", data_model_id="m")
    assert job.cursor_key == "celonis_event_cursor__7134136474e9fd50463b6eda6821dea706637785"
    assert model.cursor_key == "celonis_event_cursor__466398bfcf7171e3d80d046aa3e2e4bc2326745d"
    assert job.serialize()[1] == {
        "data_pool_id": "p",
        "data_job_id": "j",
        "on": ["SUCCESS"],
        "poll_interval": 60.0,
        "celonis_conn_id": "celonis_default",
        "hook_params": {},
        "cursor": "variable",
        "cursor_key": None,
    }
    assert recreate(job).cursor_key == job.cursor_key
    assert CelonisDataJobExecutionEventTrigger(
        data_pool_id="p", data_job_id="j", poll_interval=60
    ).cursor_key == (job.cursor_key)


async def test_a_run_in_progress_at_the_baseline_that_ends_while_the_triggerer_is_down_fires_once(
    emulator: Any,
) -> None:
    store = MemoryCursorStore()
    running = seed_running(emulator, 0.6)
    first = Watch(job_trigger(store))
    await started(first, store)
    assert running in json.loads(next(iter(store.values.values())))["running"]
    await first.stop(settle=0.05)
    await asyncio.sleep(0.8)  # it ends while no trigger runs
    second = Watch(job_trigger(store))
    await second.until(1)
    events = await second.stop(settle=0.4)
    assert [e["execution_id"] for e in events] == [running]
    third = Watch(job_trigger(store))  # and a later restart does not fire it again
    assert await third.stop(settle=0.4) == []
