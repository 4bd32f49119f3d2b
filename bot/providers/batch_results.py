"""The lines of a batch's output and error files, read into small frozen results.

Each line is OpenAI's request output object: {id, custom_id, response: {status_code, request_id, body}, error}. A
request the API answered has a `response`: a 200 whose body is the images response of a synchronous generation
(data[].b64_json, usage), or an error status whose body is the API's error, mapped here exactly as a synchronous
call's (error_answers.py: ModerationBlocked, InvalidRequest...). A request that never ran (the batch expired or was
cancelled first) has `response: null` and an `error` {code, message}: code batch_expired or batch_cancelled
(https://platform.openai.com/docs/guides/batch).
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pybase64

from bot.errors import ImageAPIError, ServerError
from bot.models import OutputImage
from bot.money.pricing import Usage
from bot.providers.answers import usage
from bot.providers.error_answers import error_from_response


@dataclass(frozen=True)
class BatchSuccess:
    """A request that made its images: their bytes exactly as the API sent them, and the API's own usage."""

    custom_id: str
    images: tuple[OutputImage, ...]
    usage: Mapping[str, Any] = field(default_factory=dict)  # the answer's `usage` object, as it came
    request_id: str | None = None
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None

    @property
    def tokens(self) -> Usage | None:
        """The usage as the price table reads it (None when absent or unreadable: the cost is then unknown)."""
        return usage({"usage": dict(self.usage)}) if self.usage else None


@dataclass(frozen=True)
class BatchFailure:
    """A request that failed (`status` 4xx/5xx, `error` as a synchronous call would raise it) or never ran
    (`status` None, `code` batch_expired or batch_cancelled, `error` None)."""

    custom_id: str
    code: str | None
    message: str
    status: int | None = None
    request_id: str | None = None
    error: ImageAPIError | None = None


def parse_results(content: bytes) -> tuple[BatchSuccess | BatchFailure, ...]:
    """Every line of an output or error file, in order (blank lines skipped). A line that is not a request output
    object is a ServerError naming its number: the file is the API's, and a result must not go missing silently."""
    results: list[BatchSuccess | BatchFailure] = []
    for number, raw in enumerate(content.splitlines(), start=1):
        if raw.strip():
            results.append(parse_line(raw, number))
    return tuple(results)


def parse_line(raw: bytes | str, number: int = 1) -> BatchSuccess | BatchFailure:
    """One line of an output or error file."""
    try:
        item = json.loads(raw)
    except ValueError as exc:
        raise _bad(number, "is not JSON") from exc
    if not isinstance(item, dict) or not isinstance(item.get("custom_id"), str):
        raise _bad(number, "has no custom_id")
    custom_id = item["custom_id"]
    response = item.get("response")
    if not isinstance(response, dict):
        error = _object(item.get("error"))
        return BatchFailure(custom_id, code=_text(error.get("code")),
                            message=str(error.get("message") or "The request did not run."))
    status, body = response.get("status_code"), response.get("body")
    answer_id = _text(response.get("request_id"))
    if not isinstance(status, int) or not isinstance(body, dict):
        raise _bad(number, "has a response without a status_code and a body")
    if status >= 400:
        failure = error_from_response(httpx.Response(status, json=body,
                                                     headers={"x-request-id": answer_id} if answer_id else None))
        inner = _object(body.get("error"))
        return BatchFailure(custom_id, code=_text(inner.get("code")), message=str(failure), status=status,
                            request_id=answer_id, error=failure)
    return _success(custom_id, body, answer_id, number)


def _success(custom_id: str, body: dict[str, Any], answer_id: str | None, number: int) -> BatchSuccess:
    items = body.get("data")
    if not isinstance(items, list) or not items:
        raise _bad(number, "answered without any image")
    output_format = _text(body.get("output_format")) or "png"
    images = []
    for item in items:
        encoded = item.get("b64_json") if isinstance(item, dict) else None
        try:
            data = pybase64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
        except (binascii.Error, ValueError) as exc:
            raise _bad(number, "has image data that is not valid base64") from exc
        if not data:
            raise _bad(number, "has an image without data")
        images.append(OutputImage(data=data, format=output_format))
    counts = body.get("usage")
    return BatchSuccess(custom_id, tuple(images), usage=dict(counts) if isinstance(counts, dict) else {},
                        request_id=answer_id, size=_text(body.get("size")), quality=_text(body.get("quality")),
                        output_format=output_format)


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _bad(number: int, problem: str) -> ServerError:
    return ServerError(f"Line {number} of the batch's results {problem}.")
