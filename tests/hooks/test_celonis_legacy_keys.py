"""A legacy API key is visible: a WARNING in the task log on every run, plus the provider's
deprecation warning."""

from __future__ import annotations

import json
import warnings

from airflow.exceptions import AirflowProviderDeprecationWarning

from airflow_provider_celonis.client.apis import TEAM
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

KEY = "legacy-app-key-123"


def test_every_run_with_a_legacy_key_logs_a_warning(emulator, monkeypatch, capsys) -> None:
    emulator.configure(legacy_keys={KEY: "AppKey"})
    monkeypatch.setenv(
        "AIRFLOW_CONN_CELONIS_DEFAULT",
        json.dumps({"conn_type": "celonis", "host": emulator.base_url, "extra": {"api_key": KEY}}),
    )
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # two task runs: two hooks
            CelonisOAuthHook().request_json("GET", "/api/team", api=TEAM)
    out = capsys.readouterr()
    task_log = out.out + out.err  # the task logger (structlog) writes here
    logged = [line for line in task_log.splitlines() if "legacy AppKey API key" in line]
    assert len(logged) == 2
    assert all("warning" in line.lower() for line in logged)
    assert "migrating-from-api-and-application-keys-to-oauth" in logged[0]
    provider = [w for w in caught if issubclass(w.category, AirflowProviderDeprecationWarning)]
    assert len(provider) == 2
    assert KEY not in task_log + "".join(str(w.message) for w in caught)


def test_oauth_connection_logs_no_deprecation(emulator, capsys) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        CelonisOAuthHook().request_json("GET", "/api/team", api=TEAM)
    out = capsys.readouterr()
    assert "legacy" not in out.out + out.err
    assert not [w for w in caught if issubclass(w.category, AirflowProviderDeprecationWarning)]
