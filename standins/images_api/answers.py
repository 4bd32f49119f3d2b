"""The answers written: JSON, image data items, bodies streamed piece by piece, and server-sent events."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from standins.images_api.facts import FILTER_CATEGORIES
from standins.images_api.records import RecordedRequest


def new_request_id() -> str:
    return "req_" + secrets.token_hex(16)


def respond(status: int, body: dict[str, Any] | str, headers: dict[str, str]) -> web.Response:
    if isinstance(body, str):
        has_type = any(k.lower() == "content-type" for k in headers)
        return web.Response(status=status, text=body, headers=headers,
                            content_type=None if has_type else "text/plain")
    return web.json_response(body, status=status, headers=headers)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def data_item(picture: bytes, flavor: str) -> dict[str, Any]:
    item: dict[str, Any] = {"b64_json": b64(picture)}
    if flavor == "azure":  # Azure's imageResult adds its filter verdicts
        verdicts = {name: {"filtered": False, "severity": "safe"} for name in FILTER_CATEGORIES}
        item["content_filter_results"] = verdicts
        item["prompt_filter_results"] = {
            **verdicts, "jailbreak": {"filtered": False, "detected": False},
            "profanity": {"filtered": False, "detected": False},
        }
    return item


B64_ANSWER_TAIL = b'"}], "output_format": "png", "size": "1024x1024", "quality": "low"}'


def b64_answer_head() -> bytes:
    return b'{"created": %d, "data": [{"b64_json": "' % int(time.time())


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def filler(head: bytes, size: int, tail: bytes) -> AsyncIterator[bytes]:
    """`head`, `size` bytes of base64 "A"s in 64 KiB pieces, then `tail`: any size, a few KB of memory."""
    yield head
    piece = b"A" * (64 * 1024)
    left = size
    while left > 0:
        yield piece[:left]
        left -= len(piece)
    yield tail


async def write_answer(request: web.Request, record: RecordedRequest, headers: dict[str, str],
                        body: AsyncIterator[bytes], *, length: int | None, close: bool = False,
                        status: int = 200) -> web.StreamResponse:
    """A JSON answer (200 unless `status`) written piece by piece (Content-Length `length`, or chunked), counting
    into the record's `answer_bytes`; with `close`, the connection is dropped after the last piece, whatever
    `length` promised. A client that goes away mid-body ends the writing quietly."""
    response = web.StreamResponse(status=status, headers={**headers, "Content-Type": "application/json"})
    if length is None:
        response.enable_chunked_encoding()
    else:
        response.content_length = length
    record.status = status
    await response.prepare(request)
    try:
        async for piece in body:
            await response.write(piece)
            record.answer_bytes += len(piece)
        if not close:
            await response.write_eof()
            return response
    except ConnectionError:  # aiohttp's ClientConnectionResetError is one: the client stopped reading
        pass
    if request.transport is not None:
        request.transport.close()
    return response


async def send_event(response: web.StreamResponse, event: str, data: dict[str, Any]) -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode())
