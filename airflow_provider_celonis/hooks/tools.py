"""``CelonisToolsHook``: call a tool defined in a Studio asset (Tools API, MCP asset tool calling).

Scope ``intelligence.tools:execute`` (also spelled ``mcp-asset.tools:execute``; set the extra
``scopes`` to switch). ``POST /studio-copilot/api/v1/mcp-servers/mcp/{assetId}/tool-api/{toolId}
?draft=false`` answers a JSON object or a string.

[guess] The spec documents no request body. The default sends the tool's arguments as the JSON
body; ``arguments_key="arguments"`` wraps them as ``{"arguments": {...}}`` instead, and
``body`` sends any body as given. See docs/process-intelligence.md.
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_celonis.client import transport
from airflow_provider_celonis.client.apis import TOOLS
from airflow_provider_celonis.client.calls import Call
from airflow_provider_celonis.exceptions import CelonisConfigurationError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook

_UNSET: Any = object()
TOOL = "/api/v1/mcp-servers/mcp/{asset_id}/tool-api/{tool_id}"


def tool_body(
    arguments: Any, arguments_key: str | None = None, body: Any = _UNSET, *, where: str | None = None
) -> Any:
    """The request body: ``body`` if given, else the arguments, optionally under ``arguments_key``.

    ``where`` (e.g. the task id) prefixes configuration errors.
    """
    if body is not _UNSET:
        return body
    if arguments_key is not None and (not isinstance(arguments_key, str) or not arguments_key):
        raise CelonisConfigurationError(
            "arguments_key", f"is {arguments_key!r}", 'use a key such as "arguments", or None', where=where
        )
    if arguments is None:
        arguments = {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise CelonisConfigurationError(
                "arguments",
                "is a string that is not JSON",
                "pass a dict of the tool's arguments",
                where=where,
            ) from None
    if not isinstance(arguments, dict):
        raise CelonisConfigurationError(
            "arguments", f"is a {type(arguments).__name__}", "pass a dict", where=where
        )
    return {arguments_key: arguments} if arguments_key else arguments


class CelonisToolsHook(CelonisOAuthHook):
    """Tools API calls; same arguments as :class:`CelonisOAuthHook`."""

    def call_tool(
        self,
        asset_id: str,
        tool_id: str,
        arguments: Any = None,
        *,
        draft: bool = False,
        arguments_key: str | None = None,
        body: Any = _UNSET,
        idempotent: bool = False,
    ) -> Any:
        """The tool's result: decoded JSON (object, list or string), or the raw text.

        ``idempotent=True`` lets the hook retry 5xx/network errors for tools that only read
        (``search-data``, ``load-data``); by default a call that may have run is not repeated.
        """
        for name, value in (("asset_id", asset_id), ("tool_id", tool_id)):
            if not value:
                raise CelonisConfigurationError(name, "is empty", "copy it from the Studio asset")
        payload = tool_body(arguments, arguments_key, body)
        ids = {"asset_id": asset_id, "tool_id": tool_id}
        kwargs = {"params": {"draft": "true" if draft else "false"}, "json": payload}
        # the raw bytes: a tool may answer a bare string, which is its result, not a broken body;
        # JSON is UTF-8 whatever the label, a string is read in its declared charset (else UTF-8)
        with self.call_response(Call(TOOLS, "POST", TOOL, ids, kwargs, idempotent)) as response:
            raw, charset = response.content, transport.charset_of(response.headers.get("content-type"))
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:  # UnicodeDecodeError included
            return transport.body_text(raw, charset)
