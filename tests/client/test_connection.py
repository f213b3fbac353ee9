"""Connection validation: every bad input fails before any network call, naming field and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airflow_provider_celonis.client.connection import (
    CelonisConnectionConfig,
    aiohttp_options,
    parse_connection,
    requests_options,
    unknown_extras,
)
from airflow_provider_celonis.exceptions import CelonisConfigurationError

TEAM = "https://acme.eu-1.celonis.cloud"


def parse(
    host: str | None = TEAM,
    login: str | None = "cid",
    password: str | None = "s3cret",
    extra: object = None,
    port: int | None = None,
) -> CelonisConnectionConfig:
    raw = json.dumps(extra) if isinstance(extra, dict) else extra
    return parse_connection(
        "celonis_default", host=host, login=login, password=password, extra=raw, port=port
    )  # type: ignore[arg-type]


def test_defaults() -> None:
    config = parse()
    assert config.base_url == TEAM
    assert config.token_url == f"{TEAM}/oauth2/token"
    assert config.auth_method == "client_secret_post"
    assert config.verify is True
    assert config.timeout == 60.0
    assert config.uses_oauth
    assert "s3cret" not in repr(config)


def test_trailing_slash_and_port() -> None:
    assert parse(host=f"{TEAM}/").base_url == TEAM
    assert parse(host="http://127.0.0.1", port=8765).base_url == "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("kwargs", "field", "fix_words"),
    [
        ({"host": None}, "host", "team URL"),
        ({"host": "  "}, "host", "team URL"),
        ({"host": "acme.eu-1.celonis.cloud"}, "host", "JSON form"),
        ({"host": "ftp://acme.eu-1.celonis.cloud"}, "host", "https://"),
        ({"host": "http://acme.eu-1.celonis.cloud"}, "host", "allow_insecure_http"),
        (
            {"host": "https://acme.eu-1.celonis.cloud/package-manager/ui"},
            "host",
            "https://acme.eu-1.celonis.cloud",
        ),
        ({"host": "https://acme.eu-1.celonis.cloud?x=1"}, "host", "scheme and host only"),
        (
            {"extra": {"token_url": "http://evil.example.com/oauth2/token"}},
            "extra.token_url",
            "allow_insecure_http",
        ),
        ({"login": None, "password": None}, "login", "Admin & Settings > Applications"),
        ({"password": ""}, "password", "client secret"),
        ({"extra": {"auth_method": "private_key_jwt"}}, "extra.auth_method", "client_secret_basic"),
        ({"extra": "{not json"}, "extra", "JSON object"),
        ({"extra": "[1, 2]"}, "extra", "JSON object"),
        ({"extra": {"timeout": "soon"}}, "extra.timeout", "seconds"),
        ({"extra": {"timeout": -5}}, "extra.timeout", "greater than 0"),
        ({"extra": {"timeout": 0}}, "extra.timeout", "greater than 0"),
        ({"extra": {"timeout": "nan"}}, "extra.timeout", "finite"),
        ({"extra": {"timeout": "inf"}}, "extra.timeout", "finite"),
        ({"extra": {"timeout": True}}, "extra.timeout", "give a number"),
        ({"extra": {"verify": 3}}, "extra.verify", "true, false"),
        ({"extra": {"verify": ""}}, "extra.verify", "CA bundle"),
        ({"extra": {"verify": " "}}, "extra.verify", "CA bundle"),
        ({"extra": {"verify": "Off"}}, "extra.verify", "CA bundle"),
        ({"extra": {"verify": "0"}}, "extra.verify", "CA bundle"),
        ({"extra": {"verify": None}}, "extra.verify", "CA bundle"),
        ({"extra": {"verify": "/no/such/ca-bundle.pem"}}, "extra.verify", "CA bundle"),
        ({"extra": {"proxies": "http://proxy"}}, "extra.proxies", "https"),
        ({"extra": {"scopes": 42}}, "extra.scopes", "space-separated"),
        ({"extra": {"scopes": {"audit": "audit.log"}}}, "extra.scopes", "audit_log"),
        ({"extra": {"token_url": "oauth2/token"}}, "extra.token_url", "full URL"),
        ({"extra": {"api_prefixes": {"nope": "/x"}}}, "extra.api_prefixes", "scim"),
        ({"login": None, "extra": {"api_key": "k", "key_type": "Token"}}, "extra.key_type", "AppKey"),
        (
            {"extra": {"allow_insecure_http": "maybe"}, "host": "http://celonis-emulator:8765"},
            "extra.allow_insecure_http",
            "true or false",
        ),
    ],
)
def test_invalid_inputs_name_field_and_fix(kwargs: dict, field: str, fix_words: str) -> None:
    with pytest.raises(CelonisConfigurationError) as info:
        parse(**kwargs)
    assert info.value.field == field
    text = str(info.value)
    assert f"'{field}'" in text
    assert "Fix:" in text
    assert fix_words in text
    assert "celonis_default" in text
    assert "s3cret" not in text


@pytest.mark.parametrize(
    "host", ["http://localhost:8765", "http://127.0.0.1:8765", "http://[::1]:8765", "http://127.0.0.2"]
)
def test_plain_http_allowed_to_loopback(host: str) -> None:
    assert parse(host=host).base_url == host


def test_plain_http_elsewhere_needs_opt_in() -> None:
    config = parse(host="http://celonis-emulator:8765", extra={"allow_insecure_http": "true"})
    assert config.base_url == "http://celonis-emulator:8765"


def test_extras_are_coerced_from_ui_strings() -> None:
    config = parse(
        extra={
            "verify": "false",
            "timeout": "12.5",
            "auth_method": "client_secret_basic",
            "proxies": '{"https": "http://proxy:3128"}',
        }
    )
    assert config.verify is False
    assert config.timeout == 12.5
    assert config.auth_method == "client_secret_basic"
    assert requests_options(config) == {
        "verify": False,
        "timeout": 12.5,
        "proxies": {"https": "http://proxy:3128"},
    }
    assert aiohttp_options(config) == {"ssl": False, "proxy": "http://proxy:3128"}


def test_ca_bundle_path_is_kept(tmp_path) -> None:
    import certifi  # a real bundle: a file holding no certificate is refused (test_security_attack_tls)

    bundle = tmp_path / "corp-ca.pem"
    bundle.write_text(Path(certifi.where()).read_text())
    assert parse(extra={"verify": str(bundle)}).verify == str(bundle)
    assert parse(extra={"verify": str(tmp_path)}).verify == str(tmp_path)  # a c_rehash directory


@pytest.mark.parametrize(
    ("word", "expected"), [("TRUE", True), (" False ", False), (True, True), (False, False)]
)
def test_verify_words_in_any_case(word, expected) -> None:
    assert parse(extra={"verify": word}).verify is expected


def test_unreadable_ca_bundle_is_refused(tmp_path) -> None:
    import os

    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    bundle.chmod(0)
    if os.access(bundle, os.R_OK):  # root reads anything
        pytest.skip("running as root")
    with pytest.raises(CelonisConfigurationError, match=r"extra\.verify"):
        parse(extra={"verify": str(bundle)})


@pytest.mark.parametrize(
    ("scopes", "expected_audit", "expected_scim"),
    [
        ("audit.log team.login-history", "audit.log team.login-history", "audit.log team.login-history"),
        ("audit.log,  studio", "audit.log studio", "audit.log studio"),
        (["audit.log", "studio"], "audit.log studio", "audit.log studio"),
        ({"audit_log": "audit.log"}, "audit.log", "user-provisioning.scim"),
        ('{"audit_log": "audit.log"}', "audit.log", "user-provisioning.scim"),
    ],
)
def test_scopes_override(scopes: object, expected_audit: str, expected_scim: str) -> None:
    config = parse(extra={"scopes": scopes})
    assert config.scopes_for("audit_log", "audit.log:read") == expected_audit
    assert config.scopes_for("scim", "user-provisioning.scim") == expected_scim


def test_legacy_key() -> None:
    config = parse(login=None, password=None, extra={"api_key": "legacy", "key_type": "Bearer"})
    assert not config.uses_oauth
    assert config.key_type == "Bearer"
    assert "legacy" not in repr(config)


def test_unknown_extras_are_reported() -> None:
    assert unknown_extras({"auth_method": "x", "scope": "typo", "verfy": True}) == ["scope", "verfy"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"host": "https://client:hunter22@acme.eu-1.celonis.cloud"}, "host"),
        ({"host": "https://hunter22@acme.eu-1.celonis.cloud"}, "host"),
        (
            {"extra": {"token_url": "https://client:hunter22@login.example.com/oauth2/token"}},
            "extra.token_url",
        ),
    ],
)
def test_credentials_in_urls_are_refused_and_not_shown(kwargs, field) -> None:
    with pytest.raises(CelonisConfigurationError) as info:
        parse(**kwargs)
    assert info.value.field == field
    assert "hunter22" not in str(info.value)
    assert "***@" in str(info.value)
