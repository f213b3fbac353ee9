"""Apache Airflow provider for Celonis.

Kept import-free on purpose: Airflow imports provider packages while it parses DAGs, so
this module must not pull in requests, aiohttp or the hook.

The public import paths are ``hooks``, ``operators``, ``sensors``, ``triggers``, ``exceptions`` and
``compat``. The helper modules that used to sit at the package root moved into feature subpackages
(``client``, ``waiting``, ``extracts``, ``push``, ``scim``); their old paths still import, with an
``AirflowProviderDeprecationWarning``, for one release.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__"]

# Old path (under this package) -> new path. Registered as light proxy modules: nothing is imported
# until an attribute is read, so DAG parsing pays for none of them.
MOVED_MODULES = {
    "apis": "client.apis",
    "arguments": "client.arguments",
    "connection": "client.connection",
    "error_mapping": "client.error_mapping",
    "intelligence_pages": "client.intelligence_pages",
    "paths": "client.paths",
    "retry_policy": "client.retry_policy",
    "timestamps": "client.timestamps",
    "decisions": "waiting.decisions",
    "outcomes": "waiting.outcomes",
    "run_ledger": "waiting.run_ledger",
    "run_start": "waiting.run_start",
    "status": "waiting.status",
    "sync_poll": "waiting.sync_poll",
    "waits": "waiting.waits",
    "object_store": "extracts.object_store",
    "outputs": "extracts.outputs",
    "read_ahead": "extracts.read_ahead",
    "spill": "extracts.spill",
    "chunking": "push.chunking",
    "multipart": "push.multipart",
    "push_plan": "push.plan",
    "push_run": "push.run",
    "push_sources": "push.sources",
    "scim_identity": "scim.identity",
    "scim_inputs": "scim.inputs",
    "scim_sync": "scim.sync",
}


class _MovedModule(types.ModuleType):
    """An old module path: every attribute read warns once per name and comes from the new module."""

    def __init__(self, old: str, new: str) -> None:
        super().__init__(old, f"Moved to {new}; this path goes in the next release.")
        self._new = new

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        from airflow.exceptions import AirflowProviderDeprecationWarning

        warnings.warn(
            f"{self.__name__} moved to {self._new}: import {name} from there "
            "(the old path goes in the next release).",
            AirflowProviderDeprecationWarning,
            stacklevel=2,
        )
        value = getattr(importlib.import_module(self._new), name)
        setattr(self, name, value)
        return value


for _old, _new in MOVED_MODULES.items():
    sys.modules.setdefault(f"{__name__}.{_old}", _MovedModule(f"{__name__}.{_old}", f"{__name__}.{_new}"))
