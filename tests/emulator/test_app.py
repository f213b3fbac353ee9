"""The emulator answers like Celonis: OAuth error shapes, header checks, control API."""

from __future__ import annotations

import base64

import pytest
import requests


@pytest.fixture
def token_url(emulator) -> str:
    return f"{emulator.base_url}/oauth2/token"


def test_token_parameters_in_the_query_string_are_accepted(emulator, token_url) -> None:
    basic = base64.b64encode(b"basic-client:basic-secret").decode()
    r = requests.post(
        f"{token_url}?grant_type=client_credentials&scope=audit.log:read",
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json()["scope"] == "audit.log:read" and r.json()["expires_in"] == 899


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        (
            {"scope": "audit.log:read", "client_id": "demo-client", "client_secret": "demo-secret"},
            400,
            "invalid_request",
        ),
        (
            {"grant_type": "password", "client_id": "demo-client", "client_secret": "demo-secret"},
            400,
            "unsupported_grant_type",
        ),
        ({"grant_type": "client_credentials"}, 401, "invalid_client"),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "basic-client",
                "client_secret": "basic-secret",
            },
            401,
            "invalid_client",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "demo-client",
                "client_secret": "demo-secret",
                "scope": "audit.log:read made.up:scope",
            },
            400,
            "invalid_scope",
        ),
    ],
)
def test_oauth_errors(token_url, data, status, error) -> None:
    r = requests.post(token_url, data=data, timeout=10)
    assert r.status_code == status
    assert r.json()["error"] == error


@pytest.mark.parametrize(
    ("header", "body"),
    [
        (None, '{"error":"Unauthorized"}'),
        ("Token abc", 'should start with "Bearer " or "AppKey "'),
        ("bearer not-a-token", '{"error":"Unauthorized"}'),
        ("AppKey not-a-key", '{"error":"Unauthorized"}'),
    ],
)
def test_unauthorized_shapes(emulator, header, body) -> None:
    headers = {"Authorization": header} if header else {}
    r = requests.get(f"{emulator.base_url}/api/team", headers=headers, timeout=10)
    assert r.status_code == 401
    assert body in r.text


def test_token_lifetime_and_clock(emulator, token_url) -> None:
    emulator.configure(token_lifetime=60)
    token = requests.post(
        token_url,
        data={"grant_type": "client_credentials", "client_id": "demo-client", "client_secret": "demo-secret"},
        timeout=10,
    ).json()
    assert token["expires_in"] == 60
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert requests.get(f"{emulator.base_url}/api/team", headers=auth, timeout=10).status_code == 200
    emulator.advance_clock(61)
    assert requests.get(f"{emulator.base_url}/api/team", headers=auth, timeout=10).status_code == 401


def test_control_api_rejects_unknown_fields(emulator) -> None:
    with pytest.raises(RuntimeError, match="unknown fault fields"):
        emulator.add_faults([{"paht": "/x"}])
    with pytest.raises(RuntimeError, match="unknown settings"):
        emulator.configure(token_lifetme=5)


def test_counters_and_reset(emulator) -> None:
    requests.get(f"{emulator.base_url}/api/team", timeout=10)
    assert emulator.requests_to("GET", "/api/team") == 1
    emulator.add_faults([{"path": "/api/team", "times": -1}])
    assert emulator.stats()["faults_pending"] == 1
    emulator.reset()
    stats = emulator.stats()
    assert stats["requests"] == {} and stats["faults_pending"] == 0


def test_members_paging(emulator) -> None:
    token = requests.post(
        f"{emulator.base_url}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "demo-client",
            "client_secret": "demo-secret",
            "scope": "team.user-group-info:read",
        },
        timeout=10,
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    url = f"{emulator.base_url}/api/external/members"
    seen = []
    page = 0
    while True:
        r = requests.get(
            url,
            params={"includeInternal": "false", "pageSize": 20, "pageNumber": page},
            headers=auth,
            timeout=10,
        )
        if r.status_code == 204:
            break
        seen += [m["userId"] for m in r.json()["content"]]
        page += 1
    assert len(seen) == len(set(seen)) == 52  # 57 members, of whom 5 are internal
    assert all("@celonis.com" not in m for m in seen)
    assert (
        requests.get(
            url, params={"includeInternal": "true", "pageSize": 201}, headers=auth, timeout=10
        ).status_code
        == 400
    )


def test_request_log_has_statuses_and_faults_but_no_secrets(emulator) -> None:
    emulator.add_faults([{"path": "/api/team", "status": 503, "times": 1}])
    requests.get(f"{emulator.base_url}/api/team", timeout=10)
    requests.get(f"{emulator.base_url}/api/team", headers={"Authorization": "Bearer top-secret"}, timeout=10)
    log = emulator.recent_requests()
    assert [(e["path"], e["status"], e.get("fault")) for e in log] == [
        ("/api/team", 503, "status"),
        ("/api/team", 401, None),
    ]
    assert "top-secret" not in str(log)


def test_unknown_command_line_settings_are_refused() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_provider_celonis.emulator",
            "--port",
            "0",
            "--settings",
            '{"token_lifetme": 5}',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown settings ['token_lifetme']" in result.stderr
