"""Benchmark: audit log extracts at internet latency, concurrent operator vs a sequential loop.

Run by hand (not a test; timings depend on the machine)::

    python bench/bench_usage_concurrency.py                      # 40k at 50 and 200 ms, 1M at 50 ms
    python bench/bench_usage_concurrency.py --scenarios 40000:0.05 --rate-limit 10

The emulator adds ``latency`` seconds to every usage page (``configure_usage(latency=...)``),
as a real team across the internet costs 50-300 ms a page. Each scenario runs, side by side
against the same emulator, a plain ``requests.Session`` loop that fetches and decodes every
page sequentially (and waits out a 429's announced reset), and ``CelonisAuditLogOperator`` with
its defaults (``max_concurrency=8``). Every pull runs in a fresh child process, which reports
records/s and its peak RSS growth (sampled every 10 ms, over the RSS after a warm-up pull).
The operator's file is compared by sha256 with the file of a sequential pull
(``max_concurrency=1``, no latency) of the same window. With ``--rate-limit N`` the emulator
answers 429 (``x-ratelimit-reset``) beyond N requests/s per team; 429s are counted by the
emulator for each side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="celonis-bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

# The window arithmetic and the sequential baseline are the ones of the single-stream benchmark.
from bench_usage_extract import RATE, START, plain_loop, window_end  # noqa: E402 - after the path setup


def operator_pull(end: str, output: str, **kwargs: Any) -> int:
    from airflow_provider_celonis.operators.usage import CelonisAuditLogOperator

    op = CelonisAuditLogOperator(task_id="bench", output_path=output, start=START, end=end, **kwargs)
    return int(op.execute({})["records"])


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def child(side: str, base_url: str, events: int, output: str, extra: str) -> None:
    """In a fresh process: warm up, pull, report records/s and peak RSS growth (sampled)."""
    import psutil

    kwargs = json.loads(extra)
    with tempfile.TemporaryDirectory() as scratch:
        if side == "operator":
            operator_pull(window_end(2_000), f"{scratch}/warmup.jsonl", **kwargs)
        else:
            plain_loop(base_url, window_end(2_000))
        me = psutil.Process()
        before = me.memory_info().rss
        highest = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.01):
                highest[0] = max(highest[0], me.memory_info().rss)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        began = time.perf_counter()
        if side == "operator":
            records = operator_pull(window_end(events), output, **kwargs)
        else:
            records = plain_loop(base_url, window_end(events))
        seconds = time.perf_counter() - began
        done.set()
        sampler.join()
    print(json.dumps({"records": records, "seconds": seconds, "growth_mb": (highest[0] - before) / 2**20}))


def run_child(side: str, base_url: str, events: int, output: str, **kwargs: Any) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, __file__, "--child", side, base_url, str(events), output, json.dumps(kwargs)],
        env={**os.environ},
        capture_output=True,
        text=True,
    )
    if answer.returncode:
        return {"failed": answer.stderr.strip().splitlines()[-1:]}
    return dict(json.loads(answer.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scenarios",
        nargs="+",
        default=["40000:0.05", "40000:0.2", "1000000:0.05"],
        help="events:latency_seconds pairs",
    )
    parser.add_argument("--rate-limit", type=int, default=0, help="requests/s per team (0: none)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, base_url, events, output, extra = args.child
        child(side, base_url, int(events), output, extra)
        return 0

    import logging

    logging.disable(logging.INFO)
    from airflow_provider_celonis.emulator.client import start_emulator

    with start_emulator() as emulator, tempfile.TemporaryDirectory() as scratch:
        emulator.configure_usage(audit_per_hour=RATE)
        os.environ["AIRFLOW_CONN_CELONIS_DEFAULT"] = emulator.connection_json()
        print(f"Emulator {emulator.base_url}; rate limit {args.rate_limit or 'none'}/s")
        references: dict[int, str] = {}
        for scenario in args.scenarios:
            events, latency = int(scenario.split(":")[0]), float(scenario.split(":")[1])
            if events not in references:  # the sequential operator's file, without latency
                emulator.configure_usage(latency=0, rate_limit_per_second=0)
                ref = f"{scratch}/ref-{events}.jsonl"
                run_child("operator", emulator.base_url, events, ref, max_concurrency=1)
                references[events] = sha256(ref)
                os.unlink(ref)
            emulator.configure_usage(latency=latency, rate_limit_per_second=args.rate_limit)
            results = {}
            for side in ("loop", "operator"):
                emulator.usage_stats(reset=True)
                out = f"{scratch}/{side}-{events}.jsonl"
                result = run_child(side, emulator.base_url, events, out)
                stats = emulator.usage_stats()
                result["429s"] = stats["rate_limited"]
                result["peak_in_flight"] = stats["max_in_flight"]
                if side == "operator" and os.path.exists(out):
                    result["same_bytes"] = sha256(out) == references[events]
                    os.unlink(out)
                results[side] = result
            loop, op = results["loop"], results["operator"]
            if "failed" in loop or "failed" in op:
                print(f"{events:,} events, {latency * 1000:.0f} ms: FAILED {results}")
                continue
            loop_rate, op_rate = loop["records"] / loop["seconds"], op["records"] / op["seconds"]
            print(
                f"{events:,} events, {latency * 1000:.0f} ms/page: loop {loop_rate:,.0f} rec/s "
                f"({loop['429s']} x 429, RSS +{loop['growth_mb']:.1f} MiB); operator {op_rate:,.0f} rec/s "
                f"({op['429s']} x 429, peak {op['peak_in_flight']} in flight, "
                f"RSS +{op['growth_mb']:.1f} MiB, "
                f"same bytes as a sequential pull: {op['same_bytes']}); ratio {op_rate / loop_rate:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
