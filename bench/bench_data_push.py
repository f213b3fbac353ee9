"""Benchmark: push a 1 GB CSV to the emulator with CelonisDataPushOperator.

Run by hand (not a test; timings depend on the machine)::

    python bench/bench_data_push.py                  # 100 MB and 1 GB files, 4 rounds
    python bench/bench_data_push.py --sizes-mb 1000 --rounds 1 --split-mb 250

Files are generated on the fly in a temporary directory (deleted at the end).

Throughput: bytes per second of the operator (plan, create job, streamed multipart upload,
execute; ``wait_for_completion=False`` so the emulator's own parsing is not timed) against a
plain streaming multipart upload of the same file with ``requests`` to the same chunk endpoint
of the same emulator, alternating in the same run. ``--split-mb`` adds a run with that
``chunk_size`` (scan for record boundaries, header repeated per chunk).

Memory: every push runs in a fresh child process; the figures are the peak RSS of that process
(``VmHWM``) and its growth over the RSS after imports, i.e. what the push itself needs.
"""

from __future__ import annotations

import argparse
import json
import os
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

POOL = "0f5c1e9a-3b7d-4e21-8a6f-2d9c4b8e1a01"
MB = 1_000_000


def proc_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def generate(path: Path, size: int) -> int:
    """A CSV of about ``size`` bytes (at most ``size``): unique ids, quoted text, numbers."""
    rows = 0
    with path.open("w", newline="") as handle:
        handle.write("id,customer,amount,note\n")
        written = handle.tell()
        block_rows = 10_000
        while True:
            lines = [
                f'{i},"Customer {i % 997}, Ltd.",{i % 100_000}.25,"order {i} for review"\n'
                for i in range(rows, rows + block_rows)
            ]
            block = "".join(lines)
            if written + len(block) > size:
                break
            handle.write(block)
            written += len(block)
            rows += block_rows
    return rows


class _TI:
    def xcom_push(self, key: str, value: Any) -> None:
        pass


def child_operator(path: str, chunk_size: int) -> dict[str, Any]:
    import airflow_provider_celonis.hooks.data_push
    import airflow_provider_celonis.push.plan  # noqa: F401 - imported lazily by execute(); not timed
    from airflow_provider_celonis.operators.data_push import CelonisDataPushOperator

    before = proc_kib("VmRSS")
    op = CelonisDataPushOperator(
        task_id="bench",
        data_pool_id=POOL,
        target_table="bench",
        source=path,
        chunk_size=chunk_size,
        wait_for_completion=False,
    )
    start = time.perf_counter()
    result = op.execute({"ti": _TI()})  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_before_kib": before, "peak_kib": proc_kib("VmHWM"), "result": result}


def child_plain(path: str) -> dict[str, Any]:
    """Baseline: create a job with the hook, then one plain streamed multipart upload."""
    import requests

    from airflow_provider_celonis.hooks.data_push import CelonisDataPushHook

    hook = CelonisDataPushHook()
    job = hook.create_job(POOL, target_name="bench_plain")
    token = hook._authorization(hook.get_config(), "data_push")[0]  # type: ignore[arg-type]
    size = os.path.getsize(path)
    head = (
        b'--B0UNDARY\r\nContent-Disposition: form-data; name="file"; filename="plain.csv"\r\n'
        b"Content-Type: text/csv\r\n\r\n"
    )
    tail = b"\r\n--B0UNDARY--\r\n"

    class Body:
        def __len__(self) -> int:
            return len(head) + size + len(tail)

        def __iter__(self) -> Any:
            yield head
            with open(path, "rb") as handle:
                while block := handle.read(1 << 20):
                    yield block
            yield tail

    before = proc_kib("VmRSS")
    path_part = f"/data-ingestion/api/v1/data-push/{POOL}/jobs/{job['id']}/chunks/upserted"
    url = hook.get_config().base_url + path_part
    start = time.perf_counter()
    answer = requests.post(
        url,
        data=Body(),
        headers={"Authorization": token, "Content-Type": "multipart/form-data; boundary=B0UNDARY"},
        timeout=600,
    )
    answer.raise_for_status()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rss_before_kib": before, "peak_kib": proc_kib("VmHWM")}


def run_child(kind: str, path: Path, env: dict[str, str], chunk_size: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--path", str(path), "--chunk-size", str(chunk_size)],
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"{kind} child failed: {out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--split-mb", type=int, default=250, help="extra run with this chunk_size (0: skip)")
    parser.add_argument("--child", choices=["operator", "plain"])
    parser.add_argument("--path")
    parser.add_argument("--chunk-size", type=int, default=1_000_000_000)
    args = parser.parse_args()
    if args.child:
        result = (
            child_operator(args.path, args.chunk_size) if args.child == "operator" else child_plain(args.path)
        )
        print(json.dumps(result))
        return 0

    from airflow_provider_celonis.emulator.client import start_emulator

    with tempfile.TemporaryDirectory(prefix="celonis-bench-push-") as folder, start_emulator() as emulator:
        env = {**os.environ, "AIRFLOW_CONN_CELONIS_DEFAULT": emulator.connection_json()}
        emulator.configure_data_push(max_stored_rows=0)
        print(f"emulator {emulator.base_url}; files in {folder}")
        for size_mb in args.sizes_mb:
            path = Path(folder) / f"data_{size_mb}mb.csv"
            rows = generate(path, size_mb * MB)
            size = path.stat().st_size
            print(f"\n== {size_mb} MB file: {size} bytes, {rows} rows")
            ours: list[float] = []
            plain: list[float] = []
            for round_number in range(args.rounds):
                emulator.reset()
                emulator.configure_data_push(max_stored_rows=0)
                if round_number % 2:  # alternate who goes first: the emulator's disk cache warms up
                    base = run_child("plain", path, env, 0)
                    op = run_child("operator", path, env, 1_000_000_000)
                else:
                    op = run_child("operator", path, env, 1_000_000_000)
                    base = run_child("plain", path, env, 0)
                assert op["result"]["rows"] == rows and op["result"]["bytes"] == size, op["result"]
                ours.append(size / op["seconds"] / MB)
                plain.append(size / base["seconds"] / MB)
                print(
                    f"operator {ours[-1]:7.1f} MB/s  peak RSS {op['peak_kib'] / 1024:6.1f} MiB "
                    f"(+{(op['peak_kib'] - op['rss_before_kib']) / 1024:5.1f} after imports) | "
                    f"plain {plain[-1]:7.1f} MB/s  peak RSS {base['peak_kib'] / 1024:6.1f} MiB "
                    f"(+{(base['peak_kib'] - base['rss_before_kib']) / 1024:5.1f})"
                )
            ratio = statistics.median(ours) / statistics.median(plain)
            print(
                f"median: operator {statistics.median(ours):.1f} MB/s, "
                f"plain {statistics.median(plain):.1f} MB/s, ratio {ratio:.2f}"
            )
            if args.split_mb and size > args.split_mb * MB:
                emulator.reset()
                split = run_child("operator", path, env, args.split_mb * MB)
                res = split["result"]
                print(
                    f"split into {res['chunks']} chunks of <= {args.split_mb} MB: "
                    f"{size / split['seconds'] / MB:.1f} MB/s, peak RSS {split['peak_kib'] / 1024:.1f} MiB "
                    f"(+{(split['peak_kib'] - split['rss_before_kib']) / 1024:.1f}), rows {res['rows']}"
                )
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
