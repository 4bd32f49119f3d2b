"""ImageAPIStandIn: the aiohttp server on loopback, its routes, and the controls tests use (see the package's
docstring for what it emulates)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from datetime import date
from typing import Any, Protocol

from aiohttp import web

from bot.money.catalogue import Catalogue
from standins.images_api import pictures
from standins.images_api.answers import b64, data_item, new_request_id, respond, send_event
from standins.images_api.auth import Auth
from standins.images_api.batches import BatchRoutes
from standins.images_api.bodies import model_hint, read_body
from standins.images_api.errors import Reject, api_error, azure_error, model_shut_down, status_error
from standins.images_api.facts import DEFAULT_AZURE_DEPLOYMENTS, MB, OTHER_MODELS
from standins.images_api.faults import Fault, FaultContext, FaultControls
from standins.images_api.gate import Gate, PauseGate
from standins.images_api.inputs import inspect_inputs
from standins.images_api.jobs import Job, resolve
from standins.images_api.records import RecordedRequest
from standins.images_api.usage import image_usage, svg_usage
from standins.images_api.validation import validate
from standins.images_api.world import World


class Finish(Protocol):
    """How _handle's answer is written: the status, the body, headers over the usual ones; timed from arrival."""

    def __call__(self, status: int, body: dict[str, Any] | str, extra: dict[str, str] | None = None) -> web.Response:
        ...


class ImageAPIStandIn(Auth, World, FaultControls, PauseGate, BatchRoutes):
    """A local OpenAI Images API + Azure OpenAI image deployments. See the package's docstring."""

    #: Input file limits (openai-python image_edit_params: images < 50 MB, mask < 4 MB). Instance attributes may be
    #: lowered in tests to exercise the checks cheaply.
    max_image_bytes = 50 * MB
    max_mask_bytes = 4 * MB

    def __init__(
        self, *, api_key: str = "sk-standin", azure_api_key: str = "azure-standin-key",
        azure_deployments: dict[str, str] | None = None, latency: float = 0.0, image_kind: str = "flat",
        catalogue: Catalogue | None = None, today: date | None = None,
    ) -> None:
        if image_kind not in ("flat", "photo"):
            raise ValueError("image_kind must be 'flat' or 'photo'")
        self.api_key = api_key
        self.azure_api_key = azure_api_key
        self.azure_deployments = dict(DEFAULT_AZURE_DEPLOYMENTS if azure_deployments is None else azure_deployments)
        self.latency = latency
        self.image_kind = image_kind
        self.catalogue = catalogue if catalogue is not None else Catalogue.load()
        #: The stand-in's day (None: the real UTC date, read per request). See `today`.
        self._today = today
        #: The world: models the provider has shut down whatever the catalogue says (both flavours).
        self.shut_down: set[str] = set()
        #: The world: model -> its shutdown date (date, "YYYY-MM-DD" or None), replacing the catalogue's.
        self.shutdown_dates: dict[str, date | str | None] = {}
        #: The world: models the catalogue does not know, served with another model's capabilities (add_model).
        self.added_models: dict[str, str] = {}
        #: Non-image models GET /v1/models lists too.
        self.other_models: list[str] = list(OTHER_MODELS)
        #: GET /v1/models answers this status (with OpenAI's error body) instead of the list; None: the list.
        self.model_list_status: int | None = None
        #: GET /v1/models answers an empty list.
        self.model_list_empty = False
        #: A missing svg.model is a 400 "SVG generation requires 'svg.model'" (SVG model selection enabled).
        self.svg_model_required = False
        self.requests: list[RecordedRequest] = []
        #: GET /v1/models and /v1/models/{id} (only the retrieves are also in `requests`).
        self.model_requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopped = asyncio.Event()
        self._arrived = asyncio.Event()
        self._gate: Gate | None = None  # set while paused
        self._held_changed = asyncio.Event()
        self._init_batches()  # files, batches and the batch clock (batches.py)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the stand-in is already running")
        self._stopped = asyncio.Event()
        # Edits carry up to 16 images of < 50 MB each, a mask and markup; aiohttp's default body limit is 1 MB.
        served = (self.catalogue.capabilities(m, "openai") for m in self.catalogue.ids)
        most_inputs = max((caps.max_inputs for caps in served if caps is not None), default=16)
        app = web.Application(client_max_size=(most_inputs + 2) * 50 * MB)
        app.router.add_post("/v1/images/generations", self._openai_generations)
        app.router.add_post("/v1/images/edits", self._openai_edits)
        app.router.add_get("/v1/models", self._openai_models)
        app.router.add_get("/v1/models/{model}", self._openai_model)
        self._add_batch_routes(app.router)
        app.router.add_post("/openai/deployments/{deployment}/images/generations", self._azure_generations)
        app.router.add_post("/openai/deployments/{deployment}/images/edits", self._azure_edits)
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._host = host
        self._port = runner.addresses[0][1]

    async def stop(self) -> None:
        """Release hanging, held and delayed requests, then shut the server down. Safe to call twice."""
        self._stopped.set()
        self._gate = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> ImageAPIStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_for_requests(self, count: int = 1, *, timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until at least `count` requests have arrived (answered or not, e.g. hanging); return them."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.requests[:count]

    @property
    def openai_base_url(self) -> str:
        return f"http://{self._address()}/v1"

    @property
    def azure_endpoint(self) -> str:
        return f"http://{self._address()}"

    def _address(self) -> str:
        if self._port is None:
            raise RuntimeError("start() the stand-in first")
        return f"{self._host}:{self._port}"

    # -- routes --------------------------------------------------------------------------------------------

    async def _openai_generations(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai", "generations")

    async def _openai_edits(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai", "edits")

    async def _azure_generations(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "azure", "generations")

    async def _azure_edits(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "azure", "edits")

    async def _openai_models(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/models: the models this world serves, each with `shutdown_date` (YYYY-MM-DD or null)."""
        return await self._models_route(request, None)

    async def _openai_model(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/models/{model} (retrieve a model): free, so it is how a client proves a key works."""
        return await self._models_route(request, request.match_info["model"])

    async def _models_route(self, request: web.Request, model: str | None) -> web.StreamResponse:
        request_id = new_request_id()
        headers = {"x-request-id": request_id, "openai-version": "2020-10-01", "openai-organization": "org-standin"}
        record = RecordedRequest(flavor="openai", operation="models", path=request.path, query=dict(request.query),
                                 headers={k.lower(): v for k, v in request.headers.items()})
        # The list is kept apart from `requests` (the image calls, which tests count): the app looks at it at
        # start-up. A retrieve (doctor's key check) is in `requests` too, as it always was.
        self.model_requests.append(record)
        if model is not None:
            self.requests.append(record)
        self._arrived.set()
        try:
            presented_key = self._check_openai_auth(request)
            fault = self._take_fault("models")
            if fault is not None:
                if fault.build is None:
                    await self._stopped.wait()
                    raise api_error(503, "The stand-in was stopped while this request was hanging.",
                                    type="server_error")
                raise fault.build(FaultContext("openai", "models", model or "", request_id, None, presented_key))
            if model is None:
                if self.model_list_status is not None:
                    raise status_error(self.model_list_status, request_id)
                body: dict[str, Any] = {"object": "list",
                                        "data": [] if self.model_list_empty else self.listed_models()}
            elif model in self.other_models and not self.is_shut_down(model):
                body = self._model_object(model)
            elif self.is_shut_down(model):
                raise model_shut_down(model)
            elif self.capabilities(model) is not None:
                body = self._model_object(model)
            else:
                raise api_error(404, f"The model `{model}` does not exist or you do not have access to it.",
                                param="model", code="model_not_found")
        except Reject as reject:
            record.status = reject.status
            return respond(reject.status, reject.body, {**headers, **reject.headers})
        record.status = 200
        return respond(200, body, headers)

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/openai/"):
            reject = azure_error(404, "404", "Resource not found")
        else:  # OpenAI's answer for a path it does not serve
            reject = api_error(404, f"Invalid URL ({request.method} {request.path})")
        return respond(reject.status, reject.body, {"x-request-id": new_request_id()})

    async def _handle(self, request: web.Request, flavor: str, operation: str) -> web.StreamResponse:
        started = time.monotonic()
        request_id = new_request_id()
        headers = {"x-request-id": request_id, "openai-version": "2020-10-01"}
        if flavor == "azure":
            headers["apim-request-id"] = str(uuid.uuid4())
        else:
            headers["openai-organization"] = "org-standin"
        record = RecordedRequest(
            flavor=flavor, operation=operation, path=request.path, query=dict(request.query),
            headers={k.lower(): v for k, v in request.headers.items()}, content_type=request.content_type,
        )
        self.requests.append(record)
        self._arrived.set()

        def finish(status: int, body: dict[str, Any] | str, extra: dict[str, str] | None = None) -> web.Response:
            record.status = status
            elapsed = int((time.monotonic() - started) * 1000)
            return respond(status, body, {**headers, "openai-processing-ms": str(elapsed), **(extra or {})})

        try:
            return await self._serve(request, record, flavor, operation, request_id, headers, finish, started)
        except Reject as reject:
            return finish(reject.status, reject.body, reject.headers)
        except Exception:  # a stand-in bug (aiohttp answers 500 and logs it), or a client gone mid-stream
            record.status = record.status or 500
            raise

    async def _serve(
        self, request: web.Request, record: RecordedRequest, flavor: str, operation: str, request_id: str,
        headers: dict[str, str], finish: Finish, started: float,
    ) -> web.StreamResponse:
        """Auth, then queued faults, then validation, the pause gate and the answer: the real API's order."""
        if flavor == "azure":
            api_version, deployment_model, presented_key = self._check_azure_route(request)
        else:
            api_version, deployment_model, presented_key = None, None, self._check_openai_auth(request)

        # Auth is settled: from here on, queued faults (a healthy account's problems) take precedence.
        body = await read_body(request, operation)
        record.json = body.json
        record.fields = body.fields
        record.files = body.files
        fault = self._take_fault(operation)
        if fault is not None:
            model = deployment_model or model_hint(body, operation)
            context = FaultContext(flavor, operation, model, request_id, api_version, presented_key)
            return await self._fault_answer(fault, context, request, record, headers)

        if body.problem is not None:
            raise body.problem
        job = validate(body, flavor=flavor, operation=operation, deployment_model=deployment_model,
                       served=self._served, svg_model_required=self.svg_model_required)
        if operation == "edits":
            assert job.caps is not None
            job.images, job.mask, job.markup = await asyncio.to_thread(
                inspect_inputs, body, job.caps.max_inputs, self.max_image_bytes, self.max_mask_bytes
            )
        resolve(job)
        usage = image_usage(job, self.catalogue)

        await self._hold(record)
        if job.stream:
            return await self._stream(request, record, job, usage, headers, started)
        await self._pause(self.latency)
        return finish(200, await self._images_answer(job, usage))

    async def _fault_answer(self, fault: Fault, context: FaultContext, request: web.Request, record: RecordedRequest,
                            headers: dict[str, str]) -> web.StreamResponse:
        """A queued fault's answer: written by the fault itself, a hang until stop(), or its error."""
        if fault.answer is not None:
            return await fault.answer(request, record, headers)
        if fault.build is None:
            await self._stopped.wait()
            raise api_error(503, "The stand-in was stopped while this request was hanging.", type="server_error")
        raise fault.build(context)

    async def _images_answer(self, job: Job, usage: dict[str, Any]) -> dict[str, Any]:
        """The ImagesResponse of a call that is not streamed."""
        # Through the module, so that a benchmark may swap the renderer (bench/standins_process.py caches).
        drawn = await asyncio.to_thread(pictures.render_all, job, self.image_kind)
        result: dict[str, Any] = {
            "created": int(time.time()),
            "data": [data_item(p, job.flavor) for p in drawn],
            "background": job.resolved_background,
            "output_format": job.output_format,
            "quality": job.resolved_quality,
            "size": job.resolved_size,
            "usage": usage,
        }
        if job.safety_identifier:
            result["safety_identifier"] = job.safety_identifier
        if job.output_format == "svg":
            result["svg_usage"] = svg_usage(job, drawn[0], self.catalogue)
        return result

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, but no longer than until stop()."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def _stream(
        self, request: web.Request, record: RecordedRequest, job: Job, usage: dict[str, Any], headers: dict[str, str],
        started: float,
    ) -> web.StreamResponse:
        """SSE: per image, `partial_images` partial events then one completed event. Events echo the requested
        size/quality/background (so 'auto' can appear). The completed event's usage is the ImagesUsage shape (no
        output_tokens_details) and, with n > 1, every completed event carries the whole request's usage (the real
        API's behaviour for n > 1 is undocumented). Completed events carry the safety_identifier in effect."""
        response = web.StreamResponse(status=200, headers={
            **headers, "Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache",
            "openai-processing-ms": str(int((time.monotonic() - started) * 1000)),
        })
        record.status = 200
        await response.prepare(request)
        stream_usage = {k: v for k, v in usage.items() if k != "output_tokens_details"}
        step = self.latency / (job.partial_images + 1)
        echo = {"size": job.size, "quality": job.quality, "background": job.background,
                "output_format": job.output_format}
        identity = {"safety_identifier": job.safety_identifier} if job.safety_identifier else {}
        for index in range(job.n):
            for partial in range(job.partial_images):
                await self._pause(step)
                picture = await asyncio.to_thread(pictures.render_one, job, index, self.image_kind, partial)
                await send_event(response, f"{job.event_prefix}.partial_image", {
                    "type": f"{job.event_prefix}.partial_image", "b64_json": b64(picture),
                    "created_at": int(time.time()), **echo, "partial_image_index": partial,
                })
            await self._pause(step)
            picture = await asyncio.to_thread(pictures.render_one, job, index, self.image_kind, None)
            await send_event(response, f"{job.event_prefix}.completed", {
                "type": f"{job.event_prefix}.completed", "b64_json": b64(picture),
                "created_at": int(time.time()), **echo, "usage": stream_usage, **identity,
            })
        await response.write_eof()
        return response
