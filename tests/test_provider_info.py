"""Airflow sees the provider: entry point, schema-valid metadata, connection form, providers list."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_celonis.get_provider_info import get_provider_info


def test_entry_point_resolves_to_get_provider_info() -> None:
    found = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_celonis")
    ]
    assert len(found) == 1
    assert found[0].load() is get_provider_info


def test_validates_against_the_installed_airflow_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_listed_module_and_class_imports() -> None:
    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(kind, [])
        for m in entry["python-modules"]
    ]
    classes = [c["hook-class-name"] for c in info["connection-types"]] + info.get("extra-links", [])
    for name in modules:
        importlib.import_module(name)
    for dotted in classes:
        module, _, cls = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), cls), dotted


def test_connection_form() -> None:
    conn = get_provider_info()["connection-types"][0]
    assert conn["connection-type"] == "celonis"
    behaviour = conn["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"schema", "port"}
    assert behaviour["relabeling"] == {"host": "Team URL", "login": "Client ID", "password": "Client Secret"}
    assert "celonis.cloud" in behaviour["placeholders"]["host"]
    fields = conn["conn-fields"]
    assert {
        "auth_method",
        "scopes",
        "token_url",
        "verify",
        "timeout",
        "proxies",
        "api_key",
        "key_type",
        "allow_insecure_http",
    } <= set(fields)
    for spec in fields.values():
        jsonschema.Draft7Validator.check_schema(spec["schema"])
    assert fields["auth_method"]["schema"]["enum"][:2] == ["client_secret_post", "client_secret_basic"]


def test_airflow_providers_list_shows_the_provider(tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    names = {p["package_name"] for p in json.loads(out[out.index('[{"') :])}
    assert "airflow-provider-celonis" in names


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, airflow_provider_celonis, airflow_provider_celonis.get_provider_info; "
        "print(sorted(m for m in ('requests', 'aiohttp', 'fastapi', 'tenacity') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_form_reaches_airflow_from_provider_info_alone() -> None:
    """Airflow 3.2+ reads the form from provider info; the deprecated hook method is not defined
    there (Airflow would warn about it), and the form Airflow builds is still the full one."""
    import warnings

    from airflow.providers_manager import ProvidersManager

    from airflow_provider_celonis import compat
    from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

    assert compat.PROVIDER_INFO_CARRIES_FORM  # the development venv pins the newest Airflow
    assert "get_ui_field_behaviour" not in CelonisOAuthHook.__dict__
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        manager = ProvidersManager()
        behaviours = manager.field_behaviours
        widgets = manager.connection_form_widgets
    celonis_warnings = [str(w.message) for w in caught if "Celonis" in str(w.message)]
    assert not celonis_warnings, celonis_warnings
    behaviour = behaviours["celonis"]
    assert behaviour["relabeling"]["login"] == "Client ID"
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert {"extra__celonis__auth_method", "extra__celonis__scopes"} <= set(widgets)


def test_one_version_source() -> None:
    from importlib.metadata import version

    import airflow_provider_celonis

    assert get_provider_info()["versions"] == [airflow_provider_celonis.__version__]
    assert version("airflow-provider-celonis") == airflow_provider_celonis.__version__
    pyproject = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert "\nversion =" not in pyproject.split("[tool.setuptools.dynamic]")[0]


def test_every_public_hook_operator_and_sensor_module_is_listed() -> None:
    """A module Airflow does not list is missing from the providers UI and docs (the agents
    operators were left out): each public module defining a hook, operator or sensor class."""
    import inspect

    from airflow.sdk import BaseHook, BaseOperator

    import airflow_provider_celonis

    info = get_provider_info()
    root = Path(airflow_provider_celonis.__file__).parent
    for kind in ("hooks", "operators", "sensors"):
        listed = {m for entry in info.get(kind, []) for m in entry["python-modules"]}
        for path in sorted((root / kind).glob("[!_]*.py")):
            name = f"airflow_provider_celonis.{kind}.{path.stem}"
            module = importlib.import_module(name)
            defines = [
                cls
                for cls_name, cls in inspect.getmembers(module, inspect.isclass)
                if cls.__module__ == name
                and not cls_name.startswith("_")
                and issubclass(cls, (BaseHook, BaseOperator))
            ]
            assert not defines or name in listed, f"{name} ({defines}) is not in get_provider_info {kind}"
