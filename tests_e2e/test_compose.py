"""docker-compose.yaml has everything the stack needs (no Docker engine runs here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from stack import COMPOSE_COMMANDS, PROCESSES, SHARED_SETTINGS, WORKERS, AirflowStack

from airflow_provider_celonis.client.connection import parse_connection

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
)


def test_services() -> None:
    assert set(COMPOSE["services"]) >= {"postgres", "redis", "celonis-emulator", *AIRFLOW_SERVICES}
    commands = {name: COMPOSE["services"][name].get("command") for name in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    emulator = COMPOSE["services"]["celonis-emulator"]
    assert emulator["entrypoint"] == ["python", "-m", "airflow_provider_celonis.emulator"]
    assert "0.0.0.0" in emulator["command"] and "healthcheck" in emulator


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_share_the_celonis_setup(name: str) -> None:
    service = COMPOSE["services"][name]
    env = service["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__TEST_CONNECTION"] == "Enabled"
    assert env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] == "true"
    assert "./dags_examples:/opt/airflow/dags" in service["volumes"]
    default = re.fullmatch(r"\$\{CELONIS_CONN:-(.*)\}", env["AIRFLOW_CONN_CELONIS_DEFAULT"].strip(), re.S)
    assert default, env["AIRFLOW_CONN_CELONIS_DEFAULT"]
    conn = json.loads(default.group(1))
    config = parse_connection(
        "celonis_default",
        host=conn["host"],
        login=conn["login"],
        password=conn["password"],
        extra=conn["extra"],
    )
    assert config.base_url == "http://celonis-emulator:8765"
    if name != "airflow-init":
        assert service["depends_on"]["celonis-emulator"]["condition"] == "service_healthy"


def test_named_volumes_are_declared() -> None:
    used = {
        v.split(":")[0]
        for s in COMPOSE["services"].values()
        for v in s.get("volumes", [])
        if not v.startswith((".", "/"))
    }
    assert used <= set(COMPOSE["volumes"]), used - set(COMPOSE["volumes"])


def test_dockerfile_pins_airflow() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    version = re.search(r"ARG AIRFLOW_VERSION=(\S+)", dockerfile).group(1)  # type: ignore[union-attr]
    assert f"AIRFLOW_VERSION ?= {version}" in makefile
    assert "FROM apache/airflow:${AIRFLOW_VERSION}" in dockerfile
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in dockerfile


def test_docker_compose_config_validates() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CELONIS_E2E_REQUIRE_TOOLS"):
            pytest.fail("docker-compose is not installed (make e2e installs it)")
        pytest.skip("docker-compose is not installed")
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_e2e_topology() -> None:
    """The stack make e2e proves is this file's stack: same Airflow services and commands (two
    workers), same executor, broker, database driver and shared settings."""
    services = COMPOSE["services"]
    commands = {name: services[name]["command"] for name in COMPOSE_COMMANDS}
    assert commands == COMPOSE_COMMANDS
    e2e_commands = {"celery worker" if p in WORKERS else p for p in PROCESSES}
    assert e2e_commands == set(COMPOSE_COMMANDS.values())
    assert services["airflow-worker"]["deploy"]["replicas"] == len(WORKERS)
    assert "deploy" not in services["airflow-triggerer"]  # one triggerer, as in the e2e
    env = services["airflow-scheduler"]["environment"]
    assert {k: env[k] for k in SHARED_SETTINGS} == SHARED_SETTINGS
    scheme = lambda url: url.split("://", 1)[0]  # noqa: E731
    assert scheme(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]) == "postgresql+psycopg2"
    assert scheme(env["AIRFLOW__CELERY__RESULT_BACKEND"]) == "db+postgresql+psycopg2"
    assert scheme(env["AIRFLOW__CELERY__BROKER_URL"]) == "redis"
    stack_env = AirflowStack(ROOT / "dags_examples", ROOT / "e2e-artifacts").settings()
    for key in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CELERY__BROKER_URL",
    ):
        assert scheme(stack_env[key]) == scheme(env[key]), key
    assert stack_env["AIRFLOW__CORE__EXECUTOR"] == env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def test_compose_images_are_the_versions_the_e2e_ran(stack: AirflowStack) -> None:
    """PostgreSQL's major version and Redis's major.minor in the compose file are those of the
    servers the e2e ran (Debian's packages)."""
    postgres = COMPOSE["services"]["postgres"]["image"]
    redis = COMPOSE["services"]["redis"]["image"]
    assert postgres == f"postgres:{stack.postgres.version.split('.')[0]}", (postgres, stack.postgres.version)
    assert redis.startswith("redis:" + ".".join(stack.redis.version.split(".")[:2])), (
        redis,
        stack.redis.version,
    )
