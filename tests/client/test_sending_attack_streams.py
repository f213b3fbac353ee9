"""Review attack on retries of streamed bodies: an iterator or open file is consumed by the
first attempt, so a 429 wait or a 401 re-grant re-sent the request with an empty body (which
Celonis may store as an empty chunk and answer 200). Such a request must not be re-sent: the
caller passes ``data_factory`` for bodies that can be retried. Real sockets, a server of the
test's own answering 429 or 401 first.
"""

from __future__ import annotations

import json

import pytest
from hostile_servers import Received, recorder

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook


def _server(first_status: int):
    calls: list[int] = []

    def answer(request: Received):
        if request.path.startswith("/oauth2/token"):
            body = json.dumps({"access_token": f"tok-{len(calls)}-0123456789", "expires_in": 900})
            return 200, {"content-type": "application/json"}, body.encode()
        calls.append(1)
        if len(calls) == 1:
            return first_status, {"retry-after": "0", "content-type": "application/json"}, b"{}"
        return 200, {"content-type": "application/json"}, b"{}"

    return answer


@pytest.mark.parametrize("first_status", [429, 401])
@pytest.mark.parametrize("kind", ["generator", "file"])
def test_a_consumed_stream_is_not_resent_empty(monkeypatch, tmp_path, first_status, kind) -> None:
    source = tmp_path / "chunk.bin"
    source.write_bytes(b"x" * 1000)
    with recorder(_server(first_status)) as team, source.open("rb") as handle:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {"conn_type": "celonis", "host": team.url, "login": "client", "password": "pw-0123456789"}
            ),
        )
        body = handle if kind == "file" else iter([b"chunk-1;", b"chunk-2;"])
        hook = CelonisOAuthHook(min_wait=0.01, max_wait=0.01)
        with pytest.raises(CelonisConfigurationError, match="data_factory"):
            hook.request("POST", "/api/upload", api=TEAM, data=body)
        assert [r.path for r in team.received if r.path.startswith("/api")] == ["/api/upload"]


@pytest.mark.parametrize("first_status", [429, 401])
def test_a_data_factory_is_resent_whole(monkeypatch, first_status) -> None:
    with recorder(_server(first_status)) as team:
        monkeypatch.setenv(
            "AIRFLOW_CONN_CELONIS_DEFAULT",
            json.dumps(
                {"conn_type": "celonis", "host": team.url, "login": "client", "password": "pw-0123456789"}
            ),
        )
        hook = CelonisOAuthHook(min_wait=0.01, max_wait=0.01)
        hook.request("POST", "/api/upload", api=TEAM, data_factory=lambda: b"whole-body")
        assert [r.body for r in team.received if r.path.startswith("/api")] == [b"whole-body", b"whole-body"]
