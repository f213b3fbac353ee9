"""Start the emulator as a child process and steer it through its ``/_emulator`` control API.

Used by the test suite, ``make demo`` and the benchmarks; DAG developers can use it too::

    with start_emulator() as emulator:
        emulator.add_faults([{"path": "/api/external/members", "kind": "rate_limit", "times": 2}])
        ...  # run hooks against emulator.base_url
        print(emulator.stats()["token_requests"])
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import requests

DEMO_CLIENT = ("demo-client", "demo-secret")
BASIC_CLIENT = ("basic-client", "basic-secret")


class EmulatorClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = requests.Session()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, f"{self.base_url}/_emulator{path}", json=body, timeout=30)
        if response.status_code >= 400:
            raise RuntimeError(f"emulator control {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def health(self) -> bool:
        try:
            return bool(self._call("GET", "/health")["status"] == "ok")
        except (requests.RequestException, RuntimeError):
            return False

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/stats")
        return result

    def recent_requests(self) -> list[dict[str, Any]]:
        """The emulator's request log: method, path, status, time, injected ``fault`` (if any) and
        ``route``, the template of the route that answered (``/api/pools/{pool_id}/jobs/{job_id}``;
        absent when no route matched), so a test can tell which endpoint an id reached."""
        result: list[dict[str, Any]] = self._call("GET", "/requests")
        return result

    def requests_to(self, method: str, path: str) -> int:
        """How many requests reached ``method path`` (faulted ones included)."""
        return int(self.stats()["requests"].get(f"{method.upper()} {path}", 0))

    def add_faults(self, rules: list[dict[str, Any]]) -> None:
        self._call("POST", "/faults", rules)

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    def add_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        auth_method: str = "client_secret_post",
        scopes: list[str] | None = None,
        permissions: list[str] | None = None,
    ) -> None:
        spec: dict[str, Any] = {
            "client_id": client_id,
            "client_secret": client_secret,
            "auth_method": auth_method,
        }
        if scopes is not None:
            spec["scopes"] = scopes
        if permissions is not None:
            spec["permissions"] = permissions
        self._call("POST", "/clients", spec)

    def configure(self, **settings: Any) -> None:
        """Change settings: token_lifetime, scope_denied_status, disabled_apis, legacy_keys, ..."""
        self._call("POST", "/settings", settings)

    def configure_usage(self, **settings: Any) -> dict[str, Any]:
        """Change the usage APIs' switches (``UsageSettings`` in ``emulator/apis/usage.py``)."""
        result: dict[str, Any] = self._call("POST", "/usage/settings", settings)
        return result

    def usage_count(self, stream: str, start: str, end: str, *, visible: bool = False) -> int:
        """Events of ``stream`` (audit, login, adoption) the emulator holds in ``[start, end)``
        (``visible=True``: only those a request can see now, see ``visibility_delay``)."""
        response = self._http.get(
            f"{self.base_url}/_emulator/usage/count",
            timeout=30,
            params={"stream": stream, "start": start, "end": end, "visible": str(visible).lower()},
        )
        response.raise_for_status()
        return int(response.json()["count"])

    def usage_stats(self, *, reset: bool = False) -> dict[str, int]:
        """Usage pages served, 429s answered by the usage rate limit (``configure_usage(
        rate_limit_per_second=10)``) and the most usage requests in flight at once (``latency``
        makes them overlap); ``reset=True`` zeroes them and the rate-limit windows."""
        if reset:
            return dict(self._call("POST", "/usage/stats/reset", {}))
        response = self._http.get(f"{self.base_url}/_emulator/usage/stats", timeout=30)
        response.raise_for_status()
        return {k: int(v) for k, v in response.json().items()}

    def issued_tokens(self) -> list[str]:
        """Every access token the emulator issued (to prove that no log shows one)."""
        return [str(t) for t in self._call("GET", "/tokens")]

    def expire_tokens(self) -> int:
        return int(self._call("POST", "/tokens/expire")["expired"])

    def advance_clock(self, seconds: float) -> None:
        self._call("POST", "/clock/advance", {"seconds": seconds})

    def connection_json(self, client: tuple[str, str] = DEMO_CLIENT, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_...`` value (JSON form) pointing at this emulator."""
        if client == BASIC_CLIENT and "auth_method" not in extra:
            extra["auth_method"] = "client_secret_basic"
        return json.dumps(
            {
                "conn_type": "celonis",
                "host": self.base_url,
                "login": client[0],
                "password": client[1],
                "extra": extra,
            }
        )

    # -- data pools: data jobs and data models (emulator/apis/data_jobs.py, data_models.py) --
    def configure_data_job(self, pool_id: str, job_id: str, **config: Any) -> dict[str, Any]:
        """Create or change a data job (and its pool): ``queued_seconds``, ``running_seconds``,
        ``outcome`` (SUCCESS, FAIL, CANCEL, SKIPPED or any string), ``error_lines``,
        ``stale_seconds``, ``cancel_seconds``, ``second_execute`` ("refuse" or "queue"),
        ``refuse_status``, ``history_order`` ("newest_first" or "oldest_first"), ``name``,
        ``pool_name``, ``tasks`` (``[{"name", "taskType"[, "id", "disabled"]}]``; the answer's
        ``task_ids`` gives their ids in order)."""
        result: dict[str, Any] = self._call("POST", f"/data-pools/{pool_id}/data-jobs/{job_id}", config)
        return result

    def seed_execution(self, pool_id: str, job_id: str, status: str = "SUCCESS", **spec: Any) -> str:
        """Add an execution not started through the API (a finished previous run, or a RUNNING
        one as if a Celonis schedule started it); returns its execution id. ``source="API"``
        makes it another client's run (no ``schedulingId``); ``never_started=True`` with a
        terminal status is a run cancelled while QUEUED (no ``startDate``)."""
        path = f"/data-pools/{pool_id}/data-jobs/{job_id}/executions"
        result = self._call("POST", path, {"status": status, **spec})
        return str(result["executionId"])

    def data_job_report(self, pool_id: str, job_id: str) -> dict[str, Any]:
        """``{"config", "executions", "refused", "cancels", "runs"}``: ``executions`` counts runs
        started through the execute endpoints, so a test can prove a run never started twice."""
        result: dict[str, Any] = self._call("GET", f"/data-pools/{pool_id}/data-jobs/{job_id}")
        return result

    def configure_data_model(self, pool_id: str, model_id: str, **config: Any) -> dict[str, Any]:
        """Create or change a data model: ``tables``, ``load_seconds``, ``outcome`` (SUCCESS,
        WARNING, ERROR, CANCELED or any string), ``message``, ``transient``, ``stale_seconds``,
        ``name``, ``table_aliases`` (table name -> alias)."""
        result: dict[str, Any] = self._call("POST", f"/data-pools/{pool_id}/data-models/{model_id}", config)
        return result

    def data_model_report(self, pool_id: str, model_id: str) -> dict[str, Any]:
        """``{"config", "load_requests", "loads", "table_ids"}`` of a data model."""
        result: dict[str, Any] = self._call("GET", f"/data-pools/{pool_id}/data-models/{model_id}")
        return result

    def configure_data_pool(self, pool_id: str, name: str | None = None) -> dict[str, Any]:
        """Create a data pool, or rename it (names need not be unique: that is how a test makes
        a name ambiguous). Jobs and models get their names from ``configure_data_job(name=...)``
        and ``configure_data_model(name=...)``, tasks from ``configure_data_job(tasks=[{"name",
        "taskType"}])``, table aliases from ``configure_data_model(table_aliases={...})``."""
        result: dict[str, Any] = self._call("POST", f"/data-pools/{pool_id}", {"name": name} if name else {})
        return result

    def configure_pool_listing(self, **switches: Any) -> dict[str, Any]:
        """Listing switches (``emulator/apis/data_pools.py``): ``serve_unpaged=False`` makes
        ``GET /integration/api/pools`` a 404, so only the paged list answers; ``while_paging=
        {"after_page": n, "remove": id}`` (or ``"insert": [id, name]``) changes the list once,
        mid-paging."""
        result: dict[str, Any] = self._call("POST", "/data-pools", switches)
        return result

    # -- Data Push (emulator/apis/data_push.py) ------------------------------------------------
    def configure_data_push(self, **settings: Any) -> dict[str, Any]:
        """Change the push switches (``PushSettings`` in ``emulator/stores/data_push.py``):
        ``queued_seconds``, ``running_seconds``, ``new_seconds``, ``chunk_limit``, ``over_limit_status``,
        ``non_new_execute_status``, ``execute_per_second``, ``execute_per_hour``,
        ``delete_running`` ("cancel" or "abandon"), ``force_outcome``, ``replace_checks_schema``,
        ``max_stored_rows``, ``create_error_status``."""
        result: dict[str, Any] = self._call("POST", "/data-push/settings", settings)
        return result

    def push_table(self, pool_id: str, table: str, connection_id: str = "") -> dict[str, Any]:
        """``{"columns", "keys", "row_count", "rows"}`` of a table the push API wrote."""
        path = f"/data-push/tables/{pool_id}/{table}"
        response = self._http.get(
            f"{self.base_url}/_emulator{path}", params={"connection_id": connection_id}, timeout=30
        )
        if response.status_code >= 400:
            raise RuntimeError(f"emulator control GET {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result

    def push_report(self) -> dict[str, Any]:
        """``{"execute_requests", "executions", "rate_limited", "refused", "jobs": {id: {...}}}``:
        ``executions`` counts accepted execute calls, so a test can prove none was duplicated."""
        result: dict[str, Any] = self._call("GET", "/data-push/report")
        return result

    # -- SCIM (emulator/apis/scim.py) -------------------------------------------------------
    def configure_scim(self, **settings: Any) -> dict[str, Any]:
        """Change the SCIM switches: ``max_results`` (page cap), ``serve_prefixes`` (which of
        ``/api/user-provisioning`` and ``/user-provisioning`` answer), ``patch_supported``."""
        result: dict[str, Any] = self._call("POST", "/scim/settings", settings)
        return result

    def scim_state(self) -> dict[str, Any]:
        """``{"users": [...], "groups": [...]}`` as the emulated team holds them now."""
        result: dict[str, Any] = self._call("GET", "/scim/state")
        return result

    # -- Process Intelligence (emulator/apis/knowledge_model.py, subscriptions.py, agents.py) --
    def configure_knowledge_model(self, **settings: Any) -> dict[str, Any]:
        """Knowledge Model switches: ``per_second``, ``per_day``, ``reset_format`` (datetime or
        seconds), ``cut_at``, ``cut_total`` (full or capped), ``max_fields``, ``max_page_size``,
        ``order_rows``, ``customer_rows``."""
        result: dict[str, Any] = self._call("POST", "/knowledge-model/settings", settings)
        return result

    def configure_subscriptions(self, **settings: Any) -> dict[str, Any]:
        """Event Subscription switches: ``events_page_size``, ``latest_offset``."""
        result: dict[str, Any] = self._call("POST", "/subscriptions/settings", settings)
        return result

    def subscriptions_state(self) -> dict[str, Any]:
        """``{"subscriptions": [...], "failed": {id: failed events left}}``."""
        result: dict[str, Any] = self._call("GET", "/subscriptions")
        return result

    def set_conversation_busy(self, conversation_id: str, busy: bool = True) -> None:
        """Mark a chat conversation as having a message in flight (its next message gets 409)."""
        self._call("POST", f"/chat/conversations/{conversation_id}/busy", {"busy": busy})

    def configure_tools(self, **settings: Any) -> dict[str, Any]:
        """Tools switch ``tool_body``: ``plain`` (arguments are the body) or ``wrapped``."""
        result: dict[str, Any] = self._call("POST", "/tools/settings", settings)
        return result


class EmulatorProcess(EmulatorClient):
    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        super().__init__(base_url)
        self.process = process

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def start_emulator(
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    token_lifetime: int = 899,
    settings: dict[str, Any] | None = None,
    ready_timeout: float = 30.0,
) -> Iterator[EmulatorProcess]:
    """Run ``python -m airflow_provider_celonis.emulator`` until the block ends."""
    command = [
        sys.executable,
        "-m",
        "airflow_provider_celonis.emulator",
        "--host",
        host,
        "--port",
        str(port),
        "--token-lifetime",
        str(token_lifetime),
    ]
    if settings:
        command += ["--settings", json.dumps(settings)]
    process = subprocess.Popen(  # noqa: S603 - our own module, with the running interpreter
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    emulator: EmulatorProcess | None = None
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on " not in line:
            raise RuntimeError(f"emulator did not start: {line!r}")
        emulator = EmulatorProcess(process, line.rsplit("listening on ", 1)[1].strip())
        deadline = time.monotonic() + ready_timeout
        while not emulator.health():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("emulator did not become healthy")
            time.sleep(0.05)
        yield emulator
    finally:
        if emulator is not None:
            emulator.stop()
        elif process.poll() is None:
            process.kill()
            process.wait()
