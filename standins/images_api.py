"""A local stand-in for the OpenAI Images API and Azure OpenAI's image deployments.

It plays the far side of the wire for imagebot's tests and benchmarks: a real aiohttp server on
127.0.0.1 that answers the same routes, with the same auth, validation, bodies and headers as the real
services, so the app's image client can be tested over a real socket without a network or a bill.
Facts come from /work/shared/reference/openai-images.md ("the fact sheet", cited as §n) and OpenAI's
OpenAPI description in /work/shared/schemas/openai-images.openapi.json.

What it emulates
    OpenAI   POST /v1/images/generations (JSON) and POST /v1/images/edits (multipart/form-data with
             ``image``/``image[]`` and ``mask`` files, or the JSON variant with ``images: [{image_url}]``),
             ``Authorization: Bearer <api_key>``. GET /v1/models/{model}: the model object for a GPT image
             model (404 model_not_found for others), after the same auth and queued faults (operation
             "models") as the image routes.
    Azure    POST /openai/deployments/{deployment}/images/generations|edits?api-version=...,
             ``api-key: <azure_api_key>``; the model is the deployment's (§6).
    Both     OpenAI-style 400s with ``param`` and ``code`` for bad fields; 404 for unknown or retired
             models; real, decodable images of the requested format and resolved size (transparent
             backgrounds carry alpha); ``usage`` from the fact sheet's token tables (§5); SSE streaming
             with partial images (§3b); ``x-request-id`` / ``openai-processing-ms`` (and Azure's
             ``apim-request-id``) headers; and queued faults (429 with Retry-After, quota, 5xx,
             moderation blocks, Azure content filters, 401, 403, garbage bodies, hangs). Faults answer
             in OpenAI's body shape on both flavours, except rate_limit() and auth_error(), which use
             Azure's own {"error": {"code", "message"}} shape on Azure routes.

What it does not emulate
    The pictures are deterministic drawings (generations: a gradient plus shapes seeded by the prompt;
    edits: the first input image, tinted and banded, only inside the mask's transparent area), not
    model output, and they carry no C2PA provenance. Remote ``image_url``s and ``file_id``s (the Files
    API) are refused with a 400 because only loopback exists here. DALL·E models are treated as retired
    (404, §8), and a generation without ``model`` defaults to dall-e-2 as the real API does (§0), so it
    gets that 404 too: always send ``model``. No rate limiting or quota is enforced unless a fault is
    queued. Microsoft Entra ID tokens, Azure's v1 API (/openai/v1/...) and /images/variations are not
    emulated. Token counts for gpt-image-1-mini reuse the gpt-image-1 table (the real figures are
    unknown, §5b). ``latency`` delays successful answers only (errors are fast, like the real thing).

The pause gate
    ``pause()`` holds every following request that would be answered successfully (after auth, faults
    and validation, before ``latency`` and the picture) until ``resume()`` or ``stop()``; errors still
    answer at once. ``waiting`` counts the requests held now and ``held`` lists them (recorded, status 0);
    ``wait_for_waiting(n)`` waits until n are held. ``resume()`` releases exactly the requests held at
    that moment, so ``resume(); pause()`` lets one batch through and holds the next. It is how a test
    freezes a job "at the image API" to look at the app while the call is in flight.

Typical use::

    async with ImageAPIStandIn() as api:
        client = httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": "Bearer sk-standin"})
        api.rate_limit(retry_after=2)            # the next request gets a 429
        ...
        assert api.requests[-1].params()["model"] == "gpt-image-1"
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import io
import json
import math
import random
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web
from PIL import Image, ImageDraw, ImageOps

__all__ = [
    "GPT_IMAGE_2_MODELS",
    "GPT_IMAGE_MODELS",
    "ImageAPIStandIn",
    "RecordedRequest",
    "closest_standard_size",
    "gpt_image_2_size_problem",
    "input_image_tokens",
    "input_text_tokens",
    "output_image_tokens",
]

# ---------------------------------------------------------------------------------------------------------
# Models, fields and limits
# ---------------------------------------------------------------------------------------------------------

#: Every GPT image model the stand-in serves (§0; the SDK's ImageModel literal minus DALL·E).
GPT_IMAGE_MODELS = frozenset(
    {"gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "gpt-image-2", "gpt-image-2-2026-04-21",
     "chatgpt-image-latest"}
)
#: gpt-image-2 and its snapshot: free WxH sizes (§1a), token formula (§5c), inputs always high fidelity (§5d).
GPT_IMAGE_2_MODELS = frozenset({"gpt-image-2", "gpt-image-2-2026-04-21"})
#: A newer docs page says the DALL·E models were retired on 2026-05-12 (§8); they get the "deprecated" 404.
RETIRED_MODELS = frozenset({"dall-e-2", "dall-e-3"})

STANDARD_SIZES = ("1024x1024", "1536x1024", "1024x1536")
QUALITIES = ("low", "medium", "high", "auto")
BACKGROUNDS = ("transparent", "opaque", "auto")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
AZURE_OUTPUT_FORMATS = ("png", "jpeg")  # "WEBP images aren't supported" on Azure (§6c)
MODERATIONS = ("low", "auto")
INPUT_FIDELITIES = ("high", "low")
MAX_PROMPT_CHARS = 32000  # for the GPT image models (§1)
MAX_INPUT_IMAGES = 16  # §2a

# Allowed request fields are exactly the schema's properties (tests check these against the shared
# OpenAPI file), minus the DALL·E-only ones: GPT image models answer `response_format` and `style`
# with 400 unknown_parameter (§1, vercel/ai#6102).
DALLE_ONLY_PARAMS = frozenset({"response_format", "style"})
GENERATION_PARAMS = frozenset(
    {"prompt", "model", "n", "quality", "output_format", "output_compression", "stream", "partial_images",
     "size", "moderation", "background", "user"}
)  # CreateImageRequest; no input_fidelity, image, mask (§1)
MULTIPART_EDIT_PARAMS = frozenset(
    {"image", "prompt", "mask", "background", "model", "n", "size", "output_format", "output_compression",
     "user", "input_fidelity", "stream", "partial_images", "quality"}
)  # CreateImageEditRequest; `moderation` is absent from the multipart schema (§2a)
JSON_EDIT_PARAMS = frozenset(
    {"model", "images", "mask", "prompt", "n", "quality", "input_fidelity", "size", "user", "output_format",
     "output_compression", "moderation", "background", "stream", "partial_images"}
)  # EditImageBodyJsonParam (§2b)
INTEGER_PARAMS = frozenset({"n", "output_compression", "partial_images"})

DEFAULT_AZURE_DEPLOYMENTS = {"gpt-image-1": "gpt-image-1", "gpt-image-1-mini": "gpt-image-1-mini"}
FIRST_AZURE_API_VERSION = "2025-04-01"  # 2025-04-01-preview added gpt-image-1 (§6a)

_MB = 1024 * 1024

# ---------------------------------------------------------------------------------------------------------
# Token accounting (§5) — pure functions, exported for the app's own tests
# ---------------------------------------------------------------------------------------------------------

# §5b, "models prior to gpt-image-2". Also used for gpt-image-1-mini, whose real counts are unknown.
_PRIOR_OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
_GPT_IMAGE_2_QUALITY_FACTOR = {"low": 16, "medium": 48, "high": 96}  # §5c
_SIZE_RE = re.compile(r"^([1-9][0-9]{0,5})x([1-9][0-9]{0,5})$")


def parse_size(size: str) -> tuple[int, int] | None:
    """'1536x1024' → (1536, 1024); None for anything else (including 'auto')."""
    match = _SIZE_RE.match(size)
    return (int(match[1]), int(match[2])) if match else None


def output_image_tokens(model: str, size: str, quality: str) -> int:
    """Output image tokens for ONE image of a resolved `size` ('WxH') and `quality` (low/medium/high)."""
    if quality not in _GPT_IMAGE_2_QUALITY_FACTOR:
        raise ValueError(f"quality must be resolved to low, medium or high, not {quality!r}")
    if model in GPT_IMAGE_2_MODELS:
        dims = parse_size(size)
        if dims is None:
            raise ValueError(f"size must be WxH, not {size!r}")
        width, height = dims
        # §5c (community-derived, reproduces every official figure):
        # saf = floor((2·q·S + L) / (2·L)); tokens = ceil(q · saf · (2,000,000 + W·H) / 4,000,000).
        q = _GPT_IMAGE_2_QUALITY_FACTOR[quality]
        long_edge, short_edge = max(width, height), min(width, height)
        saf = (2 * q * short_edge + long_edge) // (2 * long_edge)
        return -(-q * saf * (2_000_000 + width * height) // 4_000_000)
    if model not in GPT_IMAGE_MODELS:
        raise ValueError(f"unknown model {model!r}")
    try:
        return _PRIOR_OUTPUT_TOKENS[quality][size]
    except KeyError:
        raise ValueError(f"{model} has no token figure for size {size!r}") from None


def closest_standard_size(width: int, height: int) -> str:
    """The standard size (1024x1024, 1536x1024, 1024x1536) nearest in aspect ratio to width×height."""
    ratio = math.log(width / height)
    return min(STANDARD_SIZES, key=lambda s: abs(ratio - math.log(_ASPECTS[s])))


_ASPECTS = {"1024x1024": 1.0, "1536x1024": 1.5, "1024x1536": 1024 / 1536}


def input_image_tokens(width: int, height: int, fidelity: str = "low", model: str = "gpt-image-1") -> int:
    """Input tokens for one input image (edits; the mask is not counted) (§5d).

    The image is scaled so its shortest side is 512 px; low fidelity costs 65 + 129 per 512-px tile.
    High fidelity adds 4160 when the image is closest to square, 6240 otherwise (the current docs'
    figures). gpt-image-2 always processes inputs at high fidelity, whatever `fidelity` says.
    """
    if width <= 0 or height <= 0:
        raise ValueError("image dimensions must be positive")
    short_edge, long_edge = min(width, height), max(width, height)
    scaled_long = round(long_edge * 512 / short_edge)
    tiles = -(-scaled_long // 512)  # the short side is exactly one tile
    tokens = 65 + 129 * tiles
    if fidelity == "high" or model in GPT_IMAGE_2_MODELS:
        tokens += 4160 if closest_standard_size(width, height) == "1024x1024" else 6240
    return tokens


def input_text_tokens(prompt: str, input_images: int = 0) -> int:
    """A deterministic estimate of input text tokens: ~4 characters a token, plus the undocumented
    overhead seen in real bills: ~6 tokens per request and ~32 per input image (§5d)."""
    return -(-len(prompt) // 4) + 6 + 32 * input_images


def gpt_image_2_size_problem(width: int, height: int) -> str | None:
    """Why gpt-image-2 would refuse width×height (§1a), or None if it is acceptable."""
    if width % 16 or height % 16:
        return "width and height must both be multiples of 16"
    if max(width, height) > 3840:
        return "the longest edge must be at most 3840 pixels"
    if max(width, height) > 3 * min(width, height):
        return "the aspect ratio must be between 1:3 and 3:1"
    if not 655_360 <= width * height <= 8_294_400:
        return "the total pixel count must be between 655,360 and 8,294,400"
    return None


# ---------------------------------------------------------------------------------------------------------
# Recorded requests
# ---------------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request the stand-in received, as it arrived, and the status it was answered with.

    `headers` keys are lower-cased. `status` is 0 while the request is still being answered (a hang).
    """

    flavor: str  # "openai" | "azure"
    operation: str  # "generations" | "edits" | "models" (GET /v1/models/{model})
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""  # "application/json" or "multipart/form-data" (no parameters)
    json: dict | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)
    status: int = 0

    def params(self) -> dict:
        """The JSON body, or the multipart text fields flattened: single values unwrapped, repeated
        fields as lists, and the schema's integer fields (n, output_compression, partial_images) parsed."""
        if self.json is not None:
            return dict(self.json)
        flat: dict[str, Any] = {}
        for name, values in self.fields.items():
            parsed = [_maybe_int(v) if name in INTEGER_PARAMS else v for v in values]
            flat[name] = parsed[0] if len(parsed) == 1 else parsed
        return flat


def _maybe_int(value: str) -> int | str:
    return int(value) if re.fullmatch(r"-?[0-9]+", value.strip()) else value


# ---------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------


class _Reject(Exception):
    """Raised inside a handler to answer with an error body."""

    def __init__(self, status: int, body: dict | str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(
    status: int, message: str, *, type: str | None = "invalid_request_error", param: str | None = None,
    code: str | None = None, **extra: Any,
) -> _Reject:
    """OpenAI's ErrorResponse: {"error": {message, type, param, code}} (§4a)."""
    return _Reject(status, {"error": {"message": message, "type": type, "param": param, "code": code, **extra}})


def _azure_error(status: int, code: str, message: str) -> _Reject:
    """Azure's own front-door errors (auth, routing, throttling) carry only code and message (§6d)."""
    return _Reject(status, {"error": {"code": code, "message": message}})


def _invalid_value(param: str, value: Any, allowed: Iterable[str]) -> _Reject:
    return _error(400, f"Invalid value: {_quote(value)}. Supported values are: {_english(allowed)}.",
                  param=param, code="invalid_value")


def _invalid_type(param: str, expected: str, value: Any) -> _Reject:
    return _error(400, f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
                  param=param, code="invalid_type")


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def _english(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _mask_key(key: str) -> str:
    """OpenAI echoes a wrong key with its middle starred out: 'sk-abcd***...wxyz'."""
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


# ---------------------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _FaultContext:
    flavor: str
    operation: str
    model: str
    request_id: str
    api_version: str | None
    presented_key: str


@dataclass
class _Gate:
    """One pause: the requests it holds, and the event that lets them go."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: list[RecordedRequest] = field(default_factory=list)


@dataclass
class _Fault:
    operation: str
    times: int
    build: Callable[[_FaultContext], _Reject] | None  # None = hang until stop()


_FILTER_CATEGORIES = ("hate", "self_harm", "sexual", "violence")


# ---------------------------------------------------------------------------------------------------------
# Parsed requests and jobs
# ---------------------------------------------------------------------------------------------------------


@dataclass
class _Body:
    kind: str  # "json" | "multipart" | "invalid"
    json: dict | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)  # as recorded
    images: list[bytes] = field(default_factory=list)  # `image` and `image[]` files, in arrival order
    masks: list[bytes] = field(default_factory=list)
    problem: _Reject | None = None


@dataclass
class _InputImage:
    data: bytes
    format: str  # "PNG" | "JPEG" | "WEBP"
    width: int
    height: int
    has_alpha: bool


@dataclass
class _Job:
    flavor: str
    operation: str
    model: str
    prompt: str
    n: int
    size: str  # as requested ("auto" when absent)
    quality: str  # as requested
    background: str  # as requested
    output_format: str
    output_compression: int
    stream: bool
    partial_images: int
    input_fidelity: str | None
    images: list[_InputImage] = field(default_factory=list)
    mask: _InputImage | None = None
    resolved_size: str = ""
    resolved_quality: str = ""
    resolved_background: str = ""

    @property
    def event_prefix(self) -> str:
        return "image_generation" if self.operation == "generations" else "image_edit"


# ---------------------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------------------


class ImageAPIStandIn:
    """A local OpenAI Images API + Azure OpenAI image deployments. See the module docstring."""

    #: Input file limits (§2a). Instance attributes may be lowered in tests to exercise the checks cheaply.
    max_image_bytes = 50 * _MB
    max_mask_bytes = 4 * _MB

    def __init__(
        self, *, api_key: str = "sk-standin", azure_api_key: str = "azure-standin-key",
        azure_deployments: dict[str, str] | None = None, latency: float = 0.0, image_kind: str = "flat",
    ) -> None:
        if image_kind not in ("flat", "photo"):
            raise ValueError("image_kind must be 'flat' or 'photo'")
        self.api_key = api_key
        self.azure_api_key = azure_api_key
        self.azure_deployments = dict(DEFAULT_AZURE_DEPLOYMENTS if azure_deployments is None else azure_deployments)
        self.latency = latency
        self.image_kind = image_kind
        self.requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopped = asyncio.Event()
        self._arrived = asyncio.Event()
        self._gate: _Gate | None = None  # set while paused
        self._held_changed = asyncio.Event()

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the stand-in is already running")
        self._stopped = asyncio.Event()
        # Edits carry up to 16 images of < 50 MB each (§2a); aiohttp's default body limit is 1 MB.
        app = web.Application(client_max_size=(MAX_INPUT_IMAGES + 1) * 50 * _MB)
        app.router.add_post("/v1/images/generations", self._openai_generations)
        app.router.add_post("/v1/images/edits", self._openai_edits)
        app.router.add_get("/v1/models/{model}", self._openai_model)
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

    # -- the pause gate --------------------------------------------------------------------------------------

    def pause(self) -> None:
        """Hold every following successful answer until resume() or stop(). Pausing twice is a no-op."""
        if self._gate is None:
            self._gate = _Gate()

    def resume(self) -> None:
        """Release the requests held now (they are answered normally); later requests are not held."""
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release.set()
            gate.held.clear()
            self._notify_held()

    @property
    def paused(self) -> bool:
        return self._gate is not None

    @property
    def waiting(self) -> int:
        """How many requests are held by the gate right now."""
        return len(self._gate.held) if self._gate is not None else 0

    @property
    def held(self) -> list[RecordedRequest]:
        """The requests held right now, in arrival order."""
        return list(self._gate.held) if self._gate is not None else []

    async def wait_for_waiting(self, count: int = 1, *, timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until at least `count` requests are held by the gate; return the held requests."""
        async with asyncio.timeout(timeout):
            while self.waiting < count:
                self._held_changed.clear()
                await self._held_changed.wait()
        return self.held

    def _notify_held(self) -> None:
        self._held_changed.set()

    async def _hold(self, record: RecordedRequest) -> None:
        """While paused: wait for resume() or stop() (whichever comes first)."""
        gate = self._gate
        if gate is None or self._stopped.is_set():
            return
        gate.held.append(record)
        self._notify_held()
        released = asyncio.ensure_future(gate.release.wait())
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({released, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            released.cancel()
            stopped.cancel()
            # Still listed after stop(), or when the client went away and aiohttp cancelled the handler. By
            # identity: two identical requests are equal records.
            for index, held in enumerate(gate.held):
                if held is record:
                    del gate.held[index]
                    self._notify_held()
                    break

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

    # -- faults ------------------------------------------------------------------------------------------------

    def queue_error(
        self, status: int, body: dict | str, *, headers: dict | None = None, operation: str = "*", times: int = 1,
    ) -> None:
        """Answer the next `times` matching requests with exactly this status, body and headers."""
        fixed = _Reject(status, body, dict(headers or {}))
        self._queue(operation, times, lambda ctx: fixed)

    def rate_limit(self, retry_after: int | None = 1, *, operation: str = "*", times: int = 1) -> None:
        """429 rate_limit_exceeded, with Retry-After (integer seconds, §4a) unless `retry_after` is None.

        On Azure routes the body is Azure's throttling shape {"error": {"code": "429", "message": ...}}
        and retry-after-ms accompanies Retry-After.
        """

        def build(ctx: _FaultContext) -> _Reject:
            wait = f"in {retry_after}s" if retry_after is not None else "later"
            if ctx.flavor == "azure":
                op = "Images_Generations" if ctx.operation == "generations" else "Images_Edits"
                after = f"after {retry_after} second{'s' * (retry_after != 1)}" if retry_after is not None else "later"
                reject = _azure_error(
                    429, "429",
                    f"Requests to the {op} Operation under Azure OpenAI API version {ctx.api_version} have "
                    f"exceeded call rate limit of your current AIServices S0 pricing tier. Please retry {after}. "
                    "Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase "
                    "the default rate limit.",
                )
                if retry_after is not None:
                    reject.headers["retry-after-ms"] = str(retry_after * 1000)
            else:
                reject = _error(
                    429,
                    f"Rate limit reached for {ctx.model} in organization org-standin on images per minute (IPM): "
                    f"Limit 5, Used 5, Requested 1. Please try again {wait}. Visit "
                    "https://platform.openai.com/account/rate-limits to learn more.",
                    type="requests", code="rate_limit_exceeded",
                )
            if retry_after is not None:
                reject.headers["Retry-After"] = str(retry_after)
            return reject

        self._queue(operation, times, build)

    def quota_exhausted(self, *, operation: str = "*", times: int = 1) -> None:
        """429 insufficient_quota: needs user action, so no Retry-After (§4a, §4b)."""
        self._queue(operation, times, lambda ctx: _error(
            429,
            "You exceeded your current quota, please check your plan and billing details. For more information "
            "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            type="insufficient_quota", code="insufficient_quota",
        ))

    def server_error(self, status: int = 500, *, operation: str = "*", times: int = 1) -> None:
        """5xx with OpenAI's server_error body (§4b)."""
        self._queue(operation, times, lambda ctx: _error(
            status,
            "The server had an error while processing your request. Sorry about that! You can retry your request, "
            f"or contact us through our help center at help.openai.com if the error persists. (Please include the "
            f"request ID {ctx.request_id} in your message.)",
            type="server_error",
        ))

    def moderation_blocked(
        self, *, stage: str = "input", categories: Iterable[str] = ("sexual",), operation: str = "*", times: int = 1,
    ) -> None:
        """400 image_generation_user_error / moderation_blocked with moderation_details (§4b)."""
        if stage not in ("input", "output"):
            raise ValueError("stage must be 'input' or 'output'")
        cats = list(categories)

        def build(ctx: _FaultContext) -> _Reject:
            return _error(
                400,
                "Your request was rejected by the safety system. If you believe this is an error, contact us at "
                f"help.openai.com and include the request ID {ctx.request_id}. "
                f"safety_violations=[{', '.join(cats)}].",
                type="image_generation_user_error", code="moderation_blocked",
                moderation_details={"moderation_stage": stage, "categories": list(cats)},
            )

        self._queue(operation, times, build)

    def azure_content_filter(
        self, *, spelling: str = "inner_error", categories: Iterable[str] = ("sexual",), operation: str = "*",
        times: int = 1,
    ) -> None:
        """Azure's 400 content-filter rejection, in one of its two observed shapes (§6d):

        - "inner_error" (the images spec and observed image errors): code content_policy_violation,
          inner_error {code: ResponsibleAIPolicyViolation, content_filter_results {...}};
        - "innererror" (Azure's other APIs): code content_filter, innererror
          {code: ResponsibleAIPolicyViolation, content_filter_result {...}}.
        """
        if spelling not in ("inner_error", "innererror"):
            raise ValueError("spelling must be 'inner_error' or 'innererror'")
        flagged = set(categories)
        results: dict[str, dict] = {
            name: {"filtered": name in flagged, "severity": "high" if name in flagged else "safe"}
            for name in _FILTER_CATEGORIES
        }
        results["jailbreak"] = {"filtered": "jailbreak" in flagged, "detected": "jailbreak" in flagged}
        results["profanity"] = {"filtered": "profanity" in flagged, "detected": "profanity" in flagged}
        if spelling == "inner_error":
            body = {"error": {
                "code": "content_policy_violation",
                "message": "Your request was rejected as a result of our safety system. Your prompt may contain "
                           "text that is not allowed by our safety system.",
                "param": "prompt",
                "type": "invalid_request_error",
                "inner_error": {"code": "ResponsibleAIPolicyViolation", "content_filter_results": results},
            }}
        else:
            body = {"error": {
                "message": "The response was filtered due to the prompt triggering Azure OpenAI's content "
                           "management policy. Please modify your prompt and retry. To learn more about our content "
                           "filtering policies please read our documentation: "
                           "https://go.microsoft.com/fwlink/?linkid=2198766",
                "type": None,
                "param": "prompt",
                "code": "content_filter",
                "status": 400,
                "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": results},
            }}
        self._queue(operation, times, lambda ctx: _Reject(400, body))

    def auth_error(self, *, operation: str = "*", times: int = 1) -> None:
        """Force a 401 even though the key is right (a revoked key). Azure routes get Azure's 401 shape."""

        def build(ctx: _FaultContext) -> _Reject:
            if ctx.flavor == "azure":
                return _azure_401()
            return _openai_wrong_key(ctx.presented_key)

        self._queue(operation, times, build)

    def org_not_verified(self, *, operation: str = "*", times: int = 1) -> None:
        """403: the organisation must be verified to use this model (§4b)."""
        self._queue(operation, times, lambda ctx: _error(
            403,
            f"Your organization must be verified to use the model `{ctx.model}`. Please go to: "
            "https://platform.openai.com/settings/organization/general and click on Verify Organization. "
            "If you just verified, it can take up to 15 minutes for access to propagate.",
        ))

    def garbage(self, *, operation: str = "*", times: int = 1) -> None:
        """200 with an HTML body where JSON should be (a misbehaving proxy)."""
        self.queue_error(200, "<html>upstream error</html>", headers={"Content-Type": "text/html"},
                         operation=operation, times=times)

    def hang(self, *, operation: str = "*", times: int = 1) -> None:
        """Never answer until stop() (then 503): the client's own timeout has to fire."""
        self._queue(operation, times, None)

    def _queue(self, operation: str, times: int, build: Callable[[_FaultContext], _Reject] | None) -> None:
        if operation not in ("generations", "edits", "models", "*"):
            raise ValueError("operation must be 'generations', 'edits', 'models' or '*'")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(_Fault(operation, times, build))

    def _take_fault(self, operation: str) -> _Fault | None:
        for fault in self._faults:
            if fault.operation in ("*", operation):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    # -- routes --------------------------------------------------------------------------------------------

    async def _openai_generations(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai", "generations")

    async def _openai_edits(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai", "edits")

    async def _azure_generations(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "azure", "generations")

    async def _azure_edits(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "azure", "edits")

    async def _openai_model(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/models/{model} (retrieve a model): free, so it is how a client proves a key works."""
        request_id = _request_id()
        headers = {"x-request-id": request_id, "openai-version": "2020-10-01", "openai-organization": "org-standin"}
        record = RecordedRequest(flavor="openai", operation="models", path=request.path, query=dict(request.query),
                                 headers={k.lower(): v for k, v in request.headers.items()})
        self.requests.append(record)
        self._arrived.set()
        model = request.match_info["model"]
        try:
            presented_key = self._check_openai_auth(request)
            fault = self._take_fault("models")
            if fault is not None:
                if fault.build is None:
                    await self._stopped.wait()
                    raise _error(503, "The stand-in was stopped while this request was hanging.", type="server_error")
                raise fault.build(_FaultContext("openai", "models", model, request_id, None, presented_key))
            if model not in GPT_IMAGE_MODELS:  # the retired DALL·E models too (§8)
                raise _error(404, f"The model `{model}` does not exist or you do not have access to it.",
                             param="model", code="model_not_found")
        except _Reject as reject:
            record.status = reject.status
            return _respond(reject.status, reject.body, {**headers, **reject.headers})
        record.status = 200
        return _respond(200, {"id": model, "object": "model", "created": 1745366400, "owned_by": "system"}, headers)

    async def _unknown_route(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/openai/"):
            reject = _azure_error(404, "404", "Resource not found")
        else:  # OpenAI's answer for a path it does not serve
            reject = _error(404, f"Invalid URL ({request.method} {request.path})")
        return _respond(reject.status, reject.body, {"x-request-id": _request_id()})

    async def _handle(self, request: web.Request, flavor: str, operation: str) -> web.StreamResponse:
        started = time.monotonic()
        request_id = _request_id()
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

        def finish(status: int, body: dict | str, extra: dict[str, str] | None = None) -> web.Response:
            record.status = status
            elapsed = int((time.monotonic() - started) * 1000)
            return _respond(status, body, {**headers, "openai-processing-ms": str(elapsed), **(extra or {})})

        try:
            return await self._serve(request, record, flavor, operation, request_id, headers, finish, started)
        except _Reject as reject:
            return finish(reject.status, reject.body, reject.headers)
        except Exception:  # a stand-in bug (aiohttp answers 500 and logs it), or a client gone mid-stream
            record.status = record.status or 500
            raise

    async def _serve(
        self, request: web.Request, record: RecordedRequest, flavor: str, operation: str, request_id: str,
        headers: dict[str, str], finish: Callable[..., web.Response], started: float,
    ) -> web.StreamResponse:
        api_version = None
        deployment_model = None
        if flavor == "azure":
            api_version = request.query.get("api-version")
            if not api_version:
                raise _azure_error(404, "404", "Resource not found")
            if not _azure_version_supported(api_version):
                raise _azure_error(400, "BadRequest", "API version not supported")
            if request.headers.get("api-key") != self.azure_api_key:
                raise _azure_401()
            deployment = request.match_info["deployment"]
            deployment_model = self.azure_deployments.get(deployment)
            if deployment_model is None:
                raise _azure_error(
                    404, "DeploymentNotFound",
                    "The API deployment for this resource does not exist. If you created the deployment within "
                    "the last 5 minutes, please wait a moment and try again.",
                )
            presented_key = self.azure_api_key
        else:
            presented_key = self._check_openai_auth(request)

        # Auth is settled: from here on, queued faults (a healthy account's problems) take precedence.
        body = await _read_body(request, operation)
        record.json = body.json
        record.fields = body.fields
        record.files = body.files
        fault = self._take_fault(operation)
        if fault is not None:
            model = deployment_model or _model_hint(body, operation)
            if fault.build is None:
                await self._stopped.wait()
                raise _error(503, "The stand-in was stopped while this request was hanging.", type="server_error")
            raise fault.build(_FaultContext(flavor, operation, model, request_id, api_version, presented_key))

        if body.problem is not None:
            raise body.problem
        job = _validate(body, flavor=flavor, operation=operation, deployment_model=deployment_model)
        if operation == "edits":
            job.images, job.mask = await asyncio.to_thread(
                _inspect_inputs, body, self.max_image_bytes, self.max_mask_bytes
            )
        _resolve(job)
        usage = _usage(job)

        await self._hold(record)
        if job.stream:
            return await self._stream(request, record, job, usage, headers, started)
        await self._pause(self.latency)
        pictures = await asyncio.to_thread(_render_all, job, self.image_kind)
        result: dict[str, Any] = {
            "created": int(time.time()),
            "data": [_data_item(p, flavor) for p in pictures],
            "background": job.resolved_background,
            "output_format": job.output_format,
            "quality": job.resolved_quality,
            "size": job.resolved_size,
            "usage": usage,
        }
        return finish(200, result)

    def _check_openai_auth(self, request: web.Request) -> str:
        authorization = request.headers.get("Authorization", "")
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using "
                "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) "
                "if you're accessing the API from your browser and are prompted for a username and password. You "
                "can obtain an API key from https://platform.openai.com/account/api-keys.",
            )
        if key != self.api_key:
            raise _openai_wrong_key(key)
        return key

    async def _pause(self, seconds: float) -> None:
        """Wait `seconds`, but no longer than until stop()."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def _stream(
        self, request: web.Request, record: RecordedRequest, job: _Job, usage: dict, headers: dict[str, str],
        started: float,
    ) -> web.StreamResponse:
        """SSE as in §3b: per image, `partial_images` partial events then one completed event. Events echo
        the requested size/quality/background (so 'auto' can appear). The completed event's usage is the
        ImagesUsage shape (no output_tokens_details) and, with n > 1, every completed event carries the
        whole request's usage (the real API's behaviour for n > 1 is undocumented)."""
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
        for index in range(job.n):
            for partial in range(job.partial_images):
                await self._pause(step)
                picture = await asyncio.to_thread(_render_one, job, index, self.image_kind, partial)
                await _send_event(response, f"{job.event_prefix}.partial_image", {
                    "type": f"{job.event_prefix}.partial_image", "b64_json": _b64(picture),
                    "created_at": int(time.time()), **echo, "partial_image_index": partial,
                })
            await self._pause(step)
            picture = await asyncio.to_thread(_render_one, job, index, self.image_kind, None)
            await _send_event(response, f"{job.event_prefix}.completed", {
                "type": f"{job.event_prefix}.completed", "b64_json": _b64(picture),
                "created_at": int(time.time()), **echo, "usage": stream_usage,
            })
        await response.write_eof()
        return response


# ---------------------------------------------------------------------------------------------------------
# Helpers: responses
# ---------------------------------------------------------------------------------------------------------


def _request_id() -> str:
    return "req_" + secrets.token_hex(16)


def _respond(status: int, body: dict | str, headers: dict[str, str]) -> web.Response:
    if isinstance(body, str):
        has_type = any(k.lower() == "content-type" for k in headers)
        return web.Response(status=status, text=body, headers=headers,
                            content_type=None if has_type else "text/plain")
    return web.json_response(body, status=status, headers=headers)


def _azure_401() -> _Reject:
    return _azure_error(
        401, "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key "
        "for an active subscription and use a correct regional API endpoint for your resource.",
    )


def _openai_wrong_key(key: str) -> _Reject:
    return _error(
        401,
        f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


def _azure_version_supported(version: str) -> bool:
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(-preview)?", version)
    return bool(match) and match[1] >= FIRST_AZURE_API_VERSION


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _data_item(picture: bytes, flavor: str) -> dict:
    item: dict[str, Any] = {"b64_json": _b64(picture)}
    if flavor == "azure":  # Azure's imageResult adds its filter verdicts (§6c)
        verdicts = {name: {"filtered": False, "severity": "safe"} for name in _FILTER_CATEGORIES}
        item["content_filter_results"] = verdicts
        item["prompt_filter_results"] = {
            **verdicts, "jailbreak": {"filtered": False, "detected": False},
            "profanity": {"filtered": False, "detected": False},
        }
    return item


async def _send_event(response: web.StreamResponse, event: str, data: dict) -> None:
    await response.write(f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode())


# ---------------------------------------------------------------------------------------------------------
# Helpers: reading bodies
# ---------------------------------------------------------------------------------------------------------

_NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have "
    "trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)


async def _read_body(request: web.Request, operation: str) -> _Body:
    """Parse (never validate) the body, so it can be recorded before faults and validation run."""
    if request.content_type == "multipart/form-data":
        if operation == "generations":  # generations are JSON only (§1)
            await request.read()
            return _Body("invalid", problem=_error(400, _NOT_JSON))
        return await _read_multipart(request)
    raw = await request.read()
    if operation == "edits" and request.content_type != "application/json":
        return _Body("invalid", problem=_error(
            400,
            f"Invalid Content-Type header ({request.content_type or 'none'}); image edits take multipart/form-data "
            "or application/json.",
        ))
    try:
        parsed = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        return _Body("invalid", problem=_error(400, _NOT_JSON))
    if not isinstance(parsed, dict):
        return _Body("invalid", problem=_error(400, _NOT_JSON))
    return _Body("json", json=parsed)


async def _read_multipart(request: web.Request) -> _Body:
    body = _Body("multipart")
    try:
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            data = bytes(await part.read(decode=True))
            if part.filename is None:
                body.fields.setdefault(part.name, []).append(data.decode(part.get_charset("utf-8"), "replace"))
            else:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                body.files.setdefault(part.name, []).append((part.filename, content_type, data))
                if part.name in ("image", "image[]"):
                    body.images.append(data)
                elif part.name == "mask":
                    body.masks.append(data)
    except (ValueError, AssertionError, LookupError) as exc:
        body.problem = _error(400, f"Could not parse the multipart/form-data body: {exc}")
    return body


def _model_hint(body: _Body, operation: str) -> str:
    """The model a fault message should name, before validation has run."""
    value: Any = None
    if body.json is not None:
        value = body.json.get("model")
    elif body.fields.get("model"):
        value = body.fields["model"][-1]
    if isinstance(value, str) and value:
        return value
    return "gpt-image-1" if operation == "generations" else "gpt-image-1.5"


# ---------------------------------------------------------------------------------------------------------
# Helpers: validation
# ---------------------------------------------------------------------------------------------------------


def _validate(body: _Body, *, flavor: str, operation: str, deployment_model: str | None) -> _Job:
    """Check every field the way the real API does, in its order: model, unknown fields, prompt, values,
    then combinations. Raises _Reject with OpenAI's error body."""
    multipart = body.kind == "multipart"
    if multipart:
        # The last value of a repeated text field wins.
        params: dict[str, Any] = {name: values[-1] for name, values in body.fields.items()}
        allowed = MULTIPART_EDIT_PARAMS
        for name in ("image", "image[]", "mask"):
            if name in params:
                raise _error(400, f"Invalid type for '{name.rstrip('[]')}': expected a file, but got a string "
                                  "instead.", param=name.rstrip("[]"), code="invalid_type")
        for name in body.files:
            if name not in ("image", "image[]", "mask"):
                raise _unknown(name)
    else:
        assert body.json is not None
        params = dict(body.json)
        allowed = GENERATION_PARAMS if operation == "generations" else JSON_EDIT_PARAMS

    # The model decides what else is allowed. Azure takes it from the deployment and tolerates (ignores)
    # a `model` field in the body (§6a).
    if deployment_model is not None:
        model = deployment_model
    else:
        model = params.get("model")
        if model is None:  # §0: generations default to dall-e-2, edits to gpt-image-1.5
            model = "dall-e-2" if operation == "generations" else "gpt-image-1.5"
        if not isinstance(model, str):
            raise _invalid_type("model", "a string", model)
    if model in RETIRED_MODELS:
        raise _error(404, f"The model `{model}` has been deprecated, learn more here: "
                          "https://platform.openai.com/docs/deprecations", code="model_not_found")
    if model not in GPT_IMAGE_MODELS:
        raise _error(404, f"The model `{model}` does not exist or you do not have access to it.",
                     code="model_not_found")

    for name in params:
        if name not in allowed:
            raise _unknown(name)

    get = params.get  # an explicit JSON null means "use the default": the schema's fields are nullable

    # prompt: required, 1..32000 characters (§1, §2b)
    if "prompt" not in params:
        raise _error(400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
    prompt = params["prompt"]
    if not isinstance(prompt, str):
        raise _invalid_type("prompt", "a string", prompt)
    if not prompt:
        raise _error(400, "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an "
                          "empty string instead.", param="prompt", code="empty_string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _error(400, f"Invalid 'prompt': string too long. Expected a string with maximum length "
                          f"{MAX_PROMPT_CHARS}, but got a string with length {len(prompt)} instead.",
                     param="prompt", code="string_above_max_length")

    def integer(name: str, low: int, high: int, default: int) -> int:
        value = get(name)
        if value is None:
            return default
        if multipart and isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]+\s*", value):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid_type(name, "an integer", value)
        if value < low:
            raise _error(400, f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but got "
                              f"{value} instead.", param=name, code="integer_below_min_value")
        if value > high:
            raise _error(400, f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but got "
                              f"{value} instead.", param=name, code="integer_above_max_value")
        return value

    def choice(name: str, allowed_values: Iterable[str], default: str | None) -> str | None:
        value = get(name)
        if value is None:
            return default
        if not isinstance(value, str):
            raise _invalid_type(name, "a string", value)
        if value not in allowed_values:
            raise _invalid_value(name, value, allowed_values)
        return value

    def boolean(name: str) -> bool:
        value = get(name)
        if value is None:
            return False
        if multipart and isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if not isinstance(value, bool):
            raise _invalid_type(name, "a boolean", value)
        return value

    n = integer("n", 1, 10, 1)
    quality = choice("quality", QUALITIES, "auto")
    formats = AZURE_OUTPUT_FORMATS if flavor == "azure" else OUTPUT_FORMATS
    output_format = choice("output_format", formats, "png")
    background = choice("background", BACKGROUNDS, "auto")
    choice("moderation", MODERATIONS, "auto")
    if get("user") is not None and not isinstance(get("user"), str):
        raise _invalid_type("user", "a string", get("user"))
    stream = boolean("stream")
    partial_images = integer("partial_images", 0, 3, 0)
    compression_given = get("output_compression") is not None
    output_compression = integer("output_compression", 0, 100, 100)
    input_fidelity = choice("input_fidelity", INPUT_FIDELITIES, None)

    size = get("size")
    if size is None:
        # The multipart schema says the default is 1024x1024, a DALL·E holdover; GPT image models size
        # themselves when no size is given, as the JSON edit schema and generations say ("auto").
        size = "auto"
    if not isinstance(size, str):
        raise _invalid_type("size", "a string", size)
    if size != "auto":
        if model in GPT_IMAGE_2_MODELS:
            dims = parse_size(size)
            if dims is None:
                raise _error(400, f"Invalid value: '{size}'. Sizes must be 'auto' or WIDTHxHEIGHT, such as "
                                  "'1536x864'.", param="size", code="invalid_value")
            problem = gpt_image_2_size_problem(*dims)
            if problem:
                raise _error(400, f"Invalid size '{size}': {problem}.", param="size", code="invalid_value")
        elif size not in STANDARD_SIZES:
            raise _invalid_value("size", size, (*STANDARD_SIZES, "auto"))

    # Combinations.
    if background == "transparent":
        if output_format == "jpeg":  # "With transparent the output format must be png or webp" (§1)
            raise _error(400, "Transparent backgrounds are only supported with the 'png' and 'webp' output "
                              "formats.", param="background", code="invalid_value")
        if model in GPT_IMAGE_2_MODELS:  # the GUIDE says gpt-image-2 has no transparent backgrounds (§8)
            raise _error(400, "Unsupported value: 'background' does not support 'transparent' with this model.",
                         param="background", code="unsupported_value")
    if compression_given and output_format == "png":  # only with jpeg or webp (§1)
        raise _error(400, "Unsupported parameter: 'output_compression' is only supported with the 'jpeg' and "
                          "'webp' output formats.", param="output_compression", code="unsupported_parameter")
    if input_fidelity is not None and model == "gpt-image-1-mini":  # unsupported for mini (§2a)
        raise _error(400, "Unsupported parameter: 'input_fidelity' is not supported with this model.",
                     param="input_fidelity", code="unsupported_parameter")
    # gpt-image-2 accepts input_fidelity but ignores it: its inputs are always high fidelity (§2a, §5d).

    assert quality is not None and output_format is not None and background is not None
    return _Job(
        flavor=flavor, operation=operation, model=model, prompt=prompt, n=n, size=size, quality=quality,
        background=background, output_format=output_format, output_compression=output_compression,
        stream=stream, partial_images=partial_images, input_fidelity=input_fidelity,
    )


def _unknown(name: str) -> _Reject:
    return _error(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


_DATA_URL_RE = re.compile(r"^data:([a-zA-Z0-9.+/-]*)((?:;[^,;]*)*?);base64,", re.IGNORECASE)


def _inspect_inputs(
    body: _Body, max_image_bytes: int, max_mask_bytes: int
) -> tuple[list[_InputImage], _InputImage | None]:
    """Decode and check the input images and mask (runs in a worker thread)."""
    if body.kind == "multipart":
        if not body.images:
            raise _error(400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
        sources = [(data, "image") for data in body.images]
        mask_source = (body.masks[0], "mask") if body.masks else None
    else:
        assert body.json is not None
        refs = body.json.get("images")
        if refs is None:
            raise _error(400, "Missing required parameter: 'images'.", param="images",
                         code="missing_required_parameter")
        if not isinstance(refs, list):
            raise _invalid_type("images", "an array", refs)
        if not refs:
            raise _error(400, "Invalid 'images': empty array. Expected an array with minimum length 1, but got an "
                              "empty array instead.", param="images", code="empty_array")
        sources = [(_image_ref(ref, f"images[{i}]"), f"images[{i}]") for i, ref in enumerate(refs)]
        mask_ref = body.json.get("mask")
        mask_source = (_image_ref(mask_ref, "mask"), "mask") if mask_ref is not None else None

    param = "image" if body.kind == "multipart" else "images"
    if len(sources) > MAX_INPUT_IMAGES:
        raise _error(400, f"Invalid '{param}': array too long. Expected an array with maximum length "
                          f"{MAX_INPUT_IMAGES}, but got an array with length {len(sources)} instead.",
                     param=param, code="array_above_max_length")
    images = []
    for number, (data, where) in enumerate(sources, start=1):
        info = _sniff(data)
        err_param = "image" if body.kind == "multipart" else where
        if info is None:
            raise _error(400, f"Invalid image file or mode for image {number}, please check your image file.",
                         param=err_param, code="invalid_image_file")
        if len(data) >= max_image_bytes:
            raise _error(400, f"Invalid image file for image {number}: images must be smaller than "
                              f"{_megabytes(max_image_bytes)}.",
                         param=err_param, code="image_too_large")
        images.append(info)

    mask = None
    if mask_source is not None:
        data, _ = mask_source
        mask = _sniff(data)
        # The mask must be a PNG with an alpha channel, < 4 MB, the first image's size (§2a).
        if mask is None or mask.format != "PNG" or not mask.has_alpha:
            raise _error(400, "Invalid mask image: the mask must be a PNG file with an alpha channel.",
                         param="mask", code="invalid_image_file")
        if len(data) >= max_mask_bytes:
            raise _error(400, f"Invalid mask image: the mask must be smaller than {_megabytes(max_mask_bytes)}.",
                         param="mask", code="image_too_large")
        first = images[0]
        if (mask.width, mask.height) != (first.width, first.height):
            raise _error(400, f"Invalid mask image: the mask ({mask.width}x{mask.height}) must have the same "
                              f"dimensions as the first image ({first.width}x{first.height}).",
                         param="mask", code="invalid_value")
    return images, mask


def _megabytes(limit: int) -> str:
    return f"{limit // _MB} MB" if limit % _MB == 0 else f"{limit:,} bytes"


def _image_ref(ref: Any, where: str) -> bytes:
    """Decode one ImageRefParam (exactly one of image_url / file_id, nothing else) (§2b)."""
    if not isinstance(ref, dict):
        raise _invalid_type(where, "an object", ref)
    for key in ref:
        if key not in ("image_url", "file_id"):
            raise _unknown(f"{where}.{key}")
    if ("image_url" in ref) == ("file_id" in ref):
        raise _error(400, f"Invalid '{where}': provide exactly one of 'image_url' or 'file_id'.", param=where,
                     code="invalid_value")
    if "file_id" in ref:  # Stand-in limit: there is no Files API here.
        raise _error(400, "The stand-in does not emulate the Files API; send the image as a base64 data URL.",
                     param=f"{where}.file_id", code="invalid_value")
    url = ref["image_url"]
    if not isinstance(url, str):
        raise _invalid_type(f"{where}.image_url", "a string", url)
    match = _DATA_URL_RE.match(url)
    if not match:  # Stand-in limit: remote URLs cannot be fetched on a loopback-only machine.
        raise _error(400, "The stand-in cannot fetch remote image URLs; send a base64 data URL "
                          "(data:image/png;base64,...).", param=f"{where}.image_url", code="invalid_value")
    try:
        return base64.b64decode(url[match.end():], validate=True)
    except (binascii.Error, ValueError):
        raise _error(400, f"Invalid '{where}.image_url': the data URL is not valid base64.",
                     param=f"{where}.image_url", code="invalid_value") from None


def _sniff(data: bytes) -> _InputImage | None:
    """Identify an image by its bytes (magic numbers; the declared type is ignored), then let Pillow
    confirm the header. None if it is not a readable PNG, JPEG or WEBP."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        expected = "PNG"
    elif data.startswith(b"\xff\xd8\xff"):
        expected = "JPEG"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        expected = "WEBP"
    else:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected:
                return None
            has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
            return _InputImage(data, expected, image.width, image.height, has_alpha)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None


def _resolve(job: _Job) -> None:
    """What 'auto' turns into. OpenAI: quality auto → medium; Azure's default quality is high, medium for
    gpt-image-1-mini (§6c); size auto → 1024x1024, or for edits the standard size nearest the first
    input's aspect ratio; background auto → opaque."""
    if job.quality != "auto":
        job.resolved_quality = job.quality
    elif job.flavor == "azure":
        job.resolved_quality = "medium" if job.model == "gpt-image-1-mini" else "high"
    else:
        job.resolved_quality = "medium"
    if job.size != "auto":
        job.resolved_size = job.size
    elif job.images:
        job.resolved_size = closest_standard_size(job.images[0].width, job.images[0].height)
    else:
        job.resolved_size = "1024x1024"
    job.resolved_background = "transparent" if job.background == "transparent" else "opaque"


def _usage(job: _Job) -> dict:
    """ImageGenUsage (§3a) from the token rules (§5): input text + input images (not the mask) + output
    images × n, + 100 output tokens per partial image when streaming (§3b)."""
    fidelity = job.input_fidelity or "low"
    text = input_text_tokens(job.prompt, len(job.images))
    image_in = sum(input_image_tokens(i.width, i.height, fidelity, job.model) for i in job.images)
    per_image = output_image_tokens(job.model, job.resolved_size, job.resolved_quality)
    partials = 100 * job.partial_images if job.stream else 0
    output = (per_image + partials) * job.n
    return {
        "input_tokens": text + image_in,
        "output_tokens": output,
        "total_tokens": text + image_in + output,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
    }


# ---------------------------------------------------------------------------------------------------------
# Helpers: pictures (run in worker threads)
# ---------------------------------------------------------------------------------------------------------


def _render_all(job: _Job, kind: str) -> list[bytes]:
    return [_render_one(job, index, kind, None) for index in range(job.n)]


def _render_one(job: _Job, index: int, kind: str, partial: int | None) -> bytes:
    """One encoded picture. `partial` k of P renders the final picture faded toward grey by (P-k)/(P+1)."""
    width, height = parse_size(job.resolved_size) or (1024, 1024)
    transparent = job.resolved_background == "transparent"
    seed = hashlib.sha256(f"{job.prompt}\x00{index}".encode()).digest()
    if job.operation == "edits":
        picture = _edit_picture(job, seed, (width, height), transparent)
    else:
        picture = _generation_picture(seed, (width, height), transparent)
    if kind == "photo":
        picture = _add_noise(picture, seed)
    if partial is not None:
        grey = Image.new(picture.mode, picture.size, (128, 128, 128, 255)[: len(picture.getbands())])
        picture = Image.blend(grey, picture, (partial + 1) / (job.partial_images + 1))
    return _encode(picture, job.output_format, job.output_compression, kind)


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def _generation_picture(seed: bytes, size: tuple[int, int], transparent: bool) -> Image.Image:
    """A horizontal gradient between two colours plus a few shapes, all seeded by the prompt. Rows are
    identical under the shapes, so PNG encoding is quick and small."""
    width, height = size
    rng = random.Random(seed)
    left, right = _colour(rng), _colour(rng)
    row = bytearray()
    for x in range(width):
        t = x / max(width - 1, 1)
        row += bytes(round(a + (b - a) * t) for a, b in zip(left, right, strict=True))
    picture = Image.frombytes("RGB", (width, 1), bytes(row)).resize((width, height), Image.Resampling.NEAREST)
    if transparent:
        picture = picture.convert("RGBA")
        picture.putalpha(0)  # the background is fully transparent; only the shapes are opaque
    draw = ImageDraw.Draw(picture)
    for _ in range(3 + rng.randrange(3)):
        x0, y0 = rng.randrange(width * 3 // 4), rng.randrange(height * 3 // 4)
        x1, y1 = x0 + width // 8 + rng.randrange(width // 4), y0 + height // 8 + rng.randrange(height // 4)
        fill = (*_colour(rng), 255) if transparent else _colour(rng)
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
    return picture


def _edit_picture(job: _Job, seed: bytes, size: tuple[int, int], transparent: bool) -> Image.Image:
    """The first input image, fitted to the output size, tinted 35% toward a prompt-seeded colour, with a
    band across its middle. With a mask, only the mask's fully transparent area is changed (§2a)."""
    rng = random.Random(seed)
    with Image.open(io.BytesIO(job.images[0].data)) as source:
        original = ImageOps.fit(source.convert("RGBA"), size, Image.Resampling.BILINEAR)
    tint = Image.new("RGBA", size, (*_colour(rng), 255))
    edited = Image.blend(original, tint, 0.35)
    edited.putalpha(original.getchannel("A"))
    width, height = size
    band = (0, height * 2 // 5, width, height // 2)
    ImageDraw.Draw(edited).rectangle(band, fill=(*_colour(rng), 0 if transparent else 255))
    if job.mask is not None:
        with Image.open(io.BytesIO(job.mask.data)) as mask_image:
            alpha = ImageOps.fit(mask_image.convert("RGBA"), size, Image.Resampling.NEAREST).getchannel("A")
        edit_area = alpha.point(lambda a: 255 if a == 0 else 0)
        edited = Image.composite(edited, original, edit_area)
    return edited if transparent else edited.convert("RGB")


def _add_noise(picture: Image.Image, seed: bytes) -> Image.Image:
    """Blend in 3% of seeded random noise: a 1536x1024 PNG then weighs ~2.6 MB, like a real photo."""
    noise = Image.frombytes("RGB", picture.size, random.Random(seed).randbytes(picture.width * picture.height * 3))
    rgb = Image.blend(picture.convert("RGB"), noise, 0.03)
    if picture.mode == "RGBA":
        rgb.putalpha(picture.getchannel("A"))
    return rgb


def _encode(picture: Image.Image, fmt: str, compression: int, kind: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        # Flat pictures compress best and fastest at the default level; noisy ones only get slower.
        picture.save(buffer, "PNG", compress_level=1 if kind == "photo" else 6)
    elif fmt == "jpeg":
        picture.convert("RGB").save(buffer, "JPEG", quality=max(1, min(compression, 95)))
    else:
        picture.save(buffer, "WEBP", quality=compression, method=0)
    return buffer.getvalue()
