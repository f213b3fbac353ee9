"""Shared fixtures: one real emulator process per test session, reset before every test.

Tests talk to it over real sockets through the provider's own hook; nothing here mocks
HTTP. Connections come from ``AIRFLOW_CONN_*`` environment variables, as in production.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

# A throwaway AIRFLOW_HOME before anything imports Airflow: tests never touch ~/airflow.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="celonis-tests-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")

from airflow_provider_celonis.auth.token_cache import clear_token_cache
from airflow_provider_celonis.emulator.client import BASIC_CLIENT, EmulatorProcess, start_emulator

FAST_RETRIES = {"min_wait": 0.01, "max_wait": 0.05, "max_attempts": 4}
"""Hook parameters that keep retry tests quick; pass as ``hook_params`` to operators."""


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorProcess]:
    with start_emulator() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_state(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Reset the emulator, forget cached tokens and point ``celonis_default`` at the emulator."""
    clear_token_cache()
    if "emulator" in request.fixturenames:
        emu: EmulatorProcess = request.getfixturevalue("emulator")
        emu.reset()
        monkeypatch.setenv("AIRFLOW_CONN_CELONIS_DEFAULT", emu.connection_json())
        monkeypatch.setenv("AIRFLOW_CONN_CELONIS_BASIC", emu.connection_json(BASIC_CLIENT))
    yield
    clear_token_cache()


@pytest.fixture
def fast_retries() -> dict[str, float]:
    return dict(FAST_RETRIES)
