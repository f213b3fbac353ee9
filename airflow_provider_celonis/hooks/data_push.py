"""Data Push API (docs/celonis-api.md, Data Push): create a push job, upload chunks, execute, watch.

Paths are under ``/data-ingestion/api/v1/data-push/{poolId}/jobs/`` (the API's prefix can be
remapped with the hook argument or connection extra ``api_prefixes``, e.g. to the older
``/integration`` base). Scope: the API's default is ``integration.data-pools``; Celonis also
spells the narrower scope ``integration.data-pools:data-push`` and ``...:data_push``, so set
the connection extra ``scopes`` to ``{"data_push": "integration.data-pools:data-push"}`` when
your OAuth client only has that one. The client also needs the pool's "Data Push API"
permission.

Which calls are repeated on failure, and why:

* ``GET`` and ``DELETE`` are safe and retried on 429/5xx/network errors.
* Create, chunk upload and execute are POSTs the hook replays only when Celonis certainly did
  not act (a 429, or no connection at all); a chunk body is rebuilt for each attempt
  (``data_factory``). After a 500/502/503/504, a timeout or a dropped connection the caller
  reads the state back (:mod:`airflow_provider_celonis.push.run`).
* Execute is limited to 10/s and 250/h per team. A 429 that outlasts the hook's own retries
  is waited out here, up to the caller's deadline: a 429 means the call was not processed,
  so sending it again cannot run the job twice. Anything that may have reached Celonis raises
  :class:`~airflow_provider_celonis.exceptions.CelonisRequestMaybeSentError` and is never re-sent.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from airflow_provider_celonis.client.apis import DATA_PUSH
from airflow_provider_celonis.client.calls import Call, segment, unexpected_answer
from airflow_provider_celonis.exceptions import CelonisRateLimitError
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook
from airflow_provider_celonis.push.chunking import Chunk
from airflow_provider_celonis.push.multipart import MultipartFileBody
from airflow_provider_celonis.waiting.status import seconds_left

JOBS = "/api/v1/data-push/{pool_id}/jobs/"
JOB = JOBS + "{job_id}"
CHUNK_KINDS = ("upserted", "deleted")
CONTENT_TYPES = {"CSV": "text/csv", "PARQUET": "application/octet-stream"}


def job_call(method: str, pool_id: str, job_id: str, suffix: str = "", **kwargs: Any) -> Call:
    """A call to one push job (``suffix``: ``/chunks``...); both ids percent-encoded."""
    return Call(DATA_PUSH, method, JOB + suffix, {"pool_id": pool_id, "job_id": job_id}, kwargs)


def object_list(call: Call, answer: Any) -> list[dict[str, Any]]:
    """A documented JSON array of objects (empty body: none); any other shape is refused."""
    if answer is None:
        return []
    if isinstance(answer, list) and all(isinstance(item, dict) for item in answer):
        return answer
    raise unexpected_answer(
        "Data Push API",
        "GET",
        call.path,
        "not with a JSON array of objects, as the API documents",
        answer,
        "Nothing is concluded from it",
    )


class CelonisDataPushHook(CelonisOAuthHook):
    """Data Push API on top of :class:`CelonisOAuthHook`.

    :param rate_limit_patience: seconds the execute call keeps waiting out 429 answers when the
        caller gives no deadline (the hourly limit resets on the full UTC hour).
    :param upload_block: bytes read from the file and sent per write during a chunk upload.
    """

    def __init__(
        self,
        celonis_conn_id: str = CelonisOAuthHook.default_conn_name,
        *,
        rate_limit_patience: float = 3660.0,
        upload_block: int = 1 << 20,
        **kwargs: Any,
    ) -> None:
        super().__init__(celonis_conn_id, **kwargs)
        self.rate_limit_patience = float(rate_limit_patience)
        self.upload_block = int(upload_block)

    @staticmethod
    def jobs_path(pool_id: str, job_id: str | None = None) -> str:
        """The jobs path of a pool, or of one job, with the ids percent-encoded."""
        if job_id is None:
            return Call(DATA_PUSH, "GET", JOBS, {"pool_id": pool_id}).path
        return job_call("GET", pool_id, job_id).path

    # -- jobs ------------------------------------------------------------------------------
    def create_job(
        self,
        pool_id: str,
        *,
        target_name: str,
        job_type: str = "REPLACE",
        file_type: str = "CSV",
        keys: list[str] | None = None,
        connection_id: str | None = None,
        table_schema: dict[str, Any] | None = None,
        csv_parsing_options: dict[str, Any] | None = None,
        upsert_strategy: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``POST .../jobs/`` (trailing slash kept, as Celonis's docs and pycelonis use it)."""
        body: dict[str, Any] = {
            "targetName": target_name,
            "type": job_type,
            "fileType": file_type,
            "dataPoolId": pool_id,
        }
        optional = {
            "keys": list(keys) if keys else None,
            "connectionId": connection_id,
            "tableSchema": table_schema,
            "csvParsingOptions": csv_parsing_options,
            "upsertStrategy": upsert_strategy,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(extra or {})
        call = Call(DATA_PUSH, "POST", JOBS, {"pool_id": pool_id}, {"json": body}, reads_answer=True)
        job: dict[str, Any] = self.call(call)
        return job

    def get_job(self, pool_id: str, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self.call(job_call("GET", pool_id, job_id))
        return job

    async def aget_job(self, pool_id: str, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = await self.acall(job_call("GET", pool_id, job_id))
        return job

    def list_jobs(self, pool_id: str) -> list[dict[str, Any]]:
        call = Call(DATA_PUSH, "GET", JOBS, {"pool_id": pool_id})
        return object_list(call, self.call(call))

    def delete_job(self, pool_id: str, job_id: str) -> None:
        """``DELETE .../jobs/{id}``; whether it cancels a QUEUED or RUNNING job is a [guess]."""
        self.call(job_call("DELETE", pool_id, job_id))

    async def adelete_job(self, pool_id: str, job_id: str) -> None:
        """Async twin of :meth:`delete_job`, for the trigger's ``on_kill``."""
        await self.acall(job_call("DELETE", pool_id, job_id))

    def list_chunks(self, pool_id: str, job_id: str) -> list[dict[str, Any]]:
        call = job_call("GET", pool_id, job_id, "/chunks")
        return object_list(call, self.call(call))

    # -- chunks ----------------------------------------------------------------------------
    def upload_chunk(
        self, pool_id: str, job_id: str, chunk: Chunk, *, kind: str = "upserted", file_type: str = "CSV"
    ) -> MultipartFileBody:
        """Stream one chunk as multipart field ``file``; returns the body that was sent last.

        The body is rebuilt for every attempt, so a 429 retry re-reads the chunk from the file
        instead of holding it in memory.
        """
        if kind not in CHUNK_KINDS:
            raise ValueError(f"kind must be one of {CHUNK_KINDS}")
        boundary = f"celonis-{secrets.token_hex(16)}"
        sent: list[MultipartFileBody] = []

        def body() -> MultipartFileBody:
            made = MultipartFileBody(
                "file",
                chunk.name,
                chunk.size,
                lambda: chunk.pieces(self.upload_block),
                CONTENT_TYPES.get(file_type, "application/octet-stream"),
                boundary=boundary,
            )
            sent[:] = [made]
            return made

        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        ids = {"pool_id": pool_id, "job_id": job_id, "kind": kind}
        kwargs = {"data_factory": body, "headers": headers}
        self.call(Call(DATA_PUSH, "POST", JOB + "/chunks/{kind}", ids, kwargs))
        return sent[0]

    # -- execute ---------------------------------------------------------------------------
    def execute_job(
        self,
        pool_id: str,
        job_id: str,
        *,
        duplicate_removal_column: str | None = None,
        deadline: float | None = None,
    ) -> None:
        """``POST .../jobs/{id}``: start the push job (asynchronous; 200/201, no content).

        Never re-sent once it may have reached Celonis. 429s are waited out until ``deadline``
        (epoch seconds) or, without one, for ``rate_limit_patience`` seconds.
        """
        params = {"duplicateRemovalColumn": duplicate_removal_column} if duplicate_removal_column else None
        give_up = deadline if deadline is not None else time.time() + self.rate_limit_patience
        call = job_call("POST", pool_id, job_id, params=params)
        while True:
            try:
                self.call(call)
                return
            except CelonisRateLimitError as err:
                left = seconds_left(give_up) or 0.0
                pause = err.reset_in if err.reset_in is not None else self.retry_policy.max_wait
                if left <= 0 or pause > left:
                    raise
                self.log.warning(
                    "Celonis refused the execute call of push job %s with 429 (limit 10/s and 250/h per "
                    "team); it was not processed, so it is sent again in %.1f s.",
                    job_id,
                    pause,
                )
                time.sleep(max(pause, 0.05))

    # -- links -----------------------------------------------------------------------------
    def pool_url(self, pool_id: str) -> str:
        """The data pool in the Celonis UI ([guess] path, next to the data job pages)."""
        base = self.get_config().base_url.rstrip("/")
        return f"{base}/integration/ui/pools/{segment('pool_id', pool_id)}/data-configuration"
