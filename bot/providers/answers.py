"""Reading a successful (JSON) answer of the image API: bounded, then decoded into an `ImageResult`.

Money: once a 2xx status has arrived the provider may bill the call, whatever happens to the body. A successful
answer is read in chunks and never past `answer_cap` bytes, so a runaway body cannot take the process's memory with
it; one that cannot be read to its end (too large, undecodable) is `AnswerLost` or `AnswerTooLarge`, not retried.
"""

from __future__ import annotations

import binascii
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
import pybase64

from bot.errors import AnswerLost, AnswerTooLarge, ServerError
from bot.models import ImageOptions, ImageResult, OutputImage
from bot.money.pricing import SvgUsage, Usage

log = logging.getLogger(__name__)
T = TypeVar("T")

_MIB = 1024 * 1024
# The cap on a successful answer, per requested image. The largest image any catalogue model makes is 3840x2160
# (gpt-image-2's free-size rule, max_pixels 8,294,400): 33.2 MB as raw RGBA, which a PNG never exceeds by more than
# a row byte and a few block headers, and 44.2 MB as base64. 48 MiB a picture is well above any real one; a GIF
# frame is one palette byte a pixel, so an animated GIF gets a quarter of that per frame. The JSON around the
# pictures is given 1 MiB.
MAX_IMAGE_ANSWER_BYTES = 48 * _MIB
ANSWER_ENVELOPE_BYTES = _MIB
MAX_GIF_FRAMES = 16  # frame_count's upper bound (the SDK), for a GIF asked for without one


def answer_cap(options: ImageOptions, per_image: int = MAX_IMAGE_ANSWER_BYTES) -> int:
    """The most bytes imagebot reads of a successful answer to `options` (see MAX_IMAGE_ANSWER_BYTES)."""
    if options.output_format == "gif":
        per_image = max(per_image, per_image * (options.frames or MAX_GIF_FRAMES) // 4)
    return options.n * per_image + ANSWER_ENVELOPE_BYTES


def request_id(response: httpx.Response) -> str | None:
    """The API's own id of the request (OpenAI's x-request-id, or Azure's apim-request-id), for support tickets."""
    found = response.headers.get("x-request-id") or response.headers.get("apim-request-id")
    return str(found) if found else None


def refuse_declared(response: httpx.Response, cap: int, answer_id: str | None) -> None:
    """Refuse, before reading a byte, an answer whose Content-Length is over `cap`."""
    declared = _content_length(response)
    if declared is not None and declared > cap:
        raise _too_large(cap, answer_id)


def _content_length(response: httpx.Response) -> int | None:
    declared = str(response.headers.get("content-length", "")).strip()
    return int(declared) if declared.isascii() and declared.isdigit() else None


async def read_capped(response: httpx.Response, cap: int) -> bytes | bytearray:
    """A successful answer's body, read chunk by chunk (decompressed) and never past `cap` bytes: a bigger one is
    AnswerTooLarge, found by its Content-Length before anything is read when it says so. With a Content-Length
    (and no compression) the chunks are copied into one buffer of that size as they come; otherwise they are
    joined once at the end. Growing one buffer chunk by chunk copied megabytes over and over (issue 16)."""
    answer_id = request_id(response)
    refuse_declared(response, cap, answer_id)
    declared = None if response.headers.get("content-encoding") else _content_length(response)
    buffer = bytearray(declared) if declared is not None else None
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            end = size + len(chunk)
            if end > cap:
                raise _too_large(cap, answer_id)
            if buffer is not None:
                buffer[size:end] = chunk  # past a length that was wrong, the buffer grows
            else:
                chunks.append(chunk)
            size = end
    except httpx.DecodingError as exc:  # a body that fails to decompress: not a network hiccup, not retried
        raise AnswerLost(f"The image API's answer could not be decoded ({type(exc).__name__}).",
                         request_id=answer_id) from exc
    if buffer is not None:
        del buffer[size:]  # shorter than it said
        return buffer
    return b"".join(chunks)


def parse_answer(response: httpx.Response, content: bytes | bytearray, options: ImageOptions,
                 provider: str) -> ImageResult:
    """The images and usage of a successful JSON answer; one without valid images is a ServerError.

    The pictures are megabytes of base64 in the `b64_json` strings. They are decoded straight from `content`
    (pybase64, SIMD) and only the few hundred bytes around them go through the JSON parser, which would otherwise
    copy each picture's text into a str first: together a third of the CPU an image cost (issue 16's profile).
    An answer laid out otherwise (escapes in the base64, a `b64_json` anywhere but in the items) is parsed whole.
    """
    answer_id = request_id(response)
    body, texts = _body_and_pictures(content, response.status_code, answer_id)
    output_format = str(body.get("output_format") or options.output_format)
    images = tuple(OutputImage(data=_picture(text, answer_id), format=output_format) for text in texts)
    return ImageResult(
        images=images,
        usage=usage(body),
        svg_usage=_svg_usage(body),
        model=options.model,
        size=str(body.get("size") or options.size),
        quality=str(body.get("quality") or options.quality),
        output_format=output_format,
        background=body.get("background") or options.background,
        provider=provider,
        request_id=answer_id,
    )


def _body_and_pictures(content: bytes | bytearray, status: int,
                       answer_id: str | None) -> tuple[dict[str, Any], list[Any]]:
    """The answer's JSON object and each data item's `b64_json` (a view into `content` where it could be cut out)."""
    cut = cut_pictures(content)
    if cut is not None:
        rest, views = cut
        body = _json_object(rest, status, answer_id)
        items = _items(body, status, answer_id)
        if [item.get("b64_json") if isinstance(item, dict) else None for item in items] == [""] * len(views):
            return body, list(views)
    body = _json_object(content, status, answer_id)
    return body, [item.get("b64_json") if isinstance(item, dict) else None
                  for item in _items(body, status, answer_id)]


def cut_pictures(content: bytes | bytearray) -> tuple[bytes, list[memoryview]] | None:
    """`content` with the text of every `"b64_json": "…"` string cut out (each left as ""), and those texts as
    views into `content`, in order; None when there is none, or one holds an escape or is not closed."""
    spans = []
    position = 0
    while (key := content.find(_PICTURE_KEY, position)) != -1:
        start = _after(content, key + len(_PICTURE_KEY), b":")
        start = _after(content, start, b'"') if start != -1 else -1
        end = content.find(b'"', start) if start != -1 else -1
        if end == -1 or content.find(b"\\", start, end) != -1:
            return None
        spans.append((start, end))
        position = end + 1
    if not spans:
        return None
    rest, last = bytearray(), 0
    for start, end in spans:
        rest += content[last:start]
        last = end
    rest += content[last:]
    whole = memoryview(content)
    return bytes(rest), [whole[start:end] for start, end in spans]


_PICTURE_KEY = b'"b64_json"'
_JSON_SPACE = b" \t\r\n"


def _after(content: bytes | bytearray, index: int, token: bytes) -> int:
    """The index just past `token` at `index` (JSON whitespace allowed before it); -1 when it is not there."""
    while index < len(content) and content[index] in _JSON_SPACE:
        index += 1
    return index + 1 if content[index:index + 1] == token else -1


def _json_object(content: bytes | bytearray, status: int, answer_id: str | None) -> dict[str, Any]:
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise ServerError("The image API sent an answer that is not JSON.", status=status,
                          request_id=answer_id) from exc
    if not isinstance(body, dict):
        raise ServerError("The image API answered without any image.", status=status, request_id=answer_id)
    return body


def _items(body: dict[str, Any], status: int, answer_id: str | None) -> list[Any]:
    items = body.get("data")
    if not isinstance(items, list) or not items:
        raise ServerError("The image API answered without any image.", status=status, request_id=answer_id)
    return items


def _picture(encoded: Any, answer_id: str | None) -> bytes:
    """One `data` item's picture, decoded from its `b64_json` (a str, or a view of the answer's bytes)."""
    if not isinstance(encoded, str | memoryview):
        raise ServerError("The image API answered without image data.", request_id=answer_id)
    try:
        data = pybase64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ServerError("The image API sent image data that is not valid base64.", request_id=answer_id) from exc
    if not data:
        raise ServerError("The image API sent an empty image.", request_id=answer_id)
    return data


def usage(answer: dict[str, Any]) -> Usage | None:
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


def _megabytes(size: int) -> str:
    return f"{size / _MIB:,.0f} MB" if size >= _MIB else f"{size / 1024:,.0f} KB"


def _too_large(cap: int, answer_id: str | None) -> AnswerTooLarge:
    return AnswerTooLarge(f"The image API's answer was larger than {_megabytes(cap)}; imagebot stopped reading it "
                          "(it may be billed).", request_id=answer_id)
