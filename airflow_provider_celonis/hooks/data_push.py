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
from airflow_provider_celonis.exceptions import (
    CelonisRateLimitError,
    CelonisRequestMaybeSentError,
    CelonisUnexpectedResponseError,
    response_excerpt,
)
from airflow_provider_celonis.hooks.celonis import CelonisOAuthHook
from airflow_provider_celonis.push.chunking import Chunk
from airflow_provider_celonis.push.multipart import MultipartFileBody
from airflow_provider_celonis.waiting.status import seconds_left

JOBS = "/api/v1/data-push/{pool}/jobs/"
CHUNK_KINDS = ("upserted", "deleted")
CONTENT_TYPES = {"CSV": "text/csv", "PARQUET": "application/octet-stream"}


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
        base = JOBS.format(pool=pool_id)
        return base if job_id is None else f"{base}{job_id}"

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
        job: dict[str, Any] = self._json("POST", self.jobs_path(pool_id), json=body)
        return job

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON body (None when empty); a body that is not JSON (a proxy's or login
        page, a truncated answer) is typed: after a POST Celonis may have acted, so
        :class:`CelonisRequestMaybeSentError` (the caller reconciles); after a GET nothing can be
        concluded from it, so :class:`CelonisUnexpectedResponseError`."""
        with self.request(method, path, api=DATA_PUSH, **kwargs) as response:
            if not response.content.strip():
                return None
            try:
                return response.json()
            except ValueError:
                content_type = response.headers.get("content-type")
                excerpt = response_excerpt(response.content)
                what = (
                    f"Celonis answered {method} {path} with {response.status_code} "
                    f"({content_type or 'no content type'}) but the body is not JSON (truncated, or a "
                    f"login or proxy page); first bytes: {excerpt!r}"
                )
        if method != "GET":
            raise CelonisRequestMaybeSentError(
                f"{what}. Whether Celonis acted is unknown.", fix="check proxies between Airflow and Celonis"
            )
        raise CelonisUnexpectedResponseError(
            f"{what}.",
            status=200,
            method=method,
            path=path,
            content_type=content_type,
            excerpt=excerpt,
            fix="retry later; if it persists, check proxies between Airflow and Celonis",
        )

    def get_job(self, pool_id: str, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = self._json("GET", self.jobs_path(pool_id, job_id))
        return job

    async def aget_job(self, pool_id: str, job_id: str) -> dict[str, Any]:
        job: dict[str, Any] = await self.arequest_json("GET", self.jobs_path(pool_id, job_id), api=DATA_PUSH)
        return job

    def list_jobs(self, pool_id: str) -> list[dict[str, Any]]:
        return self._json_list(self.jobs_path(pool_id))

    def _json_list(self, path: str) -> list[dict[str, Any]]:
        """A GET whose documented answer is a JSON array of objects; any other shape is refused."""
        answer = self._json("GET", path)
        if answer is None:
            return []
        if not isinstance(answer, list) or not all(isinstance(item, dict) for item in answer):
            excerpt = response_excerpt(str(answer))
            raise CelonisUnexpectedResponseError(
                f"Celonis answered GET {path} with 200 but not with a JSON array of objects, as the "
                f"Data Push API documents; first bytes: {excerpt!r}. Nothing is concluded from it.",
                status=200,
                method="GET",
                path=path,
                content_type="application/json",
                excerpt=excerpt,
                fix="retry later; if it persists, the Data Push API changed: report it",
            )
        return answer

    def delete_job(self, pool_id: str, job_id: str) -> None:
        """``DELETE .../jobs/{id}``; whether it cancels a QUEUED or RUNNING job is a [guess]."""
        with self.request("DELETE", self.jobs_path(pool_id, job_id), api=DATA_PUSH):
            pass

    async def adelete_job(self, pool_id: str, job_id: str) -> None:
        """Async twin of :meth:`delete_job`, for the trigger's ``on_kill``."""
        await self.arequest("DELETE", self.jobs_path(pool_id, job_id), api=DATA_PUSH)

    def list_chunks(self, pool_id: str, job_id: str) -> list[dict[str, Any]]:
        return self._json_list(f"{self.jobs_path(pool_id, job_id)}/chunks")

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

        path = f"{self.jobs_path(pool_id, job_id)}/chunks/{kind}"
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        with self.request("POST", path, api=DATA_PUSH, data_factory=body, headers=headers):
            pass
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
        while True:
            try:
                with self.request("POST", self.jobs_path(pool_id, job_id), api=DATA_PUSH, params=params):
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
        return f"{base}/integration/ui/pools/{pool_id}/data-configuration"
