"""Strict configuration: every hook argument and extra checked before any call; verify=false is loud."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"max_attempts": "3"}, "max_attempts"),
        ({"max_attempts": 2.5}, "max_attempts"),
        ({"max_attempts": True}, "max_attempts"),
        ({"min_wait": -1}, "min_wait"),
        ({"min_wait": float("nan")}, "min_wait"),
        ({"max_wait": -1}, "max_wait"),
        ({"min_wait": 5, "max_wait": 1}, "max_wait"),
        ({"max_rate_limit_wait": -5}, "max_rate_limit_wait"),
        ({"max_rate_limit_wait": float("inf")}, "max_rate_limit_wait"),
    ],
)
def test_bad_hook_arguments_fail_in_init_naming_the_field(emulator, kwargs, field) -> None:
    before = emulator.stats()["requests"]
    with pytest.raises(CelonisConfigurationError) as info:
        CelonisOAuthHook(**kwargs)
    assert info.value.field == field
    assert f"'{field}'" in str(info.value) and "Fix:" in str(info.value)
    assert emulator.stats()["requests"] == before  # nothing was sent


def test_good_hook_arguments_are_kept(emulator) -> None:
    hook = CelonisOAuthHook(timeout=2.5, max_attempts=2, min_wait=0, max_wait=0, max_rate_limit_wait=0)
    assert hook.timeout == 2.5 and hook.retry_policy.max_attempts == 2
    assert hook.get_config().timeout == 2.5


@pytest.mark.parametrize("verify", ["", " ", "Off", "0", "/no/such/bundle.pem"])
def test_bad_verify_fails_before_any_call(emulator, monkeypatch, verify) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(verify=verify))
    with pytest.raises(CelonisConfigurationError) as info:
        CelonisOAuthHook().request_json("GET", "/api/team", api=TEAM)
    assert info.value.field == "extra.verify"
    assert emulator.stats()["requests"] == {}


@pytest.mark.parametrize("extra_timeout", ["nan", "inf", -1, 0, "0"])
def test_bad_timeout_extra_fails_before_any_call(emulator, monkeypatch, extra_timeout) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(timeout=extra_timeout))
    with pytest.raises(CelonisConfigurationError, match=r"extra\.timeout"):
        CelonisOAuthHook().request_json("GET", "/api/team", api=TEAM)
    assert emulator.stats()["requests"] == {}


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_verify_false_warns_every_time_a_hook_is_built(emulator, monkeypatch, capsys, is_async) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emulator.connection_json(verify="false"))
    capsys.readouterr()
    for _ in range(2):
        hook = CelonisOAuthHook()
        if is_async:
            asyncio.run(hook.arequest_json("GET", "/api/team", api=TEAM))
        else:
            hook.request_json("GET", "/api/team", api=TEAM)
    out = capsys.readouterr()
    warned = [line for line in (out.out + out.err).splitlines() if "verify=false" in line]
    assert len(warned) == 2
    assert "warning" in warned[0].lower() and "NOT checked" in warned[0]


def test_verify_true_does_not_warn(emulator, capsys) -> None:
    CelonisOAuthHook().request_json("GET", "/api/team", api=TEAM)
    out = capsys.readouterr()
    assert "verify=false" not in out.out + out.err
