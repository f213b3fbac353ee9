"""Outputs and sources on a real S3 API (moto in server mode, reached through the ``aws_default``
connection): the nightly audit pull writes s3:// objects, a re-run of the interval rewrites the
same bytes, nothing temporary ever appears, a failed pull leaves no object, and a data push
reads its source from s3://.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from e2e_distributed import DATA_POOL_ID
from e2e_report import report
from stack import AirflowStack

from airflow_provider_celonis.extracts.object_store import write_once

NIGHTLY = "nightly_audit_pull"
LOGICAL_DATE = "2025-11-04T00:00:00Z"
DAY = "2025-11-03"  # a manual run at LOGICAL_DATE pulls the day before: its data interval
FOLDER = "nightly"
STREAMS = ("audit_log", "login_history", "studio_adoption", "team_members")


def s3_uri(stack: AirflowStack, key: str) -> str:
    return f"s3://{stack.s3.BUCKET}/{key}"


@pytest.fixture(scope="module")
def nightly(stack: AirflowStack) -> dict[str, Any]:
    """The example nightly pull run once for DAY into s3://, then the same run cleared and run
    again (a re-run of the interval): the objects and their LastModified after each."""
    stack.wait_for_dags({NIGHTLY, "e2e_kill_extract", "e2e_s3_push"})
    folder = f"s3://aws_default@{stack.s3.BUCKET}/{FOLDER}"
    stack.api("POST", "/variables", json={"key": "celonis_extract_dir", "value": folder})
    try:
        run_id = stack.trigger(NIGHTLY, logical_date=LOGICAL_DATE)
        first_state = stack.wait_run(NIGHTLY, run_id, timeout=300)
        first, first_modified = stack.s3.objects(FOLDER + "/"), stack.s3.last_modified(FOLDER + "/")
        time.sleep(1.1)  # S3's LastModified has whole seconds: the re-run must be seen to write
        stack.api("POST", stack.run_path(NIGHTLY, run_id) + "/clear", json={"dry_run": False})
        second_state = stack.wait_run(NIGHTLY, run_id, timeout=300)
        second, second_modified = stack.s3.objects(FOLDER + "/"), stack.s3.last_modified(FOLDER + "/")
    finally:
        stack.api("DELETE", "/variables/celonis_extract_dir")
    return {
        "run_id": run_id,
        "states": (first_state, second_state),
        "first": first,
        "second": second,
        "modified": (first_modified, second_modified),
    }


def test_nightly_pull_writes_every_stream_to_s3(stack: AirflowStack, nightly: dict[str, Any]) -> None:
    assert nightly["states"] == ("success", "success"), stack.task_states(NIGHTLY, nightly["run_id"])
    expected = {f"{FOLDER}/{stream}/{DAY}.jsonl" for stream in STREAMS}
    assert set(nightly["first"]) == expected, sorted(nightly["first"])
    assert all(nightly["first"].values()), "an empty object"
    for key, body in sorted(nightly["first"].items()):
        records = body.count(b"\n")
        report(f"wrote {s3_uri(stack, key)} ({len(body)} bytes, {records} records)")


def test_return_value_and_log_name_the_final_uri(stack: AirflowStack, nightly: dict[str, Any]) -> None:
    log = stack.task_log(NIGHTLY, nightly["run_id"], "report", try_number=2)
    for stream in STREAMS:
        assert f"@{stack.s3.BUCKET}/{FOLDER}/{stream}/{DAY}.jsonl" in log, log[-3000:]
    assert ".tmp" not in log, log[-3000:]


def test_rerun_of_the_interval_rewrites_identical_bytes(nightly: dict[str, Any]) -> None:
    assert nightly["second"] == nightly["first"]
    before, after = nightly["modified"]
    assert all(after[key] > before[key] for key in before), (before, after)  # written again, same bytes


def test_nothing_temporary_ever_reached_the_bucket(stack: AirflowStack, nightly: dict[str, Any]) -> None:
    everything = stack.s3.objects("")
    assert not [k for k in everything if ".tmp" in k or k.rsplit("/", 1)[-1].startswith(".")], sorted(
        everything
    )
    assert stack.s3.open_uploads() == []
    # moto logs every request line: a temporary object that was written, copied and deleted
    # (the rename fsspec emulates) would show here although the listing no longer has it.
    requests = (stack.artifacts / "moto.log").read_text(errors="replace")
    assert f"/{stack.s3.BUCKET}/{FOLDER}/" in requests
    assert ".tmp" not in requests


def test_a_failed_pull_leaves_no_object(stack: AirflowStack, nightly: dict[str, Any]) -> None:
    """Every audit page answers HTML (a 200 the provider must refuse): both tries fail, and the
    key the pull would have written holds nothing, not even an open upload."""
    day = "2025-11-05"  # the interval of the run at 2025-11-06
    stack.emulator.add_faults([{"path": "/api/external/.*audit", "kind": "html", "times": -1}])
    try:
        run_id = stack.trigger("e2e_kill_extract", logical_date="2025-11-06T00:00:00Z")
        assert stack.wait_run("e2e_kill_extract", run_id, timeout=300) == "failed"
    finally:
        stack.emulator.clear_faults()
    assert stack.task_instances("e2e_kill_extract", run_id)[0]["try_number"] == 2
    assert stack.s3.objects(f"kill/audit_log/{day}") == {}
    assert stack.s3.open_uploads() == []


def test_object_store_write_is_all_or_nothing(stack: AirflowStack, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer itself against the S3 API, with a block big enough for a real multipart
    upload: an error mid-write leaves the previous object as it was and no upload open."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", stack.s3.connection_json())
    uri = f"s3://aws_default@{stack.s3.BUCKET}/writer/object.bin"
    with write_once(uri) as out:
        out.write(b"first version\n")
    uploads_while_writing: list[str] = []

    def fail_mid_write() -> None:
        with write_once(uri) as out:
            out.write(b"x" * (60 * 1024 * 1024))  # more than s3fs's 50 MiB block: parts are sent
            out.flush()
            uploads_while_writing.extend(stack.s3.open_uploads())
            raise RuntimeError("mid-write")

    with pytest.raises(RuntimeError, match="mid-write"):
        fail_mid_write()
    assert uploads_while_writing == ["writer/object.bin"]  # the upload existed, unseen
    assert stack.s3.objects("writer/") == {"writer/object.bin": b"first version\n"}
    assert stack.s3.open_uploads() == []


def test_data_push_reads_its_source_from_s3(stack: AirflowStack) -> None:
    rows = 2_500
    body = "order_id,amount\n" + "".join(f"{i},{i * 3}.25\n" for i in range(rows))
    stack.s3.client().put_object(Bucket=stack.s3.BUCKET, Key="push/orders.csv", Body=body.encode())
    run_id = stack.trigger("e2e_s3_push")
    assert stack.wait_run("e2e_s3_push", run_id, timeout=300) == "success", stack.tail()
    table = stack.emulator.push_table(DATA_POOL_ID, "orders_from_s3")
    assert table["row_count"] == rows, table.get("row_count")
    report(f"pushed {s3_uri(stack, 'push/orders.csv')} ({rows} rows) into table orders_from_s3")
