"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Pure data: Airflow calls this while building its list of providers, so it imports nothing but
the package's import-free ``__init__`` (the one version source, which pyproject.toml reads too).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_celonis import __version__

INTEGRATION = "Celonis"

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port"],
    "relabeling": {"host": "Team URL", "login": "Client ID", "password": "Client Secret"},
    "placeholders": {
        "host": "https://<team>.<realm>.celonis.cloud",
        "login": "OAuth client ID from Admin & Settings > Applications",
        "password": "OAuth client secret",
        "extra": '{"auth_method": "client_secret_post"}',
    },
}

CONN_FIELDS: dict[str, Any] = {
    "auth_method": {
        "label": "Client authentication method",
        "description": "As chosen for the OAuth client in Admin & Settings > Applications.",
        "schema": {
            "type": ["string", "null"],
            "enum": ["client_secret_post", "client_secret_basic", None],
            "default": "client_secret_post",
        },
    },
    "scopes": {
        "label": "Scopes override",
        "description": "Space-separated scopes requested for every API instead of each API's default; "
        "leave empty to request exactly the scope of the API being called.",
        "schema": {"type": ["string", "null"]},
    },
    "token_url": {
        "label": "Token URL",
        "description": "Defaults to <Team URL>/oauth2/token.",
        "schema": {"type": ["string", "null"], "format": "uri"},
    },
    "verify": {
        "label": "Verify TLS",
        "description": "true (default), false, or the path of a CA bundle.",
        "schema": {"type": ["string", "boolean", "null"], "default": True},
    },
    "timeout": {
        "label": "Request timeout (seconds)",
        "schema": {"type": ["number", "null"], "minimum": 1, "default": 60},
    },
    "proxies": {
        "label": "Proxies",
        "description": 'JSON object, e.g. {"https": "http://proxy:3128"}.',
        "schema": {"type": ["object", "null"]},
    },
    "allow_insecure_http": {
        "label": "Allow plain http:// to a non-local host",
        "description": "Only for a trusted local emulator, e.g. the docker-compose service.",
        "schema": {"type": ["boolean", "null"], "default": False},
    },
    "api_key": {
        "label": "Legacy API / application key (deprecated)",
        "description": "Only while migrating to OAuth; leave Client ID empty to use it.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "key_type": {
        "label": "Legacy key type",
        "schema": {"type": ["string", "null"], "enum": ["AppKey", "Bearer", None], "default": "AppKey"},
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-provider-celonis",
        "name": "Celonis",
        "description": "`Celonis <https://www.celonis.com/>`__ process-mining platform: OAuth 2.0 client "
        "credentials, data jobs, data models, data push, usage extracts, SCIM and Process Intelligence APIs.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://developer.celonis.com/celonis-apis/migrating-to-oauth/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_celonis.hooks.celonis",
                    "airflow_provider_celonis.hooks.data_jobs",
                    "airflow_provider_celonis.hooks.data_models",
                    "airflow_provider_celonis.hooks.data_pools",
                    "airflow_provider_celonis.hooks.data_push",
                    "airflow_provider_celonis.hooks.usage",
                    "airflow_provider_celonis.hooks.scim",
                    "airflow_provider_celonis.hooks.knowledge_model",
                    "airflow_provider_celonis.hooks.event_subscriptions",
                    "airflow_provider_celonis.hooks.chat",
                    "airflow_provider_celonis.hooks.tools",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_celonis.operators.data_jobs",
                    "airflow_provider_celonis.operators.data_models",
                    "airflow_provider_celonis.operators.data_push",
                    "airflow_provider_celonis.operators.usage",
                    "airflow_provider_celonis.operators.scim",
                    "airflow_provider_celonis.operators.knowledge_model",
                    "airflow_provider_celonis.operators.intelligence",
                    "airflow_provider_celonis.operators.agents",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_celonis.sensors.data_jobs",
                    "airflow_provider_celonis.sensors.data_models",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_celonis.triggers.data_jobs",
                    "airflow_provider_celonis.triggers.data_models",
                    "airflow_provider_celonis.triggers.data_push",
                    "airflow_provider_celonis.triggers.events",
                ],
            }
        ],
        "extra-links": [
            "airflow_provider_celonis.links.CelonisDataJobLink",
            "airflow_provider_celonis.links.CelonisDataModelLink",
            "airflow_provider_celonis.links.CelonisDataPoolLink",
        ],
        "connection-types": [
            {
                "connection-type": "celonis",
                "hook-class-name": "airflow_provider_celonis.hooks.celonis.CelonisOAuthHook",
                "hook-name": "Celonis",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
