"""The image API client: OpenAI and Azure OpenAI, over one injected `httpx.AsyncClient`.

Generations are JSON; edits are multipart: one input as `image`, several as `image[]` (as the official SDK sends
them), an optional `mask` or `markup` PNG, nested options in bracket notation (`svg[model]`). The client always sends
`model` to OpenAI (the spec's implicit defaults are shut-down models) and never sends the DALL·E-only
`response_format` or `style`. What a model accepts is decided before this client is called (bot/rules/options.py and the
catalogue); this client sends what the options say. The end user's hashed id goes as `safety_identifier` on OpenAI
and as `user` on Azure, whose api-version knows no other (the catalogue's `end_user_field`).
Azure routes by deployment (`/openai/deployments/{name}/images/...?api-version=`) with an `api-key` header.

Waits are bounded: one deadline for the whole request (`deadline(options)` seconds, every attempt and backoff wait
inside it: IMAGEBOT_REQUEST_TIMEOUT_SECONDS, or sized from the model's typical latency by bot/runtime/services.py), the
HTTP client's timeouts, at most `max_attempts` tries, backoff capped at `max_backoff` and never slept past the
deadline, and a `Retry-After` honoured only up to `max_retry_after` (a longer one is handed to the user as "try
again in …" instead of a silent hang). A deadline that passes is `DeadlineExceeded`.

Money: once a 2xx status has arrived the provider may bill the call, whatever happens to the body. An answer that
breaks off mid-body is tried again only after the lost attempt is handed to `on_lost` (the caller writes it a
ledger row); one that cannot be read to its end (too large, undecodable, a stream cut after its first event) is
`AnswerLost` and not retried. A successful answer is read in chunks and never past `answer_cap` bytes, so a
runaway body cannot take the process's memory with it.

Streaming (https://developers.openai.com/api/docs/guides/image-generation): with `ImageOptions.partial_images` > 0
the request carries `stream: true` and `partial_images`,
and the answer is Server-Sent Events: `<prefix>.partial_image` previews, then one `<prefix>.completed` per image
(`image_generation.*` for generations, `image_edit.*` for edits). Previews go to the caller's `on_partial` as they
arrive. A stream is retried only while nothing has arrived: once an event is in, the call may be billed. Its reading
is bounded by the read timeout (per chunk), `max_stream_bytes` and `max_stream_events`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from bot.errors import (
    AnswerLost,
    AnswerTooLarge,
    AuthenticationFailed,
    DeadlineExceeded,
    ImageAPIError,
    InvalidRequest,
    ModelUnavailable,
    ModerationBlocked,
    OrganizationNotVerified,
    PermissionDenied,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from bot.models import (
    EditRequest,
    GenerateRequest,
    ImageOptions,
    ImageResult,
    LostAnswer,
    OutputImage,
    PartialImage,
)
from bot.money.pricing import SvgUsage, Usage

log = logging.getLogger(__name__)
T = TypeVar("T")

# Image generation can take two minutes and more at high quality; the read timeout covers the whole wait.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=30.0)
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif", "svg": "image/svg+xml"}
#: A safety_identifier longer than this is refused (the Responses API caps it at 64; keep image calls within it).
MAX_SAFETY_IDENTIFIER = 64
# A stream carries up to n × (partial_images + 1) full pictures in base64: 10 × 4 large PNGs stay well under this.
MAX_STREAM_BYTES = 200 * 1024 * 1024
MAX_STREAM_EVENTS = 200  # at most 10 × (3 + 1) = 40 are expected
MAX_ERROR_BYTES = 64 * 1024  # an error answer's body read at most (a real one is a few hundred bytes of JSON)
MAX_PARTIAL_IMAGES = 3  # `partial_images`: 0–3 (the API reference)
_MIB = 1024 * 1024
# The cap on a successful answer, per requested image. The largest image any catalogue model makes is 3840x2160
# (gpt-image-2's free-size rule, max_pixels 8,294,400): 33.2 MB as raw RGBA, which a PNG never exceeds by more than
# a row byte and a few block headers, and 44.2 MB as base64. 48 MiB a picture is well above any real one; a GIF
# frame is one palette byte a pixel, so an animated GIF gets a quarter of that per frame. The JSON around the
# pictures is given 1 MiB.
MAX_IMAGE_ANSWER_BYTES = 48 * _MIB
ANSWER_ENVELOPE_BYTES = _MIB
MAX_GIF_FRAMES = 16  # frame_count's upper bound (the SDK), for a GIF asked for without one
# Without IMAGEBOT_REQUEST_TIMEOUT_SECONDS or a catalogue to size it from (bot/runtime/services.py passes one in).
DEFAULT_DEADLINE = 600.0


@dataclass(frozen=True)
class OpenAITarget:
    base_url: str
    api_key: str = field(repr=False)
    provider = "openai"

    def url(self, operation: str) -> str:
        return f"{self.base_url.rstrip('/')}/images/{operation}"

    def model_url(self, model: str) -> str:
        """GET it to learn whether the key works and can use `model`: free, nothing is made (`imagebot doctor`)."""
        return f"{self.base_url.rstrip('/')}/models/{quote(model, safe='')}"

    def models_url(self) -> str:
        """GET /v1/models: every model the key lists, with its `shutdown_date`."""
        return f"{self.base_url.rstrip('/')}/models"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    @property
    def sends_model(self) -> bool:
        return True


@dataclass(frozen=True)
class AzureTarget:
    endpoint: str
    api_key: str = field(repr=False)
    deployment: str
    api_version: str
    provider = "azure"

    def url(self, operation: str) -> str:
        return (f"{self.endpoint.rstrip('/')}/openai/deployments/{self.deployment}/images/{operation}"
                f"?api-version={self.api_version}")

    def headers(self) -> dict[str, str]:
        return {"api-key": self.api_key}

    @property
    def sends_model(self) -> bool:
        # The deployment names the model; Azure's 2025-04-01-preview schema has no use for `model`.
        return False


Target = OpenAITarget | AzureTarget
Sleep = Callable[[float], Awaitable[None]]
OnPartial = Callable[[PartialImage], Awaitable[None]]
OnLost = Callable[[LostAnswer], Awaitable[None]]


def answer_cap(options: ImageOptions, per_image: int = MAX_IMAGE_ANSWER_BYTES) -> int:
    """The most bytes imagebot reads of a successful answer to `options` (see MAX_IMAGE_ANSWER_BYTES)."""
    if options.output_format == "gif":
        per_image = max(per_image, per_image * (options.frames or MAX_GIF_FRAMES) // 4)
    return options.n * per_image + ANSWER_ENVELOPE_BYTES


class ImageAPI:
    """Calls the image API and returns `ImageResult`s, or raises one of bot.errors' ImageAPIError classes."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        target: Target,
        *,
        max_attempts: int = 3,
        max_backoff: float = 20.0,
        max_retry_after: float = 60.0,
        sleep: Sleep = asyncio.sleep,
        max_stream_bytes: int = MAX_STREAM_BYTES,
        max_stream_events: int = MAX_STREAM_EVENTS,
        partial_timeout: float = 30.0,
        max_reading: int = 2,
        end_user_field: str = "safety_identifier",
        deadline: Callable[[ImageOptions], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_answer_bytes: int | None = None,
    ) -> None:
        self._http = http
        self._deadline = deadline or (lambda options: DEFAULT_DEADLINE)
        self._clock = clock  # the deadline's clock; the waits themselves are the event loop's and `sleep`
        self._max_answer_bytes = max_answer_bytes  # None: answer_cap(options)
        self._end_user_field = end_user_field
        self._reading = asyncio.Semaphore(max_reading)
        self._target = target
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._sleep = sleep
        self._max_stream_bytes = max_stream_bytes
        self._max_stream_events = max_stream_events
        self._partial_timeout = partial_timeout  # how long one on_partial call may take before it is abandoned

    @property
    def provider(self) -> str:
        return self._target.provider

    async def generate(self, request: GenerateRequest, on_partial: OnPartial | None = None,
                       on_lost: OnLost | None = None) -> ImageResult:
        """One generation. With `options.partial_images` > 0 it streams, awaiting `on_partial` for each preview.
        `on_lost` is awaited for each attempt whose successful answer broke off before it was tried again."""
        options = request.options
        body: dict[str, Any] = {"prompt": request.prompt, **self._common_fields(request.options, request.user)}
        if options.moderation:
            body["moderation"] = options.moderation  # generations only: the edits endpoint has no such field
        if options.output_format == "svg" and options.svg_model:
            body["svg"] = {"model": options.svg_model}
        if request.options.partial_images:
            body.update(stream=True, partial_images=_partial_images(request.options))
            return await self._stream("generations", request.options, on_partial, on_lost, json=body)
        return await self._call("generations", request.options, on_lost, json=body)

    async def edit(self, request: EditRequest, on_partial: OnPartial | None = None,
                   on_lost: OnLost | None = None) -> ImageResult:
        """One edit (multipart). With `options.partial_images` > 0 it streams, like `generate`."""
        if not 1 <= len(request.images) <= 16:
            raise InvalidRequest("An edit takes 1 to 16 input images.", param="image")
        if request.mask is not None and request.markup is not None:
            raise InvalidRequest("An edit takes a mask or markup, not both.", param="markup", status=None)
        fields = {"prompt": request.prompt, **self._common_fields(request.options, request.user)}
        # input_fidelity is an edits-only field, sent only when set: options drop it for models that take none.
        if request.options.input_fidelity:
            fields["input_fidelity"] = request.options.input_fidelity
        if request.options.output_format == "svg" and request.options.svg_model:
            fields["svg[model]"] = request.options.svg_model  # multipart spells nested objects with brackets
        data = {key: str(value) for key, value in fields.items()}
        name = "image" if len(request.images) == 1 else "image[]"
        files: list[tuple[str, tuple[str, bytes, str]]] = [
            (name, (f"image_{i}.{_suffix(img.format)}", img.data, _MIME[img.format]))
            for i, img in enumerate(request.images, start=1)
        ]
        if request.mask is not None:
            files.append(("mask", ("mask.png", request.mask, "image/png")))
        if request.markup is not None:
            files.append(("markup", ("markup.png", request.markup, "image/png")))
        if request.options.partial_images:
            # Multipart carries booleans as text; the schema's `stream` is a boolean, sent as "true".
            data.update(stream="true", partial_images=str(_partial_images(request.options)))
            return await self._stream("edits", request.options, on_partial, on_lost, data=data, files=files)
        return await self._call("edits", request.options, on_lost, data=data, files=files)

    def _common_fields(self, options: ImageOptions, end_user: str | None) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self._target.sends_model:
            fields["model"] = options.model
        fields.update(n=options.n, size=options.size, quality=options.quality, output_format=options.output_format)
        if options.background:
            fields["background"] = options.background
        if options.complexity:
            fields["complexity"] = options.complexity
        if options.output_format == "gif":
            if options.frames:
                fields["frame_count"] = options.frames
            if options.frame_ms:
                fields["frame_duration_ms"] = options.frame_ms
        if end_user:
            fields[self._end_user_field] = end_user[:MAX_SAFETY_IDENTIFIER]
        return fields

    async def list_models(self) -> list[tuple[str, str | None]]:
        """GET /v1/models: (id, shutdown_date or None) for every model the key lists. Raises ImageAPIError (or
        ServerError for a transport failure); bounded by the client's timeouts, one attempt."""
        if not isinstance(self._target, OpenAITarget):
            return []
        try:
            response = await self._http.get(self._target.models_url(), headers=self._target.headers())
        except httpx.HTTPError as exc:
            raise ServerError(f"Could not list the models ({type(exc).__name__}).") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise ServerError("GET /models answered with something that is not JSON.") from exc
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise ServerError("GET /models answered without a list of models.")
        listed = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), str):
                shutdown = item.get("shutdown_date")
                listed.append((item["id"], shutdown if isinstance(shutdown, str) and shutdown else None))
        return listed

    async def _with_retries(self, operation: str, options: ImageOptions,
                            attempt_once: Callable[[_Attempt], Awaitable[T]], on_lost: OnLost | None) -> T:
        """Run `attempt_once` up to max_attempts times, all within one deadline: timeouts, connection failures and
        retryable API errors are waited out with bounded backoff (never slept past the deadline), the last one
        raised when tries run out; anything else propagates at once. An attempt whose 2xx answer broke off is
        handed to `on_lost` before the next one, since the provider may bill it."""
        deadline = _Deadline(self._deadline(options), self._clock)
        last_error: ImageAPIError | None = None
        for number in range(1, self._max_attempts + 1):
            attempt = _Attempt(number)
            try:
                return await self._attempt(attempt_once, attempt, deadline)
            except _Failed as failed:
                last_error, delay = failed.error, self._delay_for(failed.error, number)
            if number == self._max_attempts:
                break
            if delay >= deadline.left():
                if isinstance(last_error, RateLimited):
                    raise last_error  # "try again in N s" says more than a deadline would
                log.warning("image api %s: %s; no time left to retry", operation, last_error)
                raise deadline.exceeded(number, attempt)
            if attempt.answered and on_lost is not None:
                await on_lost(LostAnswer(attempt=number, reason=str(last_error), request_id=attempt.request_id))
            log.warning("image api %s: %s; retrying in %.1fs", operation, last_error, delay)
            await self._sleep(delay)
        assert last_error is not None
        raise last_error

    async def _attempt(self, attempt_once: Callable[[_Attempt], Awaitable[T]], attempt: _Attempt,
                       deadline: _Deadline) -> T:
        """One attempt, given what is left of the deadline. A failure worth retrying comes out as `_Failed`; a
        deadline that passes during it is DeadlineExceeded (possibly billed if its answer had begun)."""
        left = deadline.left()
        if left <= 0:
            raise deadline.exceeded(attempt.number - 1, attempt)
        bound = asyncio.timeout(left)
        try:
            async with bound:
                return await attempt_once(attempt)
        except TimeoutError:
            if not bound.expired():
                raise
            raise deadline.exceeded(attempt.number, attempt) from None
        except httpx.TransportError as exc:  # timeouts included
            raise _Failed(_transport_failure(exc, attempt)) from exc

    async def _call(self, operation: str, options: ImageOptions, on_lost: OnLost | None,
                    **kwargs: Any) -> ImageResult:
        """POST, retrying as `_with_retries` says, and read the answer (a connection lost while reading it is
        retried, the lost attempt handed to `on_lost`; an answer that cannot be read is not retried)."""
        url = self._target.url(operation)
        headers = self._target.headers()

        async def attempt_once(attempt: _Attempt) -> ImageResult:
            response = await self._send(operation, attempt.number, url, headers, **kwargs)
            attempt.answered, attempt.request_id = True, _request_id(response)
            try:
                return await self._receive(response, options)
            finally:
                await response.aclose()

        return await self._with_retries(operation, options, attempt_once, on_lost)

    async def _send(self, operation: str, attempt: int, url: str, headers: dict[str, str],
                    **kwargs: Any) -> httpx.Response:
        """Send one request and return the response with its status and headers in and its body unread; an error
        status is read and raised as `_Failed`."""
        started = time.perf_counter()
        request = self._http.build_request("POST", url, headers=headers, **kwargs)
        response = await self._http.send(request, stream=True)
        log.info("image api %s status=%s attempt=%d request_id=%s ms=%.0f", operation,
                 response.status_code, attempt, _request_id(response), (time.perf_counter() - started) * 1000)
        if response.status_code < 400:
            return response
        try:
            error = await _error_answer(response)
        finally:
            await response.aclose()
        raise _Failed(error)

    async def _receive(self, response: httpx.Response, options: ImageOptions) -> ImageResult:
        """Read and decode a successful answer: megabytes of JSON around base64.

        Only `max_reading` answers are read at once; the rest wait with their bodies still in the socket. Fifty
        answers arriving together would otherwise each hold the JSON text, the parsed string and the decoded
        image (about 9 MB for a large PNG) at the same moment, and read them in interleaved 64 KB slices on the
        event loop; through the gate they finish one after another, sooner on average, and the peak is a few
        answers' worth. Decoding runs on a worker thread, so acks never wait on it.
        """
        async with self._reading:
            body = await _read_capped(response, self._max_answer_bytes or answer_cap(options))
            return await asyncio.to_thread(self._parse, response, body, options)

    def _delay_for(self, error: ImageAPIError, attempt: int) -> float:
        """How long to wait before retrying after `error`; raises it when it must not be retried (a refusal, or
        a Retry-After beyond what a user should wait for in silence)."""
        if not _retryable(error):
            raise error
        delay = self._backoff(attempt)
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self._max_retry_after:
                raise error
            delay = max(delay, error.retry_after)
        return delay

    def _backoff(self, attempt: int) -> float:
        return min(self._max_backoff, 2.0 ** (attempt - 1)) * (0.75 + random.random() / 2)

    def _parse(self, response: httpx.Response, content: bytearray, options: ImageOptions) -> ImageResult:
        request_id = _request_id(response)
        try:
            body = json.loads(content)
        except ValueError as exc:
            raise ServerError("The image API sent an answer that is not JSON.", status=response.status_code,
                              request_id=request_id) from exc
        items = body.get("data") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise ServerError("The image API answered without any image.", status=response.status_code,
                              request_id=request_id)
        output_format = str(body.get("output_format") or options.output_format)
        images = []
        for item in items:
            encoded = item.get("b64_json") if isinstance(item, dict) else None
            if not isinstance(encoded, str):
                raise ServerError("The image API answered without image data.", request_id=request_id)
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ServerError("The image API sent image data that is not valid base64.",
                                  request_id=request_id) from exc
            if not data:
                raise ServerError("The image API sent an empty image.", request_id=request_id)
            images.append(OutputImage(data=data, format=output_format))
        usage = _usage(body)
        return ImageResult(
            images=tuple(images),
            usage=usage,
            svg_usage=_svg_usage(body),
            model=options.model,
            size=str(body.get("size") or options.size),
            quality=str(body.get("quality") or options.quality),
            output_format=output_format,
            background=body.get("background") or options.background,
            provider=self._target.provider,
            request_id=request_id,
        )

    # -- streaming ------------------------------------------------------------------------------------------------

    async def _stream(self, operation: str, options: ImageOptions, on_partial: OnPartial | None,
                      on_lost: OnLost | None, **kwargs: Any) -> ImageResult:
        """POST with `stream: true` and read the events. An error status is mapped and retried exactly like
        `_send`; a connection failure or timeout is retried only while no event has arrived (a 2xx that broke
        off before its first event goes to `on_lost` first); after one it is AnswerLost, never retried."""
        url = self._target.url(operation)
        headers = {**self._target.headers(), "Accept": "text/event-stream"}

        async def attempt_once(attempt: _Attempt) -> ImageResult:
            started = time.perf_counter()
            try:
                async with self._http.stream("POST", url, headers=headers, **kwargs) as response:
                    log.info("image api %s stream status=%s attempt=%d request_id=%s ms=%.0f", operation,
                             response.status_code, attempt.number, _request_id(response),
                             (time.perf_counter() - started) * 1000)
                    if response.status_code >= 400:
                        raise _Failed(await _error_answer(response))
                    attempt.answered = True
                    result = await self._read_stream(response, operation, options, on_partial, attempt)
                    log.info("image api %s stream done events=%d partials=%d request_id=%s ms=%.0f", operation,
                             attempt.events, result.partials, result.request_id,
                             (time.perf_counter() - started) * 1000)
                    return result
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt.events:  # something arrived: the call may be billed, so it is never retried
                    raise _cut_off(exc, attempt) from exc
                raise  # nothing arrived: retried like any connection failure
            except httpx.HTTPError as exc:  # e.g. a body that fails to decompress: not a network hiccup
                raise AnswerLost(f"The image API's event stream could not be read ({type(exc).__name__}).",
                                 request_id=attempt.request_id) from exc

        return await self._with_retries(operation, options, attempt_once, on_lost)

    async def _read_stream(self, response: httpx.Response, operation: str, options: ImageOptions,
                           on_partial: OnPartial | None, progress: _Attempt) -> ImageResult:
        request_id = progress.request_id = _request_id(response)
        content_type = response.headers.get("content-type", "")
        if not content_type.lower().startswith("text/event-stream"):
            raise ServerError(f"The image API answered a streaming request with {content_type or 'no content type'}, "
                              "not an event stream.", status=response.status_code, request_id=request_id)
        prefix = "image_generation" if operation == "generations" else "image_edit"
        images: list[OutputImage] = []
        last: dict[str, Any] = {}
        partials = 0
        _refuse_declared(response, self._max_stream_bytes, request_id)
        events = _sse_events(response, self._max_stream_bytes, self._max_stream_events, request_id)
        async with contextlib.aclosing(events):
            async for name, data in events:
                progress.events += 1
                # JSON and base64 of a full-size picture are CPU work: off the event loop, like `_parse`.
                kind, event, picture = await asyncio.to_thread(_decode_event, name, data, request_id)
                if kind == "error" or "error" in event:
                    raise _stream_error(event, request_id)
                if kind == f"{prefix}.partial_image":
                    if not picture:
                        log.warning("image api %s: a preview without readable image data; skipped", operation)
                        continue
                    partials += 1
                    index = event.get("partial_image_index")
                    preview = PartialImage(index=index if _is_count(index) else partials - 1, data=picture,
                                           format=str(event.get("output_format") or options.output_format))
                    await self._deliver(on_partial, preview)
                elif kind == f"{prefix}.completed":
                    if picture is None:
                        raise ServerError("The image API finished a stream without valid image data.",
                                          request_id=request_id)
                    last = event
                    images.append(OutputImage(data=picture,
                                              format=str(event.get("output_format") or options.output_format)))
                    if len(images) >= options.n:
                        break  # everything asked for is here; nothing after it can change the result
                else:
                    log.debug("image api %s: ignoring stream event %r", operation, kind)
        if not images:
            raise ServerError(f"The image API's stream ended without a finished image (after {partials} "
                              f"preview{'s' * (partials != 1)}).", request_id=request_id)
        if len(images) < options.n:
            log.warning("image api %s: the stream ended after %d of %d images", operation, len(images), options.n)
        # Billing of previews: the image-generation guide says each one adds 100 image output tokens to the bill.
        # It does not say in so many words that the completed event's `usage` includes them, but `usage` is the
        # API's own account of the call, and the stand-in (standins/images_api.py) puts 100 × partial_images
        # into output_tokens. So `usage` is priced as reported and NOTHING is added for `partials`: each preview is
        # billed exactly once (adding 100 × partials here would count them twice). `partials` only explains the
        # cost. With n > 1 every completed event carries the whole call's usage (the stand-in's reading of an
        # undocumented case), so the last one is used, never their sum. ImagesUsage has no output_tokens_details,
        # so all output counts as image tokens (pricing.Usage.from_api).
        usage = _usage(last)
        return ImageResult(
            images=tuple(images),
            usage=usage,
            model=options.model,
            # Events echo the requested settings, so "auto" can appear where the JSON answer has resolved values.
            size=_resolved(last.get("size"), options.size),
            quality=_resolved(last.get("quality"), options.quality),
            output_format=str(last.get("output_format") or options.output_format),
            background=_resolved(last.get("background"), options.background),
            provider=self._target.provider,
            request_id=request_id,
            partials=partials,
        )

    async def _deliver(self, on_partial: OnPartial | None, preview: PartialImage) -> None:
        """Hand a preview to the caller. Its failure or slowness (a Slack hiccup) must never lose the final image."""
        if on_partial is None:
            return
        try:
            await asyncio.wait_for(on_partial(preview), timeout=self._partial_timeout)
        except Exception:  # whatever the callback does (or a timeout), the billed image still comes first
            log.warning("image api: the preview callback failed for preview %d; carrying on", preview.index,
                        exc_info=True)


class _Failed(Exception):
    """An error answer from the API inside one attempt; `_with_retries` decides whether to try again."""

    def __init__(self, error: ImageAPIError) -> None:
        super().__init__(str(error))
        self.error = error


def _usage(answer: dict[str, Any]) -> Usage | None:
    """The answer's `usage`, or None (cost unknown, never guessed) when it is missing or unreadable."""
    return _counts(answer, "usage", Usage.from_api)


def _svg_usage(answer: dict[str, Any]) -> SvgUsage | None:
    """The SVG author model's `svg_usage`, or None when absent or unreadable (its cost then shows as unknown)."""
    return _counts(answer, "svg_usage", SvgUsage.from_api)


def _counts(answer: dict[str, Any], key: str, read: Callable[[Any], T]) -> T | None:
    if answer.get(key) is None:
        return None
    try:
        return read(answer[key])
    except ValueError as exc:
        log.warning("image api %s unreadable (%s); its cost will show as unknown", key, exc)
        return None


def _request_id(response: httpx.Response) -> str | None:
    return response.headers.get("x-request-id") or response.headers.get("apim-request-id")


def _suffix(fmt: str) -> str:
    return "jpg" if fmt == "jpeg" else fmt


def _retryable(error: ImageAPIError) -> bool:
    return isinstance(error, RateLimited | ServerError)


def _partial_images(options: ImageOptions) -> int:
    count = options.partial_images
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_PARTIAL_IMAGES:
        raise InvalidRequest(f"partial_images must be 0 to {MAX_PARTIAL_IMAGES}, not {count!r}.",
                             param="partial_images", status=None)
    return count


@dataclass
class _Attempt:
    """One try of a request: whether its successful answer had begun (a 2xx status: from then on the provider may
    bill it) and, for a stream, how many events it received (after the first one it is never retried)."""

    number: int
    answered: bool = False
    events: int = 0
    request_id: str | None = None


@dataclass
class _Deadline:
    """The request's one deadline, `seconds` from its start on `clock`."""

    seconds: float
    clock: Callable[[], float]
    end: float = field(init=False)

    def __post_init__(self) -> None:
        self.end = self.clock() + self.seconds

    def left(self) -> float:
        return self.end - self.clock()

    def exceeded(self, attempts: int, attempt: _Attempt) -> DeadlineExceeded:
        """The error for a deadline that has passed (or would pass before the next try could finish) after
        `attempts` tries, the last being `attempt`: possibly billed if that one's answer had begun."""
        tries = f"{attempts} attempt{'s' * (attempts != 1)}"
        billed = " Its answer had begun, so it may be billed." if attempt.answered else ""
        return DeadlineExceeded(f"The image API did not finish within {_duration(self.seconds)} ({tries}); nothing "
                                f"was made.{billed}", request_id=attempt.request_id, possibly_billed=attempt.answered)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes == round(minutes) else f"{minutes:.1f} min"


def _transport_failure(exc: httpx.TransportError, attempt: _Attempt) -> ServerError:
    """A timeout or lost connection within an attempt: AnswerLost once its 2xx answer had begun (it may be billed),
    else a ServerError (nothing arrived, taken as not billed). Both may be retried."""
    if attempt.answered:
        return AnswerLost(f"The image API's answer broke off ({type(exc).__name__}).", request_id=attempt.request_id)
    if isinstance(exc, httpx.TimeoutException):
        return ServerError(f"The image API did not answer in time ({type(exc).__name__}).")
    return ServerError(f"Could not reach the image API ({type(exc).__name__}).")


def _cut_off(exc: httpx.HTTPError, progress: _Attempt) -> AnswerLost:
    return AnswerLost(f"The image API's stream broke off after {progress.events} "
                      f"event{'s' * (progress.events != 1)} ({type(exc).__name__}); not retried, as the call "
                      "may already be billed.", request_id=progress.request_id)


def _megabytes(size: int) -> str:
    return f"{size / _MIB:,.0f} MB" if size >= _MIB else f"{size / 1024:,.0f} KB"


def _too_large(cap: int, request_id: str | None) -> AnswerTooLarge:
    return AnswerTooLarge(f"The image API's answer was larger than {_megabytes(cap)}; imagebot stopped reading it "
                          "(it may be billed).", request_id=request_id)


def _refuse_declared(response: httpx.Response, cap: int, request_id: str | None) -> None:
    """Refuse, before reading a byte, an answer whose Content-Length is over `cap`."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise _too_large(cap, request_id)


async def _read_capped(response: httpx.Response, cap: int) -> bytearray:
    """A successful answer's body, read chunk by chunk (decompressed) and never past `cap` bytes: a bigger one is
    AnswerTooLarge, found by its Content-Length before anything is read when it says so."""
    request_id = _request_id(response)
    _refuse_declared(response, cap, request_id)
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > cap:
                raise _too_large(cap, request_id)
    except httpx.DecodingError as exc:  # a body that fails to decompress: not a network hiccup, not retried
        raise AnswerLost(f"The image API's answer could not be decoded ({type(exc).__name__}).",
                         request_id=request_id) from exc
    return body


async def _error_answer(response: httpx.Response) -> ImageAPIError:
    """The error an error status means, from at most MAX_ERROR_BYTES of its body: an error is a few hundred bytes
    of JSON, and an endless one must not be read whole (what is past the cap is left unread; the error is then
    told by its status alone)."""
    body = bytearray()
    with contextlib.suppress(httpx.HTTPError):  # a body cut short: the status still says what went wrong
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_ERROR_BYTES:
                body.clear()
                break
    # The body is decoded already: the new response must not decode it again, nor expect the original length.
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return error_from_response(httpx.Response(response.status_code, headers=headers, content=bytes(body),
                                              request=response.request))


async def _sse_events(response: httpx.Response, max_bytes: int, max_events: int,
                      request_id: str | None) -> AsyncIterator[tuple[str, str]]:
    """(event name, data) for each event of a text/event-stream body (WHATWG SSE: `event:` and `data:` fields,
    `:` comments, a blank line ends an event; `id` and `retry` are ignored; lines end in LF or CRLF).

    Lines are split here rather than by `aiter_lines()` so that the byte cap holds even inside one endless line:
    every received chunk counts at once. The read timeout applies to each chunk.
    """
    received = events = 0
    pending = bytearray()
    name, data = "", []

    def line_done(raw: bytes) -> tuple[str, str] | None:
        nonlocal name, data, events
        line = raw.removesuffix(b"\r").decode("utf-8", "replace")
        if line:
            if not line.startswith(":"):
                field_name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field_name == "event":
                    name = value
                elif field_name == "data":
                    data.append(value)
            return None
        event = (name, "\n".join(data)) if data else None
        name, data = "", []
        if event is not None:
            events += 1
            if events > max_events:
                raise AnswerTooLarge(f"The image API's stream sent more than {max_events} events; stopped reading.",
                                     request_id=request_id)
        return event

    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            raise AnswerTooLarge(f"The image API's stream passed {max_bytes:,} bytes; stopped reading.",
                                 request_id=request_id)
        search = len(pending)
        pending += chunk
        while (end := pending.find(b"\n", search)) >= 0:
            raw = bytes(pending[:end])
            del pending[:end + 1]
            search = 0
            if (event := line_done(raw)) is not None:
                yield event
    # At the end, a last line without its newline, and an event without its closing blank line, still count.
    for raw in ([bytes(pending)] if pending else []) + [b""]:
        if (event := line_done(raw)) is not None:
            yield event


def _decode_event(name: str, data: str, request_id: str | None) -> tuple[str, dict[str, Any], bytes | None]:
    """(type, event, picture) for one event's data: the JSON object, its `type` (or else the SSE event name)
    and its `b64_json` decoded (None when absent or not base64). Malformed JSON is a ServerError."""
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise ServerError("The image API sent a stream event that is not JSON.", request_id=request_id) from exc
    if not isinstance(event, dict):
        raise ServerError("The image API sent a stream event that is not a JSON object.", request_id=request_id)
    kind = event.get("type") if isinstance(event.get("type"), str) else name
    picture = None
    encoded = event.get("b64_json")
    if isinstance(encoded, str):
        try:
            picture = base64.b64decode(encoded, validate=True) or None
        except (binascii.Error, ValueError):
            picture = None
    return kind, event, picture


def _stream_error(event: dict[str, Any], request_id: str | None) -> ServerError:
    """An `error` event ({"type": "error", "message", "code"} or {"error": {...}}): the call failed mid-stream."""
    error = event.get("error") if isinstance(event.get("error"), dict) else event
    message = str(error.get("message") or "no details given")
    code = error.get("code")
    suffix = f" ({code})" if code else ""
    return ServerError(f"The image API reported an error during the stream: {message}{suffix}", request_id=request_id)


def _resolved(echoed: Any, requested: str | None) -> Any:
    """An event's echo of a setting, unless it merely repeats 'auto' (then what was asked for)."""
    return echoed if isinstance(echoed, str) and echoed and echoed != "auto" else requested


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def end_user_id(team_id: str, user_id: str) -> str:
    """A stable id for the API's abuse monitoring that does not reveal the Slack ids."""
    return "slack-" + hashlib.sha256(f"{team_id}:{user_id}".encode()).hexdigest()[:24]


def error_from_response(response: httpx.Response) -> ImageAPIError:
    """Map an error answer (OpenAI or Azure shape) to the error tree."""
    status = response.status_code
    request_id = _request_id(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    message = str(error.get("message") or response.reason_phrase or f"HTTP {status}")
    code = str(error.get("code") or "")
    etype = str(error.get("type") or "")
    param = error.get("param")
    kw = {"status": status, "request_id": request_id}

    if status == 429:
        if "insufficient_quota" in (code, etype) or ("quota" in message.lower() and "exceeded your current" in message):
            return QuotaExhausted(message, **kw)
        return RateLimited(message, retry_after=_retry_after(response, message), **kw)
    if status >= 500:
        return ServerError(message, **kw)
    if status == 401:
        return AuthenticationFailed(message, **kw)
    if status == 403:
        if re.search(r"organi[sz]ation must be verified|verify organi[sz]ation", message, re.IGNORECASE):
            return OrganizationNotVerified(message, **kw)
        return PermissionDenied(message, **kw)
    if _model_gone(status, code, param, message):
        return ModelUnavailable(message, model=_named_model(message), api_code=code or None, **kw)
    moderation = _moderation(error, code, etype, message)
    if moderation is not None:
        stage, categories = moderation
        return ModerationBlocked(message, stage=stage, categories=categories, **kw)
    if code in ("billing_hard_limit_reached", "insufficient_quota"):
        return QuotaExhausted(message, **kw)
    return InvalidRequest(message, param=param if isinstance(param, str) else None, api_code=code or None, **kw)


def _model_gone(status: int, code: str, param: Any, message: str) -> bool:
    """The API's ways of saying a model is shut down or unknown: 404 model_not_found ("The model `X` has been
    deprecated"), or a 400 invalid_value on `model` ("The model 'X' does not exist.")."""
    if code == "model_not_found" or (status == 404 and "model" in message.lower()):
        return True
    return status == 400 and (param == "model" or code == "invalid_value") and bool(
        re.search(r"model\b.*\b(does not exist|has been deprecated|has been shut down|is not available)", message,
                  re.IGNORECASE))


def _named_model(message: str) -> str | None:
    found = re.search(r"model [`'\"]([^`'\"]+)[`'\"]", message)
    return found.group(1) if found else None


def _moderation(
    error: dict[str, Any], code: str, etype: str, message: str
) -> tuple[str | None, tuple[str, ...]] | None:
    inner = error.get("inner_error") or error.get("innererror")  # Azure spells it both ways
    inner = inner if isinstance(inner, dict) else {}
    blocked = (
        code in ("moderation_blocked", "content_policy_violation", "content_filter", "contentFilter")
        or etype == "image_generation_user_error"
        or inner.get("code") == "ResponsibleAIPolicyViolation"
    )
    if not blocked:
        return None
    details = error.get("moderation_details")
    stage = None
    categories: list[str] = []
    if isinstance(details, dict):
        stage = details.get("moderation_stage")
        categories = [str(c) for c in details.get("categories") or []]
    results = inner.get("content_filter_results") or inner.get("content_filter_result") or {}
    if isinstance(results, dict):
        for name, verdict in results.items():
            if isinstance(verdict, dict) and verdict.get("filtered"):
                categories.append(name)
    if not categories:
        found = re.search(r"safety_violations=\[([^\]]*)\]", message)
        if found:
            categories = [c.strip() for c in found.group(1).split(",") if c.strip()]
    return (str(stage) if stage else None), tuple(dict.fromkeys(categories))


def _retry_after(response: httpx.Response, message: str) -> float | None:
    for header in ("retry-after-ms", "retry-after"):
        value = response.headers.get(header)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            return seconds / 1000 if header == "retry-after-ms" else seconds
    found = re.search(r"try again in (\d+(?:\.\d+)?)\s*(ms|s|seconds)", message)
    if found:
        value = float(found.group(1))
        return value / 1000 if found.group(2) == "ms" else value
    return None
