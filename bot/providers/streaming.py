"""Reading a streamed answer of the image API: Server-Sent Events, previews as they come, then the images.

Streaming (https://developers.openai.com/api/docs/guides/image-generation): with `ImageOptions.partial_images` > 0
the answer is Server-Sent Events: `<prefix>.partial_image` previews, then one `<prefix>.completed` per image
(`image_generation.*` for generations, `image_edit.*` for edits). Previews go to the caller as they arrive. A stream
is retried only while nothing has arrived: once an event is in, the call may be billed (one cut after its first
event is `AnswerLost`, not retried). Its reading is bounded by the read timeout (per chunk), `max_bytes` and
`max_events`.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import httpx
import pybase64

from bot.errors import AnswerLost, AnswerTooLarge, ServerError
from bot.models import ImageOptions, ImageResult, OutputImage, PartialImage
from bot.providers.answers import refuse_declared, request_id, usage
from bot.providers.base import OnPartial
from bot.providers.retries import Attempt

log = logging.getLogger(__name__)

# A stream carries up to n × (partial_images + 1) full pictures in base64: 10 × 4 large PNGs stay well under this.
MAX_STREAM_BYTES = 200 * 1024 * 1024
MAX_STREAM_EVENTS = 200  # at most 10 × (3 + 1) = 40 are expected


async def read_stream(response: httpx.Response, operation: str, options: ImageOptions, progress: Attempt, *,
                      max_bytes: int, max_events: int, provider: str, deliver: OnPartial) -> ImageResult:
    """The images of a successful streamed answer; each preview is awaited with `deliver` as it arrives, and
    `progress` counts the events (and learns the request id)."""
    answer_id = progress.request_id = request_id(response)
    content_type = response.headers.get("content-type", "")
    if not content_type.lower().startswith("text/event-stream"):
        raise ServerError(f"The image API answered a streaming request with {content_type or 'no content type'}, "
                          "not an event stream.", status=response.status_code, request_id=answer_id)
    stream = _Stream(operation, options, answer_id)
    refuse_declared(response, max_bytes, answer_id)
    events = sse_events(response, max_bytes, max_events, answer_id)
    async with contextlib.aclosing(events):
        async for name, data in events:
            progress.events += 1
            # JSON and base64 of a full-size picture are CPU work: off the event loop, like a JSON answer's.
            kind, event, picture = await asyncio.to_thread(decode_event, name, data, answer_id)
            if await stream.take(kind, event, picture, deliver):
                break  # everything asked for is here; nothing after it can change the result
    return stream.result(provider)


@dataclass
class _Stream:
    """What a stream has brought so far: its finished images, the last `completed` event, the previews."""

    operation: str
    options: ImageOptions
    request_id: str | None
    images: list[OutputImage] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)
    partials: int = 0

    @property
    def prefix(self) -> str:
        return "image_generation" if self.operation == "generations" else "image_edit"

    async def take(self, kind: str, event: dict[str, Any], picture: bytes | None, deliver: OnPartial) -> bool:
        """Take one event; True once every image asked for has arrived."""
        if kind == "error" or "error" in event:
            raise _stream_error(event, self.request_id)
        if kind == f"{self.prefix}.partial_image":
            if not picture:
                log.warning("image api %s: a preview without readable image data; skipped", self.operation)
                return False
            self.partials += 1
            index = event.get("partial_image_index")
            await deliver(PartialImage(index=index if _is_count(index) else self.partials - 1, data=picture,
                                       format=str(event.get("output_format") or self.options.output_format)))
        elif kind == f"{self.prefix}.completed":
            if picture is None:
                raise ServerError("The image API finished a stream without valid image data.",
                                  request_id=self.request_id)
            self.last = event
            self.images.append(OutputImage(data=picture,
                                           format=str(event.get("output_format") or self.options.output_format)))
            return len(self.images) >= self.options.n
        else:
            log.debug("image api %s: ignoring stream event %r", self.operation, kind)
        return False

    def result(self, provider: str) -> ImageResult:
        """The call's result once the stream has ended; one that ended without a finished image is a ServerError."""
        options, last, partials = self.options, self.last, self.partials
        if not self.images:
            raise ServerError(f"The image API's stream ended without a finished image (after {partials} "
                              f"preview{'s' * (partials != 1)}).", request_id=self.request_id)
        if len(self.images) < options.n:
            log.warning("image api %s: the stream ended after %d of %d images", self.operation, len(self.images),
                        options.n)
        # Billing of previews: the image-generation guide says each one adds 100 image output tokens to the bill.
        # It does not say in so many words that the completed event's `usage` includes them, but `usage` is the
        # API's own account of the call, and the stand-in (standins/images_api/) puts 100 × partial_images
        # into output_tokens. So `usage` is priced as reported and NOTHING is added for `partials`: each preview is
        # billed exactly once (adding 100 × partials here would count them twice). `partials` only explains the
        # cost. With n > 1 every completed event carries the whole call's usage (the stand-in's reading of an
        # undocumented case), so the last one is used, never their sum. ImagesUsage has no output_tokens_details,
        # so all output counts as image tokens (pricing.Usage.from_api).
        return ImageResult(
            images=tuple(self.images),
            usage=usage(last),
            model=options.model,
            # Events echo the requested settings, so "auto" can appear where the JSON answer has resolved values.
            size=_resolved(last.get("size"), options.size),
            quality=_resolved(last.get("quality"), options.quality),
            output_format=str(last.get("output_format") or options.output_format),
            background=_resolved(last.get("background"), options.background),
            provider=provider,
            request_id=self.request_id,
            partials=partials,
        )


def cut_off(exc: httpx.HTTPError, progress: Attempt) -> AnswerLost:
    """A stream that broke off after `progress.events` events: the call may be billed, so it is not retried."""
    return AnswerLost(f"The image API's stream broke off after {progress.events} "
                      f"event{'s' * (progress.events != 1)} ({type(exc).__name__}); not retried, as the call "
                      "may already be billed.", request_id=progress.request_id)


async def sse_events(response: httpx.Response, max_bytes: int, max_events: int,
                     request_id: str | None) -> AsyncGenerator[tuple[str, str], None]:
    """(event name, data) for each event of a text/event-stream body (WHATWG SSE: `event:` and `data:` fields,
    `:` comments, a blank line ends an event; `id` and `retry` are ignored; lines end in LF or CRLF).

    Lines are split here rather than by `aiter_lines()` so that the byte cap holds even inside one endless line:
    every received chunk counts at once. The read timeout applies to each chunk.
    """
    received = 0
    pending = bytearray()
    lines = _EventLines(max_events, request_id)
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
            if (event := lines.line_done(raw)) is not None:
                yield event
    # At the end, a last line without its newline, and an event without its closing blank line, still count.
    for raw in ([bytes(pending)] if pending else []) + [b""]:
        if (event := lines.line_done(raw)) is not None:
            yield event


@dataclass
class _EventLines:
    """The event being read, line by line, and how many have ended (at most `max_events`)."""

    max_events: int
    request_id: str | None
    name: str = ""
    data: list[str] = field(default_factory=list)
    events: int = 0

    def line_done(self, raw: bytes) -> tuple[str, str] | None:
        """Take one line (without its LF); the (name, data) of the event it ends, if it is a blank line."""
        line = raw.removesuffix(b"\r").decode("utf-8", "replace")
        if line:
            if not line.startswith(":"):
                field_name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field_name == "event":
                    self.name = value
                elif field_name == "data":
                    self.data.append(value)
            return None
        event = (self.name, "\n".join(self.data)) if self.data else None
        self.name, self.data = "", []
        if event is not None:
            self.events += 1
            if self.events > self.max_events:
                raise AnswerTooLarge(f"The image API's stream sent more than {self.max_events} events; stopped "
                                     "reading.", request_id=self.request_id)
        return event


def decode_event(name: str, data: str, request_id: str | None) -> tuple[str, dict[str, Any], bytes | None]:
    """(type, event, picture) for one event's data: the JSON object, its `type` (or else the SSE event name)
    and its `b64_json` decoded (None when absent or not base64). Malformed JSON is a ServerError."""
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise ServerError("The image API sent a stream event that is not JSON.", request_id=request_id) from exc
    if not isinstance(event, dict):
        raise ServerError("The image API sent a stream event that is not a JSON object.", request_id=request_id)
    declared = event.get("type")
    kind = declared if isinstance(declared, str) else name
    picture = None
    encoded = event.get("b64_json")
    if isinstance(encoded, str):
        try:
            picture = pybase64.b64decode(encoded, validate=True) or None
        except (binascii.Error, ValueError):
            picture = None
    return kind, event, picture


def _stream_error(event: dict[str, Any], request_id: str | None) -> ServerError:
    """An `error` event ({"type": "error", "message", "code"} or {"error": {...}}): the call failed mid-stream."""
    inner = event.get("error")
    error: dict[str, Any] = inner if isinstance(inner, dict) else event
    message = str(error.get("message") or "no details given")
    code = error.get("code")
    suffix = f" ({code})" if code else ""
    return ServerError(f"The image API reported an error during the stream: {message}{suffix}", request_id=request_id)


def _resolved(echoed: Any, requested: str | None) -> Any:
    """An event's echo of a setting, unless it merely repeats 'auto' (then what was asked for)."""
    return echoed if isinstance(echoed, str) and echoed and echoed != "auto" else requested


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
