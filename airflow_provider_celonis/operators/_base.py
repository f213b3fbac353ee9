"""What every simple Celonis operator shares: the connection id and hook parameters.

Kept apart so that operator modules can share it without importing each other; no I/O and
no hook import here (DAG parse time).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_celonis.exceptions import CelonisConfigurationError

__all__ = ["CelonisOperatorBase"]


class CelonisOperatorBase(BaseOperator):
    """Connection id and hook parameters, kept without any I/O until ``execute``."""

    def __init__(
        self,
        *,
        celonis_conn_id: str = "celonis_default",
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.celonis_conn_id = celonis_conn_id
        self.hook_params = dict(hook_params or {})

    def _require(self, **values: Any) -> None:
        for name, value in values.items():
            if value in (None, ""):
                raise CelonisConfigurationError(name, "is not set", f"pass {name}", where=self.task_id)
