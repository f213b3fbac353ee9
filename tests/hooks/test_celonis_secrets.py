"""Client secrets, access tokens and API keys never reach logs, exceptions or reprs."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_celonis.auth.token_cache import TOKEN_CACHE
from airflow_provider_celonis.client.apis import TEAM_MEMBERS
from airflow_provider_celonis.exceptions import CelonisError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

SECRET = "very-secret-value-123"
MEMBERS = "/api/external/members"


def test_secrets_absent_from_logs_and_errors(emulator, monkeypatch, capsys, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    emulator.add_client("leaky", SECRET)
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(("leaky", SECRET)))
    hook = CelonisOAuthHook(min_wait=0.01, max_wait=0.02, max_attempts=3)
    emulator.add_faults(
        [
            {"path": MEMBERS, "kind": "rate_limit", "times": 1, "reset": 0},
            {"path": MEMBERS, "status": 503, "times": 1},
        ]
    )
    hook.request_json("GET", MEMBERS, api=TEAM_MEMBERS, params={"includeInternal": "true"})
    emulator.expire_tokens()  # forces the 401 -> re-grant path, which logs
    hook.request_json("GET", MEMBERS, api=TEAM_MEMBERS, params={"includeInternal": "true"})
    tokens = [t.value for t in TOKEN_CACHE._tokens.values()]
    assert tokens
    errors = []
    for attempt in (
        lambda: hook.request_json("GET", MEMBERS, api=TEAM_MEMBERS),  # 400
        lambda: CelonisOAuthHook("celonis_bad").request_json("GET", MEMBERS, api=TEAM_MEMBERS),
    ):
        with pytest.raises(CelonisError) as info:
            attempt()
        errors.append(str(info.value) + repr(info.value))
    captured = capsys.readouterr()
    everything = (
        captured.out + captured.err + caplog.text + "".join(errors) + repr(hook) + repr(hook.get_config())
    )
    assert SECRET not in everything
    for token in tokens:
        assert token not in everything


@pytest.fixture(autouse=True)
def _bad_conn(emulator, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_BAD", emulator.connection_json(("leaky", SECRET + "-wrong")))


def test_tokens_and_keys_are_registered_with_the_log_masker(emulator, monkeypatch) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    hook = CelonisOAuthHook()
    token = hook.fetch_token("audit.log:read")
    assert redact(f"token={token.value}") == "token=***"

    emulator.configure(legacy_keys={"legacy-key-987": "AppKey"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEGACY",
        json.dumps(
            {"conn_type": "celonis", "host": emulator.base_url, "extra": {"api_key": "legacy-key-987"}}
        ),
    )
    with pytest.warns(DeprecationWarning, match="legacy AppKey API key"):
        CelonisOAuthHook("legacy").get_config()
    assert "legacy-key-987" not in redact("key legacy-key-987")


async def test_async_path_keeps_secrets_out_too(emulator, monkeypatch, capsys) -> None:
    from airflow_provider_celonis.client.transport import close_loop_session

    emulator.add_client("leaky-basic", SECRET, auth_method="client_secret_basic")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        emulator.connection_json(("leaky-basic", SECRET), auth_method="client_secret_basic"),
    )
    emulator.add_faults([{"path": MEMBERS, "status": 502, "times": 1}])
    hook = CelonisOAuthHook(min_wait=0.01, max_wait=0.02, max_attempts=3)
    try:
        await hook.arequest_json("GET", MEMBERS, api=TEAM_MEMBERS, params={"includeInternal": "true"})
        emulator.expire_tokens()
        await hook.arequest_json("GET", MEMBERS, api=TEAM_MEMBERS, params={"includeInternal": "true"})
        with pytest.raises(CelonisError) as info:
            await hook.arequest_json("GET", MEMBERS, api=TEAM_MEMBERS)
    finally:
        await close_loop_session()
    tokens = [t.value for t in TOKEN_CACHE._tokens.values()]
    captured = capsys.readouterr()
    everything = captured.out + captured.err + str(info.value) + repr(info.value)
    assert tokens
    assert SECRET not in everything
    assert all(token not in everything for token in tokens)
