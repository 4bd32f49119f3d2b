"""What an error answer of the image API means: its status and JSON (OpenAI's or Azure's shape) mapped to the error
tree in bot/errors.py. An error body is read to MAX_ERROR_BYTES at most."""

from __future__ import annotations

import contextlib
import re
from typing import Any, TypedDict

import httpx

from bot.errors import (
    AuthenticationFailed,
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
from bot.providers.answers import request_id

MAX_ERROR_BYTES = 64 * 1024  # an error answer's body read at most (a real one is a few hundred bytes of JSON)


class _Answered(TypedDict):
    """What every error made from an answer carries."""

    status: int
    request_id: str | None


async def read_error(response: httpx.Response) -> ImageAPIError:
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


def error_from_response(response: httpx.Response) -> ImageAPIError:
    """Map an error answer (OpenAI or Azure shape) to the error tree."""
    status = response.status_code
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
    kw = _Answered(status=status, request_id=request_id(response))

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
