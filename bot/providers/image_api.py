"""The image API client: OpenAI and Azure OpenAI, over one injected `httpx.AsyncClient`.

It sends what the options say and returns `ImageResult`s, or raises one of bot.errors' ImageAPIError classes. Its
parts, each in a module of its own beside this one:

    targets.py        where requests go (OpenAI, an Azure deployment) and how they are authenticated
    wire.py           what a request carries: a generation's JSON, an edit's multipart form, the end user's id
    retries.py        attempts, backoff and Retry-After, all inside one deadline
    answers.py        a successful JSON answer, read within its cap and decoded
    streaming.py      a streamed answer: Server-Sent Events, previews, then the images
    error_answers.py  what an error answer means, in the error tree of bot/errors.py

Money: once a 2xx status has arrived the provider may bill the call, whatever happens to the body (retries.py,
answers.py and streaming.py say how each case is handled and what goes to `on_lost`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpcore
import httpx

from bot.errors import AnswerLost, ServerError
from bot.models import EditRequest, GenerateRequest, ImageOptions, ImageResult, PartialImage
from bot.providers import h11_buffer
from bot.providers.answers import answer_cap, parse_answer, read_capped, request_id
from bot.providers.base import OnAnswer, OnLost, OnPartial
from bot.providers.error_answers import error_from_response, read_error
from bot.providers.retries import Attempt, Failed, Retries, Sleep
from bot.providers.streaming import MAX_STREAM_BYTES, MAX_STREAM_EVENTS, cut_off, read_stream
from bot.providers.targets import OpenAITarget, Target
from bot.providers.wire import edit_form, generation_body

log = logging.getLogger(__name__)

# Image generation can take two minutes and more at high quality; the read timeout covers the whole wait.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=30.0)
# httpcore reads a response from its socket 64 KiB at a time, so a 3.5 MB answer took ~55 trips through anyio,
# httpcore and h11: a sixth of an image's CPU in issue 16's profile. At 256 KiB they are a handful (1 MiB gained
# little more, and each answer waiting at the reading gate may already hold one read of its body).
READ_BYTES = 256 * 1024


def http_client() -> httpx.AsyncClient:
    """The HTTP client for the image API (and Slack's file downloads), as `imagebot serve` builds it."""
    connection = httpcore.AsyncHTTP11Connection
    if getattr(connection, "READ_NUM_BYTES", 0) < READ_BYTES:  # httpcore's own knob, class-wide
        connection.READ_NUM_BYTES = READ_BYTES
    h11_buffer.install()  # two needless copies of each chunk of a body fewer
    # trust_env=False: proxies and netrc from the environment are not settings imagebot reads.
    return httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, trust_env=False)


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
        self._retries = Retries(max_attempts=max_attempts, max_backoff=max_backoff,
                                max_retry_after=max_retry_after, sleep=sleep, deadline=deadline, clock=clock)
        self._max_answer_bytes = max_answer_bytes  # None: answer_cap(options)
        self._end_user_field = end_user_field
        self._reading = asyncio.Semaphore(max_reading)
        self._target = target
        self._max_stream_bytes = max_stream_bytes
        self._max_stream_events = max_stream_events
        self._partial_timeout = partial_timeout  # how long one on_partial call may take before it is abandoned

    @property
    def provider(self) -> str:
        return self._target.provider

    async def generate(self, request: GenerateRequest, on_partial: OnPartial | None = None,
                       on_lost: OnLost | None = None, on_answer: OnAnswer | None = None) -> ImageResult:
        """One generation. With `options.partial_images` > 0 it streams, awaiting `on_partial` for each preview.
        `on_lost` is awaited for each attempt whose successful answer broke off before it was tried again;
        `on_answer` before a (non-streamed) successful answer's body is read."""
        body = generation_body(request, sends_model=self._target.sends_model, end_user_field=self._end_user_field)
        if request.options.partial_images:
            return await self._stream("generations", request.options, on_partial, on_lost, json=body)
        return await self._call("generations", request.options, on_lost, on_answer, json=body)

    async def edit(self, request: EditRequest, on_partial: OnPartial | None = None,
                   on_lost: OnLost | None = None, on_answer: OnAnswer | None = None) -> ImageResult:
        """One edit (multipart). With `options.partial_images` > 0 it streams, like `generate`."""
        data, files = edit_form(request, sends_model=self._target.sends_model, end_user_field=self._end_user_field)
        if request.options.partial_images:
            return await self._stream("edits", request.options, on_partial, on_lost, data=data, files=files)
        return await self._call("edits", request.options, on_lost, on_answer, data=data, files=files)

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

    async def _call(self, operation: str, options: ImageOptions, on_lost: OnLost | None,
                    on_answer: OnAnswer | None, **kwargs: Any) -> ImageResult:
        """POST, retrying as `Retries.run` says, and read the answer (a connection lost while reading it is
        retried, the lost attempt handed to `on_lost`; an answer that cannot be read is not retried)."""
        url = self._target.url(operation)
        headers = self._target.headers()

        async def attempt_once(attempt: Attempt) -> ImageResult:
            response = await self._send(operation, attempt.number, url, headers, **kwargs)
            attempt.answered, attempt.request_id = True, request_id(response)
            try:
                if on_answer is not None:
                    await on_answer()
                return await self._receive(response, options)
            finally:
                await response.aclose()

        return await self._retries.run(operation, options, attempt_once, on_lost)

    async def _send(self, operation: str, attempt: int, url: str, headers: dict[str, str],
                    **kwargs: Any) -> httpx.Response:
        """Send one request and return the response with its status and headers in and its body unread; an error
        status is read and raised as `Failed`."""
        started = time.perf_counter()
        request = self._http.build_request("POST", url, headers=headers, **kwargs)
        response = await self._http.send(request, stream=True)
        log.info("image api %s status=%s attempt=%d request_id=%s ms=%.0f", operation,
                 response.status_code, attempt, request_id(response), (time.perf_counter() - started) * 1000)
        if response.status_code < 400:
            return response
        try:
            error = await read_error(response)
        finally:
            await response.aclose()
        raise Failed(error)

    async def _receive(self, response: httpx.Response, options: ImageOptions) -> ImageResult:
        """Read and decode a successful answer: megabytes of JSON around base64.

        Only `max_reading` answers are read at once; the rest wait with their bodies still in the socket. Fifty
        answers arriving together would otherwise each hold the JSON text, the parsed string and the decoded
        image (about 9 MB for a large PNG) at the same moment, and read them in interleaved slices on the event
        loop; through the gate they finish one after another, sooner on average, and the peak is a few answers'
        worth. Decoding runs here on the loop: cut out of the bytes and SIMD-decoded (answers.py) it takes about
        0.4 ms for a 2.6 MB PNG, less than handing it to a worker thread did, and the decoded megabytes then come
        from the loop's heap, not from a worker's malloc arena that keeps them once freed (issue 16).
        """
        async with self._reading:
            body = await read_capped(response, self._max_answer_bytes or answer_cap(options))
            return parse_answer(response, body, options, self._target.provider)

    async def _stream(self, operation: str, options: ImageOptions, on_partial: OnPartial | None,
                      on_lost: OnLost | None, **kwargs: Any) -> ImageResult:
        """POST with `stream: true` and read the events. An error status is mapped and retried exactly like
        `_send`; a connection failure or timeout is retried only while no event has arrived (a 2xx that broke
        off before its first event goes to `on_lost` first); after one it is AnswerLost, never retried."""
        url = self._target.url(operation)
        headers = {**self._target.headers(), "Accept": "text/event-stream"}

        async def deliver(preview: PartialImage) -> None:
            await self._deliver(on_partial, preview)

        async def attempt_once(attempt: Attempt) -> ImageResult:
            started = time.perf_counter()
            try:
                async with self._http.stream("POST", url, headers=headers, **kwargs) as response:
                    log.info("image api %s stream status=%s attempt=%d request_id=%s ms=%.0f", operation,
                             response.status_code, attempt.number, request_id(response),
                             (time.perf_counter() - started) * 1000)
                    if response.status_code >= 400:
                        raise Failed(await read_error(response))
                    attempt.answered = True
                    result = await read_stream(response, operation, options, attempt,
                                               max_bytes=self._max_stream_bytes, max_events=self._max_stream_events,
                                               provider=self._target.provider, deliver=deliver)
                    log.info("image api %s stream done events=%d partials=%d request_id=%s ms=%.0f", operation,
                             attempt.events, result.partials, result.request_id,
                             (time.perf_counter() - started) * 1000)
                    return result
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt.events:  # something arrived: the call may be billed, so it is never retried
                    raise cut_off(exc, attempt) from exc
                raise  # nothing arrived: retried like any connection failure
            except httpx.HTTPError as exc:  # e.g. a body that fails to decompress: not a network hiccup
                raise AnswerLost(f"The image API's event stream could not be read ({type(exc).__name__}).",
                                 request_id=attempt.request_id) from exc

        return await self._retries.run(operation, options, attempt_once, on_lost)

    async def _deliver(self, on_partial: OnPartial | None, preview: PartialImage) -> None:
        """Hand a preview to the caller. Its failure or slowness (a Slack hiccup) must never lose the final image."""
        if on_partial is None:
            return
        try:
            await asyncio.wait_for(on_partial(preview), timeout=self._partial_timeout)
        except Exception:  # whatever the callback does (or a timeout), the billed image still comes first
            log.warning("image api: the preview callback failed for preview %d; carrying on", preview.index,
                        exc_info=True)
