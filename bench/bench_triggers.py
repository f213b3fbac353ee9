"""1,000 concurrent deferred data-job triggers in one event loop, as in a triggerer, polling the emulator.

Side by side, in the same run and against the same emulator and endpoint (the job's
execution history), providers-http's ``HttpSensorTrigger``. Each side runs in a fresh child
process so its CPU time and memory are its own. Reported per side:

* token requests the emulator received (target for the Celonis triggers: 1);
* polls (requests that reached the emulator) and triggerer CPU seconds per 1,000 polls;
* resident memory per trigger (RSS growth after the triggers started, divided by their number).

``HttpSensorTrigger`` only keeps polling while it gets a 404, so the emulator answers its
path with 404 (a fault rule) for the duration; it gets a bearer token in its ``headers``
kwarg, which is serialized into the metadata database: exactly what the Celonis trigger
avoids by looking the connection up itself.

Run by hand (not a test): ``python bench/bench_triggers.py [--triggers 1000] [--seconds 30]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POOL = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"
JOB = "7a2d4f6e-9c1b-4d3a-b5e8-6f0a2c4d8e02"
HISTORY = f"/integration/api/pools/{POOL}/logs/{JOB}/executions"


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


async def run_celonis(count: int, seconds: float, poll: float, execution_id: str) -> dict[str, Any]:
    from airflow_provider_celonis.client.transport import close_loop_session
    from airflow_provider_celonis.triggers.data_jobs import CelonisDataJobExecutionTrigger
    from airflow_provider_celonis.waiting.decisions import JobWait

    deadline = time.time() + seconds
    wait = JobWait(POOL, JOB, execution_id=execution_id, deadline=deadline).to_dict()
    triggers = [CelonisDataJobExecutionTrigger(wait=wait, poll_interval=poll) for _ in range(count)]
    for trigger in triggers:
        trigger.log.disabled = True
    events = await asyncio.gather(*(_first_event(t) for t in triggers))
    await close_loop_session()
    return {"events": sorted({e["status"] for e in events})}


async def run_http(count: int, seconds: float, poll: float, token: str) -> dict[str, Any]:
    from airflow.providers.http.triggers.http import HttpSensorTrigger

    triggers = [
        HttpSensorTrigger(
            endpoint=HISTORY,
            http_conn_id="http_bench",
            headers={"Authorization": f"Bearer {token}"},
            poke_interval=poll,
        )
        for _ in range(count)
    ]
    tasks = [asyncio.ensure_future(_first_event(t)) for t in triggers]
    await asyncio.sleep(seconds)  # HttpSensorTrigger has no deadline of its own
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"events": ["cancelled at the end"]}


async def _first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    return None


def child(args: argparse.Namespace) -> None:
    """One side of the benchmark, in its own process; prints one JSON line.

    Imports happen first, so CPU time and memory count only the triggers at work.
    """
    import aiohttp  # noqa: F401
    from airflow.providers.http.triggers.http import HttpSensorTrigger  # noqa: F401

    from airflow_provider_celonis.hooks.data_jobs import CelonisDataJobHook  # noqa: F401
    from airflow_provider_celonis.triggers.data_jobs import CelonisDataJobExecutionTrigger  # noqa: F401

    before_rss, before_cpu = rss_mb(), time.process_time()
    peak = {"rss": before_rss}

    async def main() -> dict[str, Any]:
        async def sample() -> None:
            while True:
                peak["rss"] = max(peak["rss"], rss_mb())
                await asyncio.sleep(0.5)

        sampler = asyncio.ensure_future(sample())
        if args.side == "celonis":
            result = await run_celonis(args.triggers, args.seconds, args.poll, args.execution_id)
        else:
            result = await run_http(args.triggers, args.seconds, args.poll, args.token)
        sampler.cancel()
        return result

    result = asyncio.run(main())
    result.update(cpu_seconds=time.process_time() - before_cpu, rss_growth_mb=peak["rss"] - before_rss)
    print(json.dumps(result))


def parent(args: argparse.Namespace) -> None:
    from airflow_provider_celonis.emulator.client import start_emulator
    from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

    rows = []
    with tempfile.TemporaryDirectory(prefix="celonis-bench-") as home, start_emulator() as emulator:
        host, port = emulator.base_url.split("://")[1].split(":")
        env = {
            **os.environ,
            "AIRFLOW_HOME": home,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json(),
            "AIRFLOW_CONN_HTTP_BENCH": json.dumps(
                {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
            ),
        }
        for side in ("celonis", "http"):
            emulator.reset()
            emulator.configure_data_job(POOL, JOB, running_seconds=3600)
            execution_id = emulator.seed_execution(POOL, JOB, "RUNNING")
            token = ""
            if side == "http":
                os.environ["AIRFLOW_CONN_CELONIS_DEFAULT"] = env["AIRFLOW_CONN_CELONIS_DEFAULT"]
                os.environ.setdefault("AIRFLOW_HOME", home)
                hook = CelonisOAuthHook()
                token = hook.fetch_token(hook.scope_for("data_jobs")).value
                emulator.add_faults([{"path": HISTORY, "method": "GET", "status": 404, "times": -1}])
            base = emulator.stats()
            command = [
                sys.executable,
                __file__,
                "--side",
                side,
                "--triggers",
                str(args.triggers),
                "--seconds",
                str(args.seconds),
                "--poll",
                str(args.poll),
                "--execution-id",
                execution_id,
                "--token",
                token,
            ]
            started = time.monotonic()
            out = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            wall = time.monotonic() - started
            if out.returncode != 0:
                raise SystemExit(f"{side} side failed:\n{out.stderr[-3000:]}")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            stats = emulator.stats()
            polls = stats["requests"].get(f"GET {HISTORY}", 0) - base["requests"].get(f"GET {HISTORY}", 0)
            rows.append(
                {
                    "side": side,
                    "triggers": args.triggers,
                    "wall_s": round(wall, 1),
                    "polls": polls,
                    "token_requests": stats["token_requests"] - base["token_requests"],
                    "cpu_s_per_1000_polls": round(result["cpu_seconds"] / max(polls, 1) * 1000, 3),
                    "kib_per_trigger": round(result["rss_growth_mb"] * 1024 / args.triggers, 1),
                    "events": result["events"],
                }
            )
    print(json.dumps(rows, indent=2))
    print("\n| trigger | triggers | polls | token requests | CPU s / 1,000 polls | memory / trigger |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        name = "CelonisDataJobExecutionTrigger" if row["side"] == "celonis" else "HttpSensorTrigger"
        print(
            f"| {name} | {row['triggers']} | {row['polls']} | {row['token_requests']} | "
            f"{row['cpu_s_per_1000_polls']} | {row['kib_per_trigger']} KiB |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--poll", type=float, default=2.0)
    parser.add_argument("--side", choices=["celonis", "http"])
    parser.add_argument("--execution-id", default="")
    parser.add_argument("--token", default="")
    arguments = parser.parse_args()
    child(arguments) if arguments.side else parent(arguments)
