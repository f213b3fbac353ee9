"""A real Airflow 3 deployment in a throwaway AIRFLOW_HOME: api-server, scheduler,
dag-processor and triggerer as separate processes, plus the Celonis emulator.

LocalExecutor on SQLite keeps it to one machine, but the moving parts are the ones a
cluster has: the scheduler queues tasks, workers run them through the Execution API,
and deferred waits run in the triggerer process. Everything is stopped on exit, failure
included; process logs stay in the artifacts folder for diagnosis.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import requests

from airflow_provider_celonis.emulator.client import EmulatorProcess, start_emulator

PROCESSES = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AirflowStack:
    def __init__(self, dags_folder: Path, artifacts: Path) -> None:
        self.dags_folder = dags_folder
        self.artifacts = artifacts
        self.home = artifacts / "airflow-home"
        self.extracts = artifacts / "extracts"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.http = requests.Session()
        self._emulator_cm: Any = None
        self.emulator: EmulatorProcess

    # -- lifecycle -----------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "celonis-e2e-jwt-secret-0123456789abcdef",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW_CONN_CELONIS_DEFAULT": self.emulator.connection_json(),
            "CELONIS_EXTRACT_DIR": str(self.extracts),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.home.mkdir(parents=True, exist_ok=True)
        self.extracts.mkdir(parents=True, exist_ok=True)
        self._emulator_cm = start_emulator()
        self.emulator = self._emulator_cm.__enter__()
        env = self.env()
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=600,
        )
        for name in PROCESSES:
            log = open(self.artifacts / f"{name}.log", "wb")  # noqa: SIM115 - closed by the child's exit
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", name],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait(lambda: self.http.get(f"{self.base_url}/api/v2/version", timeout=5).ok, 180, "api-server")

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._emulator_cm is not None:
            self._emulator_cm.__exit__(None, None, None)

    def _wait(self, check: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited with {proc.returncode}; see {self.artifacts}")
            try:
                if check():
                    return
            except requests.RequestException:
                pass
            time.sleep(1)
        raise TimeoutError(f"timed out waiting for {what}; logs in {self.artifacts}")

    # -- REST API ------------------------------------------------------------------------
    def api(self, method: str, path: str, *, retry: bool | None = None, **kwargs: Any) -> Any:
        """One REST call. SQLite serializes writers, so with a scheduler, a triggerer and
        tasks writing at once the api-server sometimes answers 500 "database is locked";
        idempotent calls (and those the caller marks ``retry``) are tried again."""
        retry = method in ("GET", "PATCH", "DELETE") if retry is None else retry
        for attempt in range(5):
            response = self.http.request(method, f"{self.base_url}/api/v2{path}", timeout=30, **kwargs)
            if response.status_code < 500 or not retry or attempt == 4:
                break
            time.sleep(1 + attempt)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def wait_for_dags(self, dag_ids: set[str], timeout: float = 180) -> None:
        def parsed() -> bool:
            return dag_ids <= {d["dag_id"] for d in self.api("GET", "/dags", params={"limit": 100})["dags"]}

        self._wait(parsed, timeout, f"the dag-processor to parse {sorted(dag_ids)}")

    def trigger(
        self, dag_id: str, *, logical_date: str | None = None, conf: dict[str, Any] | None = None
    ) -> str:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        # A run id of our own makes the POST safe to repeat after a "database is locked" 500:
        # a run that was created anyway answers 409 the second time, and is then used.
        run_id = f"e2e__{dag_id}__{logical_date or 'now'}__{time.time_ns()}"
        body: dict[str, Any] = {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf or {}}
        for attempt in range(5):
            try:
                return str(self.api("POST", f"/dags/{dag_id}/dagRuns", json=body, retry=False)["dag_run_id"])
            except RuntimeError as err:
                if ": 409 " in str(err):
                    return run_id
                if ": 5" not in str(err) or attempt == 4:
                    raise
                time.sleep(1 + attempt)
        raise AssertionError("unreachable")

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}"
        state: dict[str, str] = {}

        def finished() -> bool:
            state["value"] = self.api("GET", path)["state"]
            return state["value"] in TERMINAL

        self._wait(finished, timeout, f"{dag_id} {run_id}")
        return state["value"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"
        return list(self.api("GET", path)["task_instances"])

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = (
            f"/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}"
            f"/logs/{try_number}"
        )
        content = self.api("GET", path, headers={"Accept": "application/json"})["content"]
        return "\n".join(
            json.dumps(e)
            if not isinstance(e, dict)
            else str(e.get("event")) + (f" {e['error_detail']}" if e.get("error_detail") else "")
            for e in content
        )

    def tail(self, lines: int = 40) -> str:
        out = []
        for name in PROCESSES:
            path = self.artifacts / f"{name}.log"
            if path.exists():
                out.append(
                    f"--- {name} ---\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
                )
        return "\n".join(out)
