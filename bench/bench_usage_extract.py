"""Benchmark: pull 1,000,000 audit events from the emulator with CelonisAuditLogOperator.

Run by hand (not a test; timings depend on the machine)::

    python bench/bench_usage_extract.py            # throughput (1M) and peak RSS (100k vs 1M)
    python bench/bench_usage_extract.py --rounds 1 --events 1000000
    python bench/bench_usage_extract.py --max-concurrency 1   # the sequential (read-ahead) path

Throughput: records per second of the operator (ordering, de-duplication, atomic jsonl
write) against a plain ``requests.Session`` loop that only fetches and parses the same pages,
alternating in the same run against the same emulator, so both see the same server speed.

Memory: each size is pulled in a fresh child process; the figure is the growth of peak RSS
(``ru_maxrss``) from after a warm-up pull to after the big pull, i.e. what the pull itself
needs. Flat memory means the two sizes show about the same growth.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="celonis-bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

RATE = 1_000_000  # audit events per hour in the emulator
START = "2025-01-01T00:00:00.000Z"


def window_end(events: int) -> str:
    """End of a window starting at START holding about ``events`` events."""
    seconds = round(events * 3600 / RATE)
    return f"2025-01-01T{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.000Z"


def plain_loop(base_url: str, end: str) -> int:
    """The baseline: one session, one page after the other (a 429's reset waited out), fetch and
    parse every page, nothing else."""
    import requests

    session = requests.Session()
    grant = {"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"}
    answer = session.post(f"{base_url}/oauth2/token", data={**grant, "scope": "audit.log:read"}, timeout=30)
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    count, number = 0, 0
    while True:
        params: dict[str, Any] = {"from": START, "to": end, "pageSize": 200, "pageNumber": number}
        page = session.get(f"{base_url}/log/api/external/audit", params=params, headers=headers, timeout=60)
        if page.status_code == 429:
            time.sleep(float(page.headers.get("x-ratelimit-reset") or page.headers.get("retry-after") or 1))
            continue
        page.raise_for_status()
        content = page.json()["content"]
        if not content:
            return count
        count += len(content)
        number += 1


MAX_CONCURRENCY = int(os.environ.get("BENCH_MAX_CONCURRENCY", "8"))


def operator_pull(end: str, output: str) -> int:
    from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

    op = CelonisAuditLogOperator(
        task_id="bench", output_path=output, start=START, end=end, max_concurrency=MAX_CONCURRENCY
    )
    return int(op.execute({})["records"])


def timed(func: Any, *args: Any) -> tuple[int, float]:
    began = time.perf_counter()
    records = func(*args)
    return records, records / (time.perf_counter() - began)


def child_rss(events: int) -> None:
    """In a fresh process: warm up, then report how far one pull raises RSS above its start.

    RSS is sampled every 10 ms during the pull (psutil); ``ru_maxrss`` growth is reported too.
    """
    import threading

    import psutil

    with tempfile.TemporaryDirectory() as scratch:
        operator_pull(window_end(2_000), f"{scratch}/warmup.jsonl")
        me = psutil.Process()
        before, peak_before = me.memory_info().rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        highest = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.01):
                highest[0] = max(highest[0], me.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        records = operator_pull(window_end(events), f"{scratch}/out.jsonl")
        done.set()
        sampler.join()
        peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "records": records,
                "growth_mb": (highest[0] - before) / 2**20,
                "maxrss_growth_mb": (peak_after - peak_before) / 1024,
                "peak_mb": peak_after / 1024,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--max-concurrency", type=int, default=8, help="1: sequential read-ahead")
    parser.add_argument("--rss-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["BENCH_MAX_CONCURRENCY"] = str(args.max_concurrency)  # the RSS children too
    global MAX_CONCURRENCY
    MAX_CONCURRENCY = args.max_concurrency
    if args.rss_child:
        child_rss(args.rss_child)
        return 0

    import logging

    logging.disable(logging.INFO)
    from airflow_provider_celonis.emulator.client import start_emulator

    with start_emulator() as emulator, tempfile.TemporaryDirectory() as scratch:
        emulator.configure_usage(audit_per_hour=RATE)
        os.environ["AIRFLOW_CONN_CELONIS_DEFAULT"] = emulator.connection_json()
        end = window_end(args.events)
        print(f"Emulator {emulator.base_url}; window {START} .. {end}")
        ratios = []
        for round_no in range(1, args.rounds + 1):
            # Alternate which side goes first, so drift in the machine's load favours neither.
            if round_no % 2:
                n_loop, loop_rate = timed(plain_loop, emulator.base_url, end)
                n_op, op_rate = timed(operator_pull, end, f"{scratch}/audit.jsonl")
            else:
                n_op, op_rate = timed(operator_pull, end, f"{scratch}/audit.jsonl")
                n_loop, loop_rate = timed(plain_loop, emulator.base_url, end)
            assert n_loop == n_op, (n_loop, n_op)
            ratios.append(op_rate / loop_rate)
            print(
                f"round {round_no}: {n_op} records; plain loop {loop_rate:,.0f} rec/s; "
                f"operator {op_rate:,.0f} rec/s; ratio {op_rate / loop_rate:.2f}"
            )
        print(f"median ratio operator/loop: {statistics.median(ratios):.2f} (target >= 0.9)")

        for events in (100_000, args.events):
            child = subprocess.run(
                [sys.executable, __file__, "--rss-child", str(events)],
                env={**os.environ},
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"peak RSS growth for {figures['records']:,} events: {figures['growth_mb']:.1f} MB sampled, "
                f"{figures['maxrss_growth_mb']:.1f} MB ru_maxrss (process peak {figures['peak_mb']:.0f} MB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
