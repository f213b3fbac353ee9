"""The UI's Test button for a Celonis connection: token grants only, no side effect on the team.

With the extra ``scopes`` set as one string, that set is requested once. Otherwise each API's
default scope is requested on its own, because Celonis refuses a whole token request when any
one scope is not allowed; asking one by one tells the user exactly which APIs the client can use.

The report is also logged: ``airflow connections test`` prints only "Connection success!" and drops
the message of a passing test, so under that command the report is printed as well (the CLI's
logging does not show a hook's INFO lines); elsewhere (UI, API server) it goes to the log only.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from airflow_provider_celonis.auth.token import granted_report
from airflow_provider_celonis.client.apis import ALL_APIS, TEAM
from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.exceptions import CelonisError, CelonisInvalidScopeError

if TYPE_CHECKING:
    from airflow_provider_celonis.client.connection import CelonisConnectionConfig
    from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

APPLICATIONS = "Admin & Settings > Applications"


def run_connection_test(hook: CelonisOAuthHook) -> tuple[bool, str]:
    ok, text = _test(hook)
    if ok:  # a failure's message is printed by the CLI and shown by the UI already
        hook.log.info("Celonis connection test: %s", text)
        if _under_cli_connections_test():  # the CLI's logging does not show a hook's INFO lines
            print(f"\nCelonis: {text}")
    return ok, text


def _under_cli_connections_test() -> bool:
    return sys.argv[1:3] == ["connections", "test"]


def _test(hook: CelonisOAuthHook) -> tuple[bool, str]:
    try:
        hook._config = None  # always read the connection as it is now
        config = hook.get_config()
    except CelonisError as err:
        return False, str(err)
    if not config.uses_oauth:
        try:
            hook.call(Call(TEAM, "GET", "/api/team"))
        except CelonisError as err:
            return False, str(err)
        return True, f"Connected to {config.base_url} with a legacy {config.key_type} key (deprecated)."
    if isinstance(config.scopes, str):
        wanted = [config.scopes]
    else:
        wanted = sorted({config.scopes_for(api.key, api.scope) for api in ALL_APIS.values() if api.scope})
    granted: list[str] = []
    missing: list[str] = []
    for scope in wanted:
        try:
            token = hook.fetch_token(scope)
        except CelonisInvalidScopeError:
            missing.extend(scope.split())
            continue
        except CelonisError as err:  # wrong client or secret, unreachable team: stop here
            return False, str(err)
        ok, not_granted = granted_report(scope, token.scope)
        granted.extend(ok)
        missing.extend(not_granted)
    who = f"Connected to {config.base_url} as OAuth client '{config.client_id}' ({config.auth_method})."
    if not granted:
        return False, (
            f"{who} The token endpoint accepted the client but granted none of the scopes "
            f"{', '.join(missing)}. Add the scopes you need to the client in {APPLICATIONS}."
        )
    text = f"{who} Granted scopes: {', '.join(granted)}."
    if missing:
        text += (
            f" Not allowed for this client: {', '.join(missing)} (add them in {APPLICATIONS} if you use "
            "those APIs)."
        )
    return True, f"{text} Per API: {'; '.join(per_api(config, set(granted)))}."


def per_api(config: CelonisConnectionConfig, granted: set[str]) -> list[str]:
    """``"<API title>: ok"`` or ``"<API title>: missing <scope>"`` for every API with a scope."""
    lines = []
    for api in ALL_APIS.values():
        if api.scope:
            lacking = [s for s in config.scopes_for(api.key, api.scope).split() if s not in granted]
            lines.append(f"{api.title}: {'ok' if not lacking else 'missing ' + ' '.join(lacking)}")
    return lines
