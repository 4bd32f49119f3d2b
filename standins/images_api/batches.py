"""The Batch API for image generations, and the Files routes it uses: POST /v1/files, GET /v1/files/{id} and
/content, POST /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel.

A batch moves on the stand-in's batch clock (`batch_now`, moved by `advance`), never on its own: each look at it
(GET, cancel) first brings it up to that moment. Its life:

    validating --(batch_validating_seconds)--> in_progress, or failed (the input file is wrong as a whole)
    in_progress: request i (0-based) finishes batch_line_seconds × (i + 1) after in_progress_at
    in_progress --(all finished)--> finalizing --(batch_finalizing_seconds)--> completed
    cancel: cancelling --(batch_cancelling_seconds)--> cancelled; past expires_at (24 h): expired

A request runs as the synchronous generation would (the same validation against the schema and the catalogue, the
same picture and usage), and its answer becomes a line of the output file (200) or of the error file (4xx/5xx).
When a batch expires or is cancelled, the requests finished by then are in the output or error file and the rest
in the error file with `response: null` and code batch_expired / batch_cancelled.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.money.catalogue import Catalogue
from standins.images_api.answers import new_request_id, respond
from standins.images_api.batch_lines import (
    TERMINAL,
    WINDOW_SECONDS,
    BatchState,
    InputLine,
    LineResult,
    create_params,
    jsonl,
    read_input,
    unfinished_line,
)
from standins.images_api.bodies import Body, read_body
from standins.images_api.errors import Reject, api_error
from standins.images_api.faults import Fault, FaultContext
from standins.images_api.files import StoredFile, new_id, no_such_file, uploaded_file
from standins.images_api.jobs import Job, resolve
from standins.images_api.records import RecordedRequest
from standins.images_api.usage import image_usage
from standins.images_api.validation import validate

#: What fail_lines() makes a request answer: a moderation block, or a server error.
LINE_FAULTS = ("moderation", "server_error")
Serve = Callable[[web.Request, Body], Awaitable[web.StreamResponse | dict[str, Any]]]


class BatchRoutes:
    """The Files and Batch routes, the batches' clock and their controls. A part of ImageAPIStandIn."""

    catalogue: Catalogue
    added_models: dict[str, str]
    svg_model_required: bool
    #: Seconds on the batch clock each stage takes (instance attributes may change them).
    batch_validating_seconds = 10.0
    batch_line_seconds = 10.0
    batch_finalizing_seconds = 0.0
    batch_cancelling_seconds = 10.0

    if TYPE_CHECKING:  # provided by the other parts of ImageAPIStandIn
        def _check_openai_auth(self, request: web.Request) -> str: ...
        def _take_fault(self, operation: str) -> Fault | None: ...
        def _served(self, model: str, flavor: str) -> Any: ...
        async def _images_answer(self, job: Job, usage: dict[str, Any]) -> dict[str, Any]: ...
        async def _fault_answer(self, fault: Fault, context: FaultContext, request: web.Request,
                                record: RecordedRequest, headers: dict[str, str]) -> web.StreamResponse: ...

    def _init_batches(self) -> None:
        #: The batch clock (Unix seconds); None: the real time. `advance()` sets it.
        self.batch_now: float | None = None
        self.files: dict[str, StoredFile] = {}
        self.batches: dict[str, BatchState] = {}
        #: Requests to the Files and Batch routes (kept apart from `requests`, the image calls tests count).
        self.batch_requests: list[RecordedRequest] = []
        self._line_faults: dict[str, str] = {}

    def _add_batch_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/files", self._files_create)
        router.add_get("/v1/files/{file_id}", self._files_retrieve)
        router.add_get("/v1/files/{file_id}/content", self._files_content)
        router.add_post("/v1/batches", self._batches_create)
        router.add_get("/v1/batches/{batch_id}", self._batches_retrieve)
        router.add_post("/v1/batches/{batch_id}/cancel", self._batches_cancel)

    # -- controls --------------------------------------------------------------------------------------------------

    def batch_time(self) -> float:
        """Now, on the batch clock."""
        return self.batch_now if self.batch_now is not None else time.time()

    def advance(self, seconds: float) -> float:
        """Move the batch clock `seconds` forward (from the real time if it was not set, then it stays set)."""
        self.batch_now = self.batch_time() + seconds
        return self.batch_now

    def fail_batch(self, batch_id: str, *, code: str = "server_error",
                   message: str = "The batch failed because of an error on the server.") -> None:
        """Fail the batch at its next look (unless it has already ended), with this one error."""
        self.batches[batch_id].forced_failure = {"code": code, "message": message, "param": None, "line": None}

    def expire_batch(self, batch_id: str) -> None:
        """Bring the batch's expiry to now: at its next look it has expired (unless it has already ended)."""
        batch = self.batches[batch_id]
        batch.expires_at = min(batch.expires_at, self.batch_time())

    def fail_lines(self, *custom_ids: str, kind: str = "moderation") -> None:
        """Make the requests with these custom_ids fail when they run: a 400 moderation_blocked ("moderation") or
        a 500 ("server_error"), written to the error file."""
        if kind not in LINE_FAULTS:
            raise ValueError(f"kind must be one of {LINE_FAULTS}")
        self._line_faults.update(dict.fromkeys(custom_ids, kind))

    # -- routes ----------------------------------------------------------------------------------------------------

    async def _files_create(self, request: web.Request) -> web.StreamResponse:
        async def serve(_: web.Request, body: Body) -> dict[str, Any]:
            stored = uploaded_file(body, int(self.batch_time()))
            self.files[stored.id] = stored
            return stored.object()

        return await self._batch_route(request, "files", serve, read=True)

    async def _files_retrieve(self, request: web.Request) -> web.StreamResponse:
        async def serve(_: web.Request, body: Body) -> dict[str, Any]:
            return self._file(request.match_info["file_id"]).object()

        return await self._batch_route(request, "files", serve)

    async def _files_content(self, request: web.Request) -> web.StreamResponse:
        async def serve(_: web.Request, body: Body) -> web.StreamResponse:
            return web.Response(body=self._file(request.match_info["file_id"]).data,
                                content_type="application/octet-stream")

        return await self._batch_route(request, "files", serve)

    async def _batches_create(self, request: web.Request) -> web.StreamResponse:
        async def serve(_: web.Request, body: Body) -> dict[str, Any]:
            file_id, endpoint, window, metadata = create_params(body)
            stored = self.files.get(file_id)
            if stored is None:
                raise no_such_file(file_id, param="input_file_id")
            if stored.purpose != "batch":
                raise api_error(400, f"The input file {file_id} must be uploaded with purpose 'batch'.",
                                param="input_file_id", code="invalid_value")
            now = self.batch_time()
            batch = BatchState(new_id("batch_"), file_id, endpoint, window, metadata, created_at=now,
                               expires_at=now + WINDOW_SECONDS[window])
            self.batches[batch.id] = batch
            return batch.object()

        return await self._batch_route(request, "batches", serve, read=True)

    async def _batches_retrieve(self, request: web.Request) -> web.StreamResponse:
        async def serve(_: web.Request, body: Body) -> dict[str, Any]:
            batch = await self._looked_at(request.match_info["batch_id"])
            return batch.object()

        return await self._batch_route(request, "batches", serve)

    async def _batches_cancel(self, request: web.Request) -> web.StreamResponse:
        async def serve(_: web.Request, body: Body) -> dict[str, Any]:
            batch = await self._looked_at(request.match_info["batch_id"])
            if batch.status in TERMINAL or batch.status == "cancelling":
                raise api_error(409, f"Cannot cancel a batch with status '{batch.status}'.")
            batch.status, batch.times["cancelling"] = "cancelling", self.batch_time()
            return batch.object()

        return await self._batch_route(request, "batches", serve)

    async def _batch_route(self, request: web.Request, operation: str, serve: Serve,
                           read: bool = False) -> web.StreamResponse:
        """Record, auth, queued faults (for "files" / "batches" by name), then `serve`'s answer or its Reject."""
        request_id = new_request_id()
        headers = {"x-request-id": request_id, "openai-version": "2020-10-01", "openai-organization": "org-standin"}
        record = RecordedRequest(flavor="openai", operation=operation, path=request.path, query=dict(request.query),
                                 headers={k.lower(): v for k, v in request.headers.items()},
                                 content_type=request.content_type if read else "")
        self.batch_requests.append(record)
        try:
            presented_key = self._check_openai_auth(request)
            body = await read_body(request, operation) if read else Body("json", json={})
            record.json, record.fields, record.files = (body.json if read else None), body.fields, body.files
            fault = self._take_fault(operation)
            if fault is not None:
                context = FaultContext("openai", operation, "", request_id, None, presented_key)
                return await self._fault_answer(fault, context, request, record, headers)
            answer = await serve(request, body)
        except Reject as reject:
            record.status = reject.status
            return respond(reject.status, reject.body, {**headers, **reject.headers})
        record.status = 200
        if isinstance(answer, web.StreamResponse):
            answer.headers.update(headers)
            return answer
        return respond(200, answer, headers)

    def _file(self, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None:
            raise no_such_file(file_id)
        return stored

    # -- the batch's life ------------------------------------------------------------------------------------------

    async def _looked_at(self, batch_id: str) -> BatchState:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise api_error(404, f"No such Batch object: {batch_id}", param="batch_id")
        await self._catch_up(batch)
        return batch

    async def _catch_up(self, batch: BatchState) -> None:
        """Bring `batch` up to now on the batch clock: every change due by then, in order."""
        now = self.batch_time()
        while batch.status not in TERMINAL:
            if batch.forced_failure is not None:
                batch.errors, batch.status, batch.times["failed"] = [batch.forced_failure], "failed", now
                return
            due = self._due(batch)
            if batch.status != "cancelling" and batch.expires_at <= min(now, due):
                await self._end(batch, "expired", batch.expires_at, stop=batch.expires_at)
                return
            if due > now:  # the requests finished so far, for request_counts (none more after a cancel)
                await self._run_finished(batch, min(now, batch.times.get("cancelling", now)))
                return
            if batch.status == "validating":
                self._validate(batch, due)
            elif batch.status == "in_progress":
                await self._run_finished(batch, due)
                batch.status, batch.times["finalizing"] = "finalizing", due
            elif batch.status == "finalizing":
                await self._end(batch, "completed", due, stop=due)
            else:
                await self._end(batch, "cancelled", due, stop=batch.times["cancelling"])

    def _due(self, batch: BatchState) -> float:
        """When the batch's current stage ends (if nothing else happens first)."""
        if batch.status == "validating":
            return batch.created_at + self.batch_validating_seconds
        if batch.status == "in_progress":
            return batch.times["in_progress"] + self.batch_line_seconds * len(batch.lines)
        if batch.status == "finalizing":
            return batch.times["finalizing"] + self.batch_finalizing_seconds
        return batch.times["cancelling"] + self.batch_cancelling_seconds

    def _validate(self, batch: BatchState, at: float) -> None:
        def refuses_batch(model: str) -> bool:
            known = self.added_models.get(model, model)
            return known in self.catalogue and not self.catalogue.supports_batch(known, "openai")

        stored = self.files[batch.input_file_id]
        batch.lines, errors = read_input(stored.data, batch.endpoint, refuses_batch)
        if errors:
            batch.errors, batch.status, batch.times["failed"] = errors, "failed", at
            return
        model = batch.lines[0].body.get("model")
        batch.model = model if isinstance(model, str) else None
        batch.status, batch.times["in_progress"] = "in_progress", at

    def _finished_by(self, batch: BatchState, moment: float) -> int:
        """How many of the batch's requests have finished by `moment`."""
        started = batch.times.get("in_progress")
        if started is None or moment < started:
            return 0
        if self.batch_line_seconds <= 0:
            return len(batch.lines)
        return min(len(batch.lines), int((moment - started) // self.batch_line_seconds))

    async def _run_finished(self, batch: BatchState, moment: float) -> None:
        """Run the requests that have finished by `moment` and were not run yet."""
        for index in range(self._finished_by(batch, moment)):
            if index not in batch.results:
                batch.results[index] = await self._run(batch.lines[index])

    async def _run(self, line: InputLine) -> LineResult:
        """One request, answered as POST /v1/images/generations would answer it (not streamed)."""
        request_id = new_request_id()
        try:
            job = validate(Body("json", json=dict(line.body)), flavor="openai", operation="generations",
                           deployment_model=None, served=self._served, svg_model_required=self.svg_model_required)
            if job.stream:
                raise api_error(400, "Streaming is not supported in the Batch API.", param="stream",
                                code="unsupported_parameter")
            resolve(job)
            usage = image_usage(job, self.catalogue)
            fault = self._line_faults.get(line.custom_id)
            if fault is not None:
                raise _line_fault(fault, request_id)
            return LineResult(line, 200, await self._images_answer(job, usage), request_id)
        except Reject as reject:
            body = reject.body if isinstance(reject.body, dict) else {"error": {"message": str(reject.body)}}
            return LineResult(line, reject.status, body, request_id)

    async def _end(self, batch: BatchState, state: str, at: float, *, stop: float) -> None:
        """End the batch as `state` at `at`: the requests finished by `stop` in the output and error files, the
        rest (expired, cancelled) in the error file as never run."""
        await self._run_finished(batch, stop)
        finished = self._finished_by(batch, stop)
        results = [batch.results[i] for i in range(finished)]
        never_ran = [unfinished_line(line, state) for line in batch.lines[finished:]]
        batch.unfinished = len(never_ran)
        good = [r.output() for r in results if r.status == 200]
        bad = [r.output() for r in results if r.status != 200] + never_ran
        batch.output_file_id = self._keep(batch.id, "output", good)
        batch.error_file_id = self._keep(batch.id, "error", bad)
        batch.status, batch.times[state] = state, at

    def _keep(self, batch_id: str, kind: str, items: list[dict[str, Any]]) -> str | None:
        if not items:
            return None
        stored = StoredFile(new_id("file-"), f"{batch_id}_{kind}.jsonl", "batch_output", jsonl(items),
                            int(self.batch_time()))
        self.files[stored.id] = stored
        return stored.id


def _line_fault(kind: str, request_id: str) -> Reject:
    if kind == "server_error":
        return api_error(500, "The server had an error while processing your request. Sorry about that! (Please "
                              f"include the request ID {request_id} in your message.)", type="server_error")
    return api_error(
        400, "Your request was rejected by the safety system. If you believe this is an error, contact us at "
             f"help.openai.com and include the request ID {request_id}. safety_violations=[sexual].",
        type="image_generation_user_error", code="moderation_blocked",
        moderation_details={"moderation_stage": "input", "categories": ["sexual"]},
    )
