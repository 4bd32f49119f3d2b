"""The Batch API client for image generations (OpenAI only), over one injected `httpx.AsyncClient`.

A batch is a JSONL file of generation requests, uploaded (POST /files, purpose "batch"), then run by OpenAI within
24 hours at half price (POST /batches, GET /batches/{id}, POST /batches/{id}/cancel); its results are files of their
own (GET /files/{id}/content): one line per request that succeeded in the output file, one per request that failed
or never ran in the error file (https://platform.openai.com/docs/guides/batch). Each line's body is exactly what
`ImageAPI.generate` sends for the same prompt and options (wire.py's `generation_body`), never streamed.

Errors are bot/errors.py's tree, mapped as for image calls (error_answers.py). Waits are bounded: per-request HTTP
timeouts, and retries.py's attempts, backoff and Retry-After within one deadline per call. Reads and cancels are
retried; an upload is too (a second copy of a file costs nothing). Creating a batch is retried only after a 429,
which creates nothing: after a 5xx or a lost connection the batch may exist, so it is not created again blindly.
A download is read to `max_download_bytes` at most.

Azure OpenAI's batch API is a different one (a "Global Batch" deployment, its own file and endpoint rules:
https://learn.microsoft.com/azure/ai-foundry/openai/how-to/batch); this client refuses an Azure target with
`BatchUnsupported`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.errors import ImagebotError, InvalidRequest, ServerError
from bot.models import GenerateRequest, ImageOptions
from bot.providers.answers import read_capped, request_id
from bot.providers.batch_results import BatchFailure, BatchSuccess, parse_results
from bot.providers.error_answers import read_error
from bot.providers.retries import Attempt, Failed, Retries, Sleep
from bot.providers.targets import OpenAITarget, Target
from bot.providers.wire import generation_body

log = logging.getLogger(__name__)

ENDPOINT = "/v1/images/generations"
COMPLETION_WINDOW = "24h"  # the only window the API takes
MAX_REQUESTS = 50_000  # per input file, and 200 MB (openai-python batch_create_params.py)
MAX_INPUT_BYTES = 200 * 1024 * 1024
#: An upload may be 200 MB; everything else is small JSON, or a download read within its cap.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=300.0, pool=30.0)
DEFAULT_DEADLINE = 900.0  # one call, every attempt and wait included
MAX_DOWNLOAD_BYTES = 1024 * 1024 * 1024
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
_NO_OPTIONS = ImageOptions(model="")  # retries.py sizes its deadline from options; batch calls have one of their own


class BatchUnsupported(ImagebotError):
    """The provider has no Batch API imagebot can use (Azure's is another API; offline has none)."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"Batches run on OpenAI only; the {provider} provider has no Batch API imagebot can use.")
        self.provider = provider


@dataclass(frozen=True)
class FileInfo:
    """OpenAI's FileObject, as far as batches need it."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    expires_at: int | None = None


@dataclass(frozen=True)
class BatchProblem:
    """Why a batch failed as a whole (the Batch object's `errors`): `line` is the input file's, 1-based."""

    code: str | None
    message: str
    param: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class BatchInfo:
    """OpenAI's Batch object: where the batch is, its counts and its files (timestamps are Unix seconds)."""

    id: str
    status: str  # validating | in_progress | finalizing | completed | failed | expired | cancelling | cancelled
    input_file_id: str
    created_at: int
    expires_at: int | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    problems: tuple[BatchProblem, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    model: str | None = None
    times: Mapping[str, int] = field(default_factory=dict)  # "in_progress" -> in_progress_at, "completed" -> ...

    @property
    def ended(self) -> bool:
        """Whether the batch will not change again (its files, if any, are written)."""
        return self.status in TERMINAL


def batch_line(custom_id: str, request: GenerateRequest, *, end_user_field: str = "safety_identifier") -> str:
    """One line of the input file: the JSON body `ImageAPI.generate` sends for `request`, as a batch request."""
    if request.options.partial_images:
        raise InvalidRequest("A batch request cannot stream previews.", param="partial_images", status=None)
    body = generation_body(request, sends_model=True, end_user_field=end_user_field)
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body},
                      separators=(",", ":"))


def input_file(requests: Sequence[tuple[str, GenerateRequest]], *,
               end_user_field: str = "safety_identifier") -> bytes:
    """The JSONL input file of (custom_id, request) pairs: custom_ids unique, 1 to MAX_REQUESTS lines, 200 MB."""
    ids = [custom_id for custom_id, _ in requests]
    if not 1 <= len(ids) <= MAX_REQUESTS:
        raise InvalidRequest(f"A batch takes 1 to {MAX_REQUESTS:,} requests, not {len(ids):,}.", status=None)
    if len(set(ids)) != len(ids) or not all(ids):
        raise InvalidRequest("Each request of a batch needs its own custom_id.", param="custom_id", status=None)
    data = "".join(batch_line(i, r, end_user_field=end_user_field) + "\n" for i, r in requests).encode()
    if len(data) > MAX_INPUT_BYTES:
        raise InvalidRequest(f"A batch input file may be up to {MAX_INPUT_BYTES:,} bytes.", status=None)
    return data


class BatchAPI:
    """OpenAI's Batch API for image generations (see the module docstring)."""

    def __init__(self, http: httpx.AsyncClient, target: Target, *, end_user_field: str = "safety_identifier",
                 max_attempts: int = 3, max_backoff: float = 20.0, max_retry_after: float = 60.0,
                 sleep: Sleep = asyncio.sleep, deadline: float = DEFAULT_DEADLINE,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT, max_download_bytes: int = MAX_DOWNLOAD_BYTES) -> None:
        if not isinstance(target, OpenAITarget):
            raise BatchUnsupported(target.provider)
        self._http = http
        self._target = target
        self._end_user_field = end_user_field
        self._timeout = timeout
        self._max_download_bytes = max_download_bytes
        self._retries = Retries(max_attempts=max_attempts, max_backoff=max_backoff, max_retry_after=max_retry_after,
                                sleep=sleep, deadline=lambda options: deadline, clock=time.monotonic)

    async def upload(self, requests: Sequence[tuple[str, GenerateRequest]], *,
                     filename: str = "imagebot-batch.jsonl") -> FileInfo:
        """Upload the input file of (custom_id, request) pairs (purpose "batch")."""
        data = input_file(requests, end_user_field=self._end_user_field)
        answer = await self._json("upload", "POST", "/files", data={"purpose": "batch"},
                                  files={"file": (filename, data, "application/jsonl")})
        return _file_info(answer)

    async def create(self, input_file_id: str, *, metadata: Mapping[str, str] | None = None) -> BatchInfo:
        """Start a batch of the uploaded file's requests, within the 24 h window."""
        body: dict[str, Any] = {"input_file_id": input_file_id, "endpoint": ENDPOINT,
                                "completion_window": COMPLETION_WINDOW}
        if metadata:
            body["metadata"] = dict(metadata)
        return _batch_info(await self._json("create", "POST", "/batches", once=True, json=body))

    async def retrieve(self, batch_id: str) -> BatchInfo:
        return _batch_info(await self._json("retrieve", "GET", f"/batches/{_segment(batch_id)}"))

    async def cancel(self, batch_id: str) -> BatchInfo:
        """Ask OpenAI to stop the batch: it is `cancelling`, then `cancelled` with what finished in its files."""
        return _batch_info(await self._json("cancel", "POST", f"/batches/{_segment(batch_id)}/cancel"))

    async def file_info(self, file_id: str) -> FileInfo:
        return _file_info(await self._json("file", "GET", f"/files/{_segment(file_id)}"))

    async def content(self, file_id: str) -> bytes:
        """A file's bytes (an output or error file is JSONL), read to `max_download_bytes` at most."""
        return await self._send("content", "GET", f"/files/{_segment(file_id)}/content", read_all=True)

    async def results(self, file_id: str) -> tuple[BatchSuccess | BatchFailure, ...]:
        """An output or error file's lines: a BatchSuccess (images decoded, usage) or a BatchFailure each."""
        return parse_results(await self.content(file_id))

    async def _json(self, operation: str, method: str, path: str, *, once: bool = False,
                    **kwargs: Any) -> dict[str, Any]:
        content = await self._send(operation, method, path, once=once, **kwargs)
        try:
            answer = json.loads(content)
        except ValueError as exc:
            raise ServerError(f"The Batch API answered {operation} with something that is not JSON.") from exc
        if not isinstance(answer, dict):
            raise ServerError(f"The Batch API answered {operation} without an object.")
        return answer

    async def _send(self, operation: str, method: str, path: str, *, once: bool = False, read_all: bool = False,
                    **kwargs: Any) -> bytes:
        """One call, retried as retries.py says (`once`: only after a 429, which creates nothing)."""
        url = f"{self._target.base_url.rstrip('/')}{path}"
        cap = self._max_download_bytes if read_all else 1024 * 1024

        async def attempt_once(attempt: Attempt) -> bytes:
            request = self._http.build_request(method, url, headers=self._target.headers(), timeout=self._timeout,
                                               **kwargs)
            try:
                return await self._attempt(operation, request, attempt, once=once, cap=cap)
            except httpx.TransportError as exc:
                if once:  # the batch may have been created: never created twice
                    raise ServerError(f"The Batch API's answer to {operation} was lost ({type(exc).__name__}); "
                                      "the batch may exist.") from exc
                raise  # retried, as retries.py retries a lost connection

        return await self._retries.run(f"batch {operation}", _NO_OPTIONS, attempt_once, None)

    async def _attempt(self, operation: str, request: httpx.Request, attempt: Attempt, *, once: bool,
                       cap: int) -> bytes:
        """Send one request and read its answer within `cap`; an error status is `Failed` (retried) unless `once`
        and not a 429, then it is raised as it is."""
        response = await self._http.send(request, stream=True)
        try:
            log.info("batch api %s status=%s attempt=%d request_id=%s", operation, response.status_code,
                     attempt.number, request_id(response))
            if response.status_code >= 400:
                error = await read_error(response)
                if once and response.status_code != 429:
                    raise error
                raise Failed(error)
            attempt.answered, attempt.request_id = True, request_id(response)
            return bytes(await read_capped(response, cap))
        finally:
            await response.aclose()


def _segment(value: str) -> str:
    """An id as one path segment (ids are OpenAI's, but never let one walk the path)."""
    if not value or "/" in value or value in (".", ".."):
        raise InvalidRequest(f"{value!r} is not an id.", status=None)
    return value


def _file_info(answer: dict[str, Any]) -> FileInfo:
    try:
        return FileInfo(id=str(answer["id"]), filename=str(answer.get("filename") or ""),
                        purpose=str(answer.get("purpose") or ""), bytes=int(answer.get("bytes") or 0),
                        created_at=int(answer.get("created_at") or 0),
                        expires_at=int(answer["expires_at"]) if answer.get("expires_at") is not None else None)
    except (KeyError, TypeError, ValueError) as exc:
        raise ServerError("The Files API answered without a file object.") from exc


def _batch_info(answer: dict[str, Any]) -> BatchInfo:
    try:
        counts = answer.get("request_counts") or {}
        errors = (answer.get("errors") or {}).get("data") or []
        stamps = {key.removesuffix("_at"): int(value) for key, value in answer.items()
                  if key.endswith("_at") and key not in ("created_at", "expires_at") and value is not None}
        return BatchInfo(
            id=str(answer["id"]), status=str(answer["status"]), input_file_id=str(answer.get("input_file_id") or ""),
            created_at=int(answer.get("created_at") or 0),
            expires_at=int(answer["expires_at"]) if answer.get("expires_at") is not None else None,
            output_file_id=answer.get("output_file_id") or None, error_file_id=answer.get("error_file_id") or None,
            total=int(counts.get("total") or 0), completed=int(counts.get("completed") or 0),
            failed=int(counts.get("failed") or 0),
            problems=tuple(BatchProblem(code=e.get("code"), message=str(e.get("message") or ""),
                                        param=e.get("param"), line=e.get("line")) for e in errors),
            metadata=dict(answer.get("metadata") or {}), model=answer.get("model") or None, times=stamps,
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ServerError("The Batch API answered without a batch object.") from exc
