"""A 200 page the provider does not understand fails typed, and no file is written for it.

Each usage API (and Team Members) is pulled by its operator against the emulator while a
page-shape fault is switched on (``emulator/faults/core.py``): the server ignores the page number
or cursor (every page, or only the second one: a repeated page), answers HTML, cuts the JSON
short, drops or renames the list field. The old behaviour each case guards against: endless
loops, an early stop with the first page only, an empty file that succeeded, a bare
``JSONDecodeError``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from usage_support import context

from airflow_provider_celonis.emulator.client import EmulatorProcess
from airflow_provider_celonis.exceptions import CelonisUnexpectedResponseError, response_excerpt
from airflow_provider_celonis.hooks.usage import CelonisUsageHook
from airflow_provider_celonis.operators.usage import (
    CelonisAuditLogOperator,
    CelonisLoginHistoryOperator,
    CelonisStudioAdoptionOperator,
    CelonisTeamMembersOperator,
)

APIS = [
    pytest.param(CelonisAuditLogOperator, {}, "/log/api/external/audit", "Audit Log API", id="audit-v1"),
    pytest.param(
        CelonisAuditLogOperator,
        {"api_version": 2},
        "/log/api/external/v2/audit",
        "Audit Log API",
        id="audit-v2",
    ),
    pytest.param(
        CelonisLoginHistoryOperator, {}, "/api/external/authentication-events", "Login History", id="login"
    ),
    pytest.param(
        CelonisStudioAdoptionOperator, {}, "/adoption-tracking-events/", "Adoption API", id="adoption-v1"
    ),
    pytest.param(
        CelonisStudioAdoptionOperator,
        {"api_version": 2},
        "/v2/adoption-tracking-events/",
        "Adoption API",
        id="adoption-v2",
    ),
    pytest.param(CelonisTeamMembersOperator, {}, "/api/external/members", "Team Members", id="members"),
]
FAULTS = [
    pytest.param({"kind": "ignore_paging", "times": -1}, "page", id="ignores-paging"),
    pytest.param({"kind": "ignore_paging", "skip": 1}, "page", id="repeats-second-page"),
    pytest.param({"kind": "html", "skip": 1}, "not JSON", id="html"),
    pytest.param({"kind": "truncate"}, "not JSON", id="truncated"),
    pytest.param({"kind": "no_list"}, "no 'content' list", id="no-list"),
    pytest.param({"kind": "rename_list", "skip": 1}, "no 'content' list", id="renamed-list"),
]


@pytest.mark.parametrize(("operator", "kwargs", "path", "title"), APIS)
@pytest.mark.parametrize(("fault", "problem"), FAULTS)
def test_page_shape_fails_typed_and_writes_nothing(
    emulator: EmulatorProcess,
    tmp_path: Path,
    operator: type,
    kwargs: dict[str, Any],
    path: str,
    title: str,
    fault: dict[str, Any],
    problem: str,
) -> None:
    emulator.add_faults([{"path": path, "method": "GET", **fault}])
    out = tmp_path / "out.jsonl"
    # Small pages so every API has at least three (members: 57, login: 360 in six hours).
    op = operator(
        task_id="pull", output_path=str(out), page_size=20, read_ahead=0, max_concurrency=1, **kwargs
    )
    with pytest.raises(CelonisUnexpectedResponseError) as caught:
        op.execute(context())
    error = caught.value
    text = str(error)
    assert problem in text
    assert title in text
    assert error.status == 200
    assert "Nothing was written" in text
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    if fault["kind"] == "html":
        assert error.content_type is not None and error.content_type.startswith("text/html")
        assert "<!DOCTYPE html>" in error.excerpt
    # Bounded: the pull gave up within a few pages, it did not loop.
    assert sum(n for k, n in emulator.stats()["requests"].items() if path in k) <= 3


@pytest.mark.parametrize("read_ahead", [0, 3])
def test_ignored_page_number_is_an_error_with_read_ahead_too(
    emulator: EmulatorProcess, read_ahead: int
) -> None:
    """A correct totalCount used to stop the loop early and write page 0 only; now it fails."""
    emulator.add_faults([{"path": "/log/api/external/audit", "kind": "ignore_paging", "times": -1}])
    hook = CelonisUsageHook()
    with pytest.raises(CelonisUnexpectedResponseError, match="ignores pageNumber"):
        list(hook.iter_audit_log(*WINDOW, page_size=50, read_ahead=read_ahead))


@pytest.mark.parametrize("read_ahead", [0, 3])
def test_cursor_that_does_not_advance_is_an_error_with_read_ahead_too(
    emulator: EmulatorProcess, read_ahead: int
) -> None:
    emulator.add_faults([{"path": "/log/api/external/v2/audit", "kind": "ignore_paging", "times": -1}])
    hook = CelonisUsageHook()
    with pytest.raises(CelonisUnexpectedResponseError, match="repeats the previous page"):
        list(hook.iter_audit_log(*WINDOW, api_version=2, page_size=50, read_ahead=read_ahead))
    assert emulator.requests_to("GET", "/log/api/external/v2/audit") == 2


WINDOW = ("2025-01-01T00:00:00Z", "2025-01-01T06:00:00Z")


class _Server(ThreadingHTTPServer):
    pages: list[bytes]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        body = self.server.pages[min(len(self.server.pages) - 1, _page(self.path))]
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _page(path: str) -> int:
    for part in path.split("?", 1)[-1].split("&"):
        if part.startswith("pageNumber="):
            return int(part.split("=", 1)[1])
    return 0


@pytest.fixture
def own_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Server]:
    """A server of the test's own: answers ``pages[pageNumber]`` (the last one past the end), with
    a token endpoint, so shapes the emulator does not produce can be played."""

    class Handler(_Handler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            body = json.dumps({"access_token": "t", "token_type": "Bearer", "expires_in": 600}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = _Server(("127.0.0.1", 0), Handler)
    server.pages = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = {
        "conn_type": "celonis",
        "host": f"http://127.0.0.1:{server.server_address[1]}",
        "login": "c",
        "password": "s",
    }
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_OWN", json.dumps(conn))
    yield server
    server.shutdown()
    server.server_close()


def test_same_records_without_a_page_number_field_is_an_error(own_server: _Server, tmp_path: Path) -> None:
    """No ``pageNumber`` echoed, records shuffled: still the same page, still an error."""
    records = [{"timestamp": f"2025-01-01T00:00:0{i}.000Z", "event": "E", "userId": str(i)} for i in range(3)]
    own_server.pages = [
        json.dumps({"content": records}).encode(),
        json.dumps({"content": records[::-1]}).encode(),
    ]
    out = tmp_path / "a.jsonl"
    op = CelonisAuditLogOperator(
        task_id="pull", output_path=str(out), celonis_conn_id="celonis_own", start=WINDOW[0], end=WINDOW[1]
    )
    with pytest.raises(CelonisUnexpectedResponseError, match="repeats the previous page"):
        op.execute(context())
    assert not out.exists()


def test_a_content_that_is_not_a_list_and_an_empty_200_are_errors(own_server: _Server) -> None:
    hook = CelonisUsageHook("celonis_own")
    own_server.pages = [b'{"content": {"timestamp": "x"}}']
    with pytest.raises(CelonisUnexpectedResponseError, match="'content' is a dict, not a list"):
        list(hook.iter_audit_log(*WINDOW))
    own_server.pages = [b"  "]
    with pytest.raises(CelonisUnexpectedResponseError, match="empty body"):
        list(hook.iter_login_history(*WINDOW))
    own_server.pages = [b"[1, 2]"]
    with pytest.raises(CelonisUnexpectedResponseError, match="JSON list, not an object"):
        list(hook.iter_team_members())


def test_excerpt_scrubs_credentials() -> None:
    raw = b'{"access_token": "eyJhbGciOi.secret", "client_secret":"s3cr3t"} Authorization: Bearer abc.def'
    text = response_excerpt(raw)
    assert "eyJhbGciOi" not in text and "s3cr3t" not in text and "abc.def" not in text
    assert text.count("***") == 3
    assert response_excerpt(b"x" * 500).endswith("...")


def test_adoption_with_misnamed_page_parameter_fails_naming_param_names(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """The adoption API's parameter names are a guess: if the server calls it ``page``, our
    ``pageNumber`` is ignored, and that must be an error pointing at ``param_names``."""
    names = {"pageNumber": "page", "pageSize": "pageSize", "from": "from", "to": "to"}
    emulator.configure_usage(adoption_params=names)
    out = tmp_path / "a.jsonl"
    op = CelonisStudioAdoptionOperator(task_id="a", output_path=str(out), page_size=50)
    with pytest.raises(CelonisUnexpectedResponseError, match="param_names"):
        op.execute(context())
    assert not out.exists()
    fixed = CelonisStudioAdoptionOperator(
        task_id="a", output_path=str(out), page_size=50, param_names={"pageNumber": "page"}
    )
    assert fixed.execute(context())["records"] == 540
