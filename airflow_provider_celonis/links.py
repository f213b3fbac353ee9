"""Operator extra links: open the data job or data model a task ran in the Celonis UI.

The operator computes the URL while it runs (the team URL is in the connection, which must
not be read at DAG parse time) and keeps it on itself and in XCom. Airflow 3 calls
``get_link`` at the end of the task and stores the result; the XCom lookup is the fallback
for a re-created operator instance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk.types import TaskInstanceKey

JOB_URL_KEY = "celonis_job_url"
DATA_MODEL_URL_KEY = "celonis_data_model_url"


def _link(operator: Any, ti_key: TaskInstanceKey, attribute: str, key: str) -> str:
    url = getattr(operator, attribute, None)
    if url:
        return str(url)
    try:
        from airflow.sdk.execution_time.xcom import XCom

        return str(XCom.get_value(ti_key=ti_key, key=key) or "")
    except Exception:  # no XCom backend reachable (e.g. outside a task): no link rather than an error
        return ""


class CelonisDataJobLink(BaseOperatorLink):
    """The job's page, ``<team>/integration/ui/pools/{poolId}/data-configuration/data-jobs?jobId=...``."""

    name = "Celonis Data Job"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        return _link(operator, ti_key, "celonis_url", JOB_URL_KEY)


class CelonisDataModelLink(BaseOperatorLink):
    """The data model's page in the Celonis UI ([guess] path, see ``hooks.data_models``)."""

    name = "Celonis Data Model"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        return _link(operator, ti_key, "celonis_url", DATA_MODEL_URL_KEY)


DATA_POOL_URL_KEY = "celonis_data_pool_url"


class CelonisDataPoolLink(BaseOperatorLink):
    """The data pool a push job wrote to ([guess] UI path ``<team>/integration/ui/pools/{poolId}/...``)."""

    name = "Celonis Data Pool"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        return _link(operator, ti_key, "celonis_pool_url", DATA_POOL_URL_KEY)
