"""The image API client: OpenAI and Azure OpenAI, over one injected `httpx.AsyncClient`.

Generations are JSON; edits are multipart with `image[]` for each of 1–16 inputs and an optional `mask`
(shared/reference §1, §2a). The client always sends `model` to OpenAI (the generations default is
dall-e-2) and never sends the DALL·E-only `response_format` or `style`, which GPT image models reject.
Azure routes by deployment (`/openai/deployments/{name}/images/...?api-version=`) with an `api-key` header.

Waits are bounded: the HTTP client's timeouts (sized for images that take two minutes), at most
`max_attempts` tries, backoff capped at `max_backoff`, and a `Retry-After` honoured only up to
`max_retry_after` (a longer one is handed to the user as "try again in …" instead of a silent hang).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.errors import (
    AuthenticationFailed,
    ImageAPIError,
    InvalidRequest,
    ModerationBlocked,
    OrganizationNotVerified,
    PermissionDenied,
    QuotaExhausted,
    RateLimited,
    ServerError,
)
from bot.models import EditRequest, GenerateRequest, ImageOptions, ImageResult, OutputImage
from bot.pricing import Usage

log = logging.getLogger(__name__)

# Image generation can take two minutes and more at high quality; the read timeout covers the whole wait.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=60.0, pool=30.0)
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True)
class OpenAITarget:
    base_url: str
    api_key: str = field(repr=False)
    provider = "openai"

    def url(self, operation: str) -> str:
        return f"{self.base_url.rstrip('/')}/images/{operation}"

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
    ) -> None:
        self._http = http
        self._target = target
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff
        self._max_retry_after = max_retry_after
        self._sleep = sleep

    @property
    def provider(self) -> str:
        return self._target.provider

    async def generate(self, request: GenerateRequest) -> ImageResult:
        body: dict[str, Any] = {"prompt": request.prompt, **self._common_fields(request.options)}
        if request.user:
            body["user"] = request.user
        response = await self._send("generations", json=body)
        # Decoding megabytes of JSON and base64 is CPU work: off the event loop, so acks never wait on it.
        return await asyncio.to_thread(self._parse, response, request.options)

    async def edit(self, request: EditRequest) -> ImageResult:
        if not 1 <= len(request.images) <= 16:
            raise InvalidRequest("An edit takes 1 to 16 input images.", param="image")
        fields = {"prompt": request.prompt, **self._common_fields(request.options)}
        if request.user:
            fields["user"] = request.user
        data = {key: str(value) for key, value in fields.items()}
        files: list[tuple[str, tuple[str, bytes, str]]] = [
            ("image[]", (f"image_{i}.{_suffix(img.format)}", img.data, _MIME[img.format]))
            for i, img in enumerate(request.images, start=1)
        ]
        if request.mask is not None:
            files.append(("mask", ("mask.png", request.mask, "image/png")))
        response = await self._send("edits", data=data, files=files)
        return await asyncio.to_thread(self._parse, response, request.options)

    def _common_fields(self, options: ImageOptions) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self._target.sends_model:
            fields["model"] = options.model
        fields.update(n=options.n, size=options.size, quality=options.quality, output_format=options.output_format)
        if options.background:
            fields["background"] = options.background
        return fields

    async def _send(self, operation: str, **kwargs: Any) -> httpx.Response:
        url = self._target.url(operation)
        headers = self._target.headers()
        last_error: ImageAPIError | None = None
        for attempt in range(1, self._max_attempts + 1):
            started = time.perf_counter()
            try:
                response = await self._http.post(url, headers=headers, **kwargs)
            except httpx.TimeoutException as exc:
                last_error = ServerError(f"The image API did not answer in time ({type(exc).__name__}).")
                delay = self._backoff(attempt)
            except httpx.TransportError as exc:
                last_error = ServerError(f"Could not reach the image API ({type(exc).__name__}).")
                delay = self._backoff(attempt)
            else:
                log.info("image api %s status=%s attempt=%d request_id=%s ms=%.0f", operation,
                         response.status_code, attempt, _request_id(response),
                         (time.perf_counter() - started) * 1000)
                if response.status_code < 400:
                    return response
                error = error_from_response(response)
                if not _retryable(error):
                    raise error
                last_error = error
                delay = self._backoff(attempt)
                if isinstance(error, RateLimited) and error.retry_after is not None:
                    if error.retry_after > self._max_retry_after:
                        raise error
                    delay = max(delay, error.retry_after)
            if attempt < self._max_attempts:
                log.warning("image api %s: %s; retrying in %.1fs", operation, last_error, delay)
                await self._sleep(delay)
        assert last_error is not None
        raise last_error

    def _backoff(self, attempt: int) -> float:
        return min(self._max_backoff, 2.0 ** (attempt - 1)) * (0.75 + random.random() / 2)

    def _parse(self, response: httpx.Response, options: ImageOptions) -> ImageResult:
        request_id = _request_id(response)
        try:
            body = response.json()
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
        usage: Usage | None = None
        if body.get("usage") is not None:
            try:
                usage = Usage.from_api(body["usage"])
            except ValueError as exc:
                log.warning("image api usage unreadable (%s); cost will show as unknown", exc)
        return ImageResult(
            images=tuple(images),
            usage=usage,
            model=options.model,
            size=str(body.get("size") or options.size),
            quality=str(body.get("quality") or options.quality),
            output_format=output_format,
            background=body.get("background") or options.background,
            provider=self._target.provider,
            request_id=request_id,
        )


def _request_id(response: httpx.Response) -> str | None:
    return response.headers.get("x-request-id") or response.headers.get("apim-request-id")


def _suffix(fmt: str) -> str:
    return "jpg" if fmt == "jpeg" else fmt


def _retryable(error: ImageAPIError) -> bool:
    return isinstance(error, RateLimited | ServerError)


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
    moderation = _moderation(error, code, etype, message)
    if moderation is not None:
        stage, categories = moderation
        return ModerationBlocked(message, stage=stage, categories=categories, **kw)
    if code in ("billing_hard_limit_reached", "insufficient_quota"):
        return QuotaExhausted(message, **kw)
    return InvalidRequest(message, param=param if isinstance(param, str) else None, api_code=code or None, **kw)


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
