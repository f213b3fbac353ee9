"""A real, distributed Airflow 3 deployment in a throwaway directory, the topology of
docker-compose.yaml: PostgreSQL (metadata database and Celery result backend), Redis (Celery
broker), the api-server, scheduler, dag-processor, triggerer and two Celery workers, plus the
Celonis emulator and an S3 API (moto). Every server listens on a loopback port.

The workers share AIRFLOW_HOME (logs) with the api-server, as the compose file's shared log
volume does, so they run with --skip-serve-logs and nothing listens on a public interface.
Everything is stopped on exit, failure included; process logs stay in the artifacts folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests
from services import Moto, Postgres, Redis, free_port

from airflow_provider_celonis.emulator.client import EmulatorProcess, start_emulator

WORKERS = ("worker-1", "worker-2")
PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer", *WORKERS)
TERMINAL = {"success", "failed"}
E2E_DAGS = Path(__file__).resolve().parent / "dags"
# docker-compose.yaml's Airflow services and the `airflow` command each runs; the stack runs the
# same commands (worker-1 and worker-2 are the compose worker's two replicas).
COMPOSE_COMMANDS = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
# Airflow settings of the stack that docker-compose.yaml must share (tests_e2e/test_compose.py).
SHARED_SETTINGS = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
    "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "true",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
}


class AirflowStack:
    def __init__(self, dags_folder: Path, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.home = artifacts / "airflow-home"
        self.dags = artifacts / "dags"
        self.extracts = artifacts / "extracts"
        self.examples = dags_folder
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.http = requests.Session()
        self.postgres = Postgres(artifacts)
        self.redis = Redis(artifacts)
        self.s3 = Moto(artifacts)
        self._emulator_cm: Any = None
        self.emulator: EmulatorProcess
        self.summary = ""

    # -- lifecycle -----------------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        """The Airflow settings of every process (docker-compose.yaml's are checked against these)."""
        return {
            **SHARED_SETTINGS,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
            "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.postgres.url,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "celonis-e2e-jwt-secret-0123456789abcdef",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # A SIGKILLed worker stops heartbeating its task; find that in seconds, not 5 minutes.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
        }

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            **self.settings(),
            "AIRFLOW_CONN_CELONIS_DEFAULT": self.emulator.connection_json(),
            "AIRFLOW_CONN_AWS_DEFAULT": self.s3.connection_json(),
            "CELONIS_EXTRACT_DIR": str(self.extracts),
            "CELONIS_E2E_S3_DIR": f"s3://aws_default@{self.s3.BUCKET}",
            "PYTHONUNBUFFERED": "1",
            # on_celonis_data_job_success's watcher polls every 2 s, not every minute (read at parse).
            "CELONIS_EVENT_POLL_INTERVAL": "2",
        }

    def _link_dags(self) -> None:
        """The example DAGs plus the e2e's own (kill tests with short retry delays), in one folder."""
        self.dags.mkdir(parents=True, exist_ok=True)
        for source in [*self.examples.glob("*.py"), *E2E_DAGS.glob("*.py")]:
            (self.dags / source.name).symlink_to(source)

    def start(self) -> None:
        started = time.monotonic()
        for folder in (self.artifacts, self.home, self.extracts):
            folder.mkdir(parents=True, exist_ok=True)
        self._link_dags()
        self.postgres.start()
        self.redis.start()
        self.s3.start()
        self._emulator_cm = start_emulator()
        self.emulator = self._emulator_cm.__enter__()
        env = self.env()
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            check=True,
            stdout=open(self.artifacts / "db-migrate.log", "wb"),  # noqa: SIM115 - closed with the child
            stderr=subprocess.STDOUT,
            timeout=600,
        )
        for name in PROCESSES:
            self.processes[name] = self._spawn(name, env)
        self.wait(lambda: self.http.get(f"{self.base_url}/api/v2/version", timeout=5).ok, 180, "api-server")
        self.wait(lambda: len(self.celery_workers()) == len(WORKERS), 180, "both Celery workers")
        self.summary = (
            f"e2e stack: {env['AIRFLOW__CORE__EXECUTOR']}, PostgreSQL {self.postgres.version}, "
            f"Redis {self.redis.version}, {len(self.celery_workers())} workers, "
            f"{sum(n == 'triggerer' for n in self.processes)} triggerers"
        )
        print(f"\n{self.summary} (up in {time.monotonic() - started:.0f} s)", flush=True)

    def _spawn(self, name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        if name in WORKERS:
            command = ["celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs"]
            command += ["--without-gossip", "--without-mingle"]
        elif name == "triggerer":
            command = ["triggerer", "--skip-serve-logs"]
        else:
            command = [name]
        log = open(self.artifacts / f"{name}.log", "ab")  # noqa: SIM115 - closed by the child's exit
        return subprocess.Popen(
            [sys.executable, "-m", "airflow", *command],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group: SIGKILL reaches the worker's task processes
        )

    def kill_worker(self, name: str) -> None:
        """SIGKILL a Celery worker and every task process it forked (its process group)."""
        proc = self.processes[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def restart_worker(self, name: str) -> None:
        self.processes[name] = self._spawn(name, self.env())
        self.wait(lambda: len(self.celery_workers()) == len(WORKERS), 120, f"{name} to rejoin")

    def celery_workers(self) -> list[str]:
        from celery import Celery

        app = Celery(broker=self.redis.url)
        try:
            replies = app.control.ping(timeout=2)
        finally:
            app.close()
        return sorted(name for reply in replies for name in reply)

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._emulator_cm is not None:
            with contextlib.suppress(Exception):
                self._emulator_cm.__exit__(None, None, None)
        for server in (self.s3, self.redis, self.postgres):
            with contextlib.suppress(Exception):
                server.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dags)

    def wait(self, check: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None and proc.returncode != -signal.SIGKILL:
                    raise RuntimeError(f"airflow {name} exited with {proc.returncode}; see {self.artifacts}")
            try:
                if check():
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise TimeoutError(f"timed out waiting for {what}; logs in {self.artifacts}")

    # -- REST API ------------------------------------------------------------------------
    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.base_url}/api/v2{path}", timeout=30, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 180) -> None:
        def parsed() -> bool:
            return dag_ids <= {d["dag_id"] for d in self.api("GET", "/dags", params={"limit": 100})["dags"]}

        self.wait(parsed, timeout, f"the dag-processor to parse {sorted(dag_ids)}")

    def trigger(
        self, dag_id: str, *, logical_date: str | None = None, conf: dict[str, Any] | None = None
    ) -> str:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        run_id = f"e2e__{dag_id}__{logical_date or 'now'}__{time.time_ns()}"
        body: dict[str, Any] = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf or {}}
        return str(self.api("POST", f"/dags/{dag_id}/dagRuns", json=body)["dag_run_id"])

    def run_path(self, dag_id: str, run_id: str) -> str:
        return f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        state: dict[str, str] = {}

        def finished() -> bool:
            state["value"] = self.api("GET", self.run_path(dag_id, run_id))["state"]
            return state["value"] in TERMINAL

        self.wait(finished, timeout, f"{dag_id} {run_id}")
        return state["value"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return list(self.api("GET", self.run_path(dag_id, run_id) + "/taskInstances")["task_instances"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def wait_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float = 120
    ) -> None:
        self.wait(
            lambda: self.task_states(dag_id, run_id).get(task_id) in states, timeout, f"{task_id} {states}"
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/logs/{try_number}"
        content = self.api("GET", path, headers={"Accept": "application/json"})["content"]
        return "\n".join(
            json.dumps(e)
            if not isinstance(e, dict)
            else str(e.get("event")) + (f" {e['error_detail']}" if e.get("error_detail") else "")
            for e in content
        )

    def raw_task_logs(self) -> dict[Path, str]:
        """Every task log file the workers and the triggerer wrote (the unfiltered JSON lines)."""
        return {p: p.read_text(errors="replace") for p in (self.home / "logs").rglob("*.log") if p.is_file()}

    def triggerer_ran(self, run_id: str, task_id: str) -> bool:
        """The triggerer process logged that this task's trigger fired. (Its line in the task's
        own log is sometimes lost: Airflow closes the per-trigger log before the last lines.)"""
        lines = (self.artifacts / "triggerer.log").read_text(errors="replace").splitlines()
        return any(
            "Trigger fired event" in ln and f"run_id={run_id} task_id={task_id} " in ln for ln in lines
        )

    def worker_of(self, dag_id: str, run_id: str, task_id: str, try_number: int | None = None) -> set[str]:
        """The Celery workers whose log shows them executing this task of this run (this try)."""
        wanted = [f"run_id='{run_id}'", f"task_id='{task_id}'", f"dag_id='{dag_id}'", "Executing workload"]
        if try_number is not None:
            wanted.append(f"try_number={try_number},")
        return {
            name
            for name in WORKERS
            for line in (self.artifacts / f"{name}.log").read_text(errors="replace").splitlines()
            if all(w in line for w in wanted)
        }

    def tail(self, lines: int = 40) -> str:
        out = []
        for name in PROCESSES:
            path = self.artifacts / f"{name}.log"
            if path.exists():
                out.append(
                    f"--- {name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                )
        return "\n".join(out)
