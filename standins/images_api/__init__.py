"""A local stand-in for the OpenAI Images API and Azure OpenAI's image deployments, as they are in December 2026.

It plays the far side of the wire for imagebot's tests, benchmarks and sandbox: a real aiohttp server on 127.0.0.1
that answers the same routes, with the same auth, validation, bodies and headers as the real services, so the app's
image client can be tested over a real socket without a network or a bill.

Where its facts come from
    Requests: every request is validated against OpenAI's own OpenAPI description of the image endpoints, shipped in
    this package (``standins/schemas/openai-images-2026-12.openapi.json``; provenance in ``standins/schemas/README.md``:
    https://github.com/openai/openai-openapi at f85dbe2 with the request/response types of
    https://github.com/openai/openai-python 3.60.0 laid over it). What each model can do (sizes, qualities,
    formats, complexity, markup, GIF, SVG, limits) and what it is billed come from imagebot's model catalogue
    (``bot/money/catalogue.json`` via ``bot.money.catalogue`` and ``bot.money.tokens``).
    Which models the *provider* still serves is
    the stand-in's own world: by default the catalogue's status on that provider on ``today``, and tests can shut
    models down, move shutdown dates or add models at run time (see "The world" below).
    Shutdowns: https://platform.openai.com/docs/deprecations. Azure: https://learn.microsoft.com/azure/ai-foundry/openai/how-to/dall-e.

What it emulates
    OpenAI   POST /v1/images/generations (JSON) and POST /v1/images/edits (multipart/form-data with ``image`` /
             ``image[]``, ``mask`` and ``markup`` files and bracketed nested fields such as ``svg[model]``, or the
             JSON variant with ``images: [{image_url}]``), ``Authorization: Bearer <api_key>``.
             GET /v1/models (the list, with ``shutdown_date``) and GET /v1/models/{model}, after the same auth and
             queued faults (operation "models") as the image routes. Both are recorded in ``model_requests``; the
             retrieves also in ``requests``, the list not (the app reads it at start-up; tests count image calls).
    Azure    POST /openai/deployments/{deployment}/images/generations|edits?api-version=..., ``api-key:
             <azure_api_key>``; the model is the deployment's. The 2025-04-01-preview API knows ``user`` but not
             ``safety_identifier`` (400 unknown_parameter), and answers PNG or JPEG only.
    Both     OpenAI-style 400s with ``param`` and ``code`` for anything the schema or the model refuses; 404
             model_not_found for shut-down models and 400 invalid_value for IDs nobody serves; real, decodable
             images of the requested format and resolved size (transparent backgrounds carry alpha; ``gif`` is an
             animated GIF of ``frame_count`` frames; ``svg`` is an SVG document, with ``svg_usage``); ``usage`` from
             the catalogue's token figures; SSE streaming with partial images; ``x-request-id`` /
             ``openai-processing-ms`` (and Azure's ``apim-request-id``) headers; and queued faults (429 with
             Retry-After, quota, 5xx, moderation blocks, Azure content filters, 401, 403, garbage bodies, hangs,
             a 200 whose body breaks off or stalls, and a 200 with a body of any size streamed from a generator).
             Faults answer in OpenAI's body shape on both flavours, except rate_limit() and auth_error(), which use
             Azure's own {"error": {"code", "message"}} shape on Azure routes.

The world
    ``today``            the day the stand-in lives on (constructor ``today=``; default: the real UTC date, read per
                         request). Statuses, shutdown dates and release dates apply from their day.
    ``shut_down``        a set of model IDs the provider has shut down whatever the catalogue says (both flavours).
    ``shutdown_dates``   model ID -> date (or "YYYY-MM-DD", or None): replaces the catalogue's shutdown date; the
                         model is shut down from that day on and /v1/models lists the date.
    ``add_model(id, like=...)``  serve a model the catalogue does not know, with another model's capabilities.
    ``other_models``     non-image models /v1/models also lists (clients must filter): gpt-5.2, text-embedding-3-small.
    ``model_list_status`` / ``model_list_empty``  make GET /v1/models fail with that status, or list nothing.
    ``svg_model_required``  a missing ``svg.model`` is a 400, as when a project has SVG model selection enabled.

What it does not emulate
    The pictures are deterministic drawings (generations: a gradient plus shapes seeded by the prompt; edits: the
    first input image, tinted and banded, only inside the mask's transparent area), not model output, and they carry
    no C2PA provenance. Remote ``image_url``s and ``file_id``s (the Files API) are refused with a 400 because only
    loopback exists here. Access gating (GIF preview, SVG access, organisation verification) is not enforced unless a
    fault is queued; nor is rate limiting or quota. Microsoft Entra ID tokens, Azure's v1 API (/openai/v1/...) and
    /images/variations (which no longer accepts requests) are not emulated. ``latency`` delays successful answers
    only (errors are fast, like the real thing). Token counts for xhigh, max and GIF are the catalogue's stated
    upper bounds, because OpenAI publishes none.

The pause gate
    ``pause()`` holds every following request that would be answered successfully (after auth, faults and
    validation, before ``latency`` and the picture) until ``resume()`` or ``stop()``; errors still answer at once.
    ``waiting`` counts the requests held now and ``held`` lists them (recorded, status 0); ``wait_for_waiting(n)``
    waits until n are held. ``resume()`` releases exactly the requests held at that moment, so ``resume(); pause()``
    lets one batch through and holds the next. It is how a test freezes a job "at the image API" to look at the app
    while the call is in flight.

Typical use::

    async with ImageAPIStandIn(today=date(2026, 12, 8)) as api:
        client = httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": "Bearer sk-standin"})
        api.rate_limit(retry_after=2)            # the next request gets a 429
        api.shut_down.add("gpt-image-2")         # the API says it is gone, whatever the catalogue says
        ...
        assert api.requests[-1].params()["model"] == "gpt-image-2.6-sunburst"
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import io
import json
import math
import random
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape

import jsonschema
import referencing
import referencing.jsonschema
from aiohttp import BodyPartReader, web
from PIL import Image, ImageDraw, ImageOps

from bot.money import tokens
from bot.money.catalogue import Catalogue
from bot.money.catalogue_records import Capabilities
from bot.providers.offline import xml_text

__all__ = [
    "DALLE_ONLY_PARAMS",
    "FILE_FIELDS",
    "SCHEMA_FILE",
    "ImageAPIStandIn",
    "RecordedRequest",
    "closest_standard_size",
    "form_object",
    "openapi_document",
    "request_schema",
    "schema_validator",
]

# ---------------------------------------------------------------------------------------------------------
# The schema: OpenAI's OpenAPI description of the image endpoints, shipped in standins/schemas/
# ---------------------------------------------------------------------------------------------------------

SCHEMA_FILE = "openai-images-2026-12.openapi.json"
_SCHEMA_URI = "urn:standins:openai-images-2026-12"
_REF_PREFIX = "#/components/schemas/"


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The parsed OpenAPI document (read once from the package data)."""
    text = resources.files("standins").joinpath("schemas").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@functools.cache
def schema_validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """A validator for components.schemas[schema_name] (the stand-in's checks and the tests' use this one)."""
    resource = referencing.Resource.from_contents(openapi_document(),
                                                  default_specification=referencing.jsonschema.DRAFT202012)
    registry: referencing.Registry = referencing.Registry().with_resource(_SCHEMA_URI, resource)
    return jsonschema.Draft202012Validator({"$ref": f"{_SCHEMA_URI}{_REF_PREFIX}{schema_name}"}, registry=registry)


def request_schema(operation: str, content: str) -> str:
    """The components.schemas name a request body is validated against."""
    if operation == "generations":
        return "CreateImageRequest"
    return "CreateImageEditRequest" if content == "multipart" else "EditImageBodyJsonParam"


def _deref(node: Any) -> dict[str, Any]:
    """Follow internal $refs ("#/components/schemas/X") to the schema they name."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 16:
        ref = node["$ref"]
        if not ref.startswith(_REF_PREFIX):
            break
        node = openapi_document()["components"]["schemas"][ref[len(_REF_PREFIX):]]
        seen += 1
    return node if isinstance(node, dict) else {}


def _branches(node: Any) -> list[dict[str, Any]]:
    """The node and, through anyOf/oneOf, every alternative it allows (each dereferenced)."""
    node = _deref(node)
    found = [node]
    for key in ("anyOf", "oneOf"):
        for branch in node.get(key, ()):
            found.extend(_branches(branch))
    return found


def _properties(node: Any) -> dict[str, Any] | None:
    """The properties an object schema describes (merged over its alternatives), or None if it describes none."""
    merged: dict[str, Any] = {}
    described = False
    for branch in _branches(node):
        if "properties" in branch:
            described = True
            merged.update(branch["properties"])
    return merged if described else None


def _items(node: Any) -> Any | None:
    for branch in _branches(node):
        if "items" in branch:
            return branch["items"]
    return None


def _types(node: Any) -> set[str]:
    kinds: set[str] = set()
    for branch in _branches(node):
        kind = branch.get("type")
        if isinstance(kind, str):
            kinds.add(kind)
        elif isinstance(kind, list):
            kinds.update(kind)
    return kinds


def _schema_properties(schema_name: str) -> dict[str, Any]:
    return _properties({"$ref": f"{_REF_PREFIX}{schema_name}"}) or {}


# GPT image models answer the DALL·E-only fields with 400 unknown_parameter (vercel/ai#6102), although the schema
# still lists them (deprecated).
DALLE_ONLY_PARAMS = frozenset({"response_format", "style"})
# The schema's binary fields of a multipart edit, as the SDK names the parts: one image as `image`, several as
# `image[]` (openai-python resources/images.py).
FILE_FIELDS = ("image", "image[]", "mask", "markup")
# Azure's 2025-04-01-preview images API predates these fields (imagebot's catalogue: providers.azure).
AZURE_UNKNOWN_PARAMS = frozenset({"safety_identifier"})
# The Responses API caps safety_identifier at 64 characters (openai-openapi f85dbe2, ModelResponseProperties); the
# image docs' figure is cut off in the copies found, so the stand-in keeps to 64.
MAX_SAFETY_IDENTIFIER = 64
# What a request that names no model gets. Generations: the spec's default, dall-e-2, shut down on 2026-05-12, so a
# request without `model` is a 404 as on the real API (always send `model`). Edits: the spec's old default.
DEFAULT_GENERATION_MODEL = "dall-e-2"
DEFAULT_EDIT_MODEL = "gpt-image-1.5"
# The model that writes an SVG when the request names none. The real API requires svg.model when SVG model
# selection is enabled for the project (openai-python image_generate_params.Svg); set `svg_model_required` to
# answer that way. "gpt-5.2" is the stand-in's own choice of default, not a documented one.
DEFAULT_SVG_MODEL = "gpt-5.2"
# Non-image models GET /v1/models lists besides the image models, so clients must filter by ID.
OTHER_MODELS = ("gpt-5.2", "text-embedding-3-small")

STANDARD_SIZES = ("1024x1024", "1536x1024", "1024x1536")
DEFAULT_AZURE_DEPLOYMENTS = {"gpt-image-2": "gpt-image-2", "gpt-image-1": "gpt-image-1",
                             "gpt-image-1-mini": "gpt-image-1-mini"}
FIRST_AZURE_API_VERSION = "2025-04-01"  # 2025-04-01-preview added the GPT image models
_MODELS_CREATED = 1745366400  # `created` for models with no release date in the catalogue (2025-04-23)

_MB = 1024 * 1024
_SIZE_RE = re.compile(r"^([1-9][0-9]{0,5})x([1-9][0-9]{0,5})$")
_INT_RE = re.compile(r"\s*-?[0-9]+\s*")
_FIELD_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def parse_size(size: str) -> tuple[int, int] | None:
    """'1536x1024' → (1536, 1024); None for anything else (including 'auto')."""
    match = _SIZE_RE.match(size)
    return (int(match[1]), int(match[2])) if match else None


def closest_standard_size(width: int, height: int) -> str:
    """The standard size (1024x1024, 1536x1024, 1024x1536) nearest in aspect ratio to width×height."""
    ratio = math.log(width / height)
    return min(STANDARD_SIZES, key=lambda s: abs(ratio - math.log(_ASPECTS[s])))


_ASPECTS = {"1024x1024": 1.0, "1536x1024": 1.5, "1024x1536": 1024 / 1536}


# ---------------------------------------------------------------------------------------------------------
# Multipart forms as the objects the schema describes
# ---------------------------------------------------------------------------------------------------------


def _field_path(name: str) -> tuple[str, list[str]] | None:
    """'svg[reasoning][effort]' → ('svg', ['reasoning', 'effort']); 'image[]' → ('image', ['']); None if malformed."""
    match = _FIELD_RE.match(name)
    if not match:
        return None
    return match[1], re.findall(r"\[([^\[\]]*)\]", match[2])


def _coerce(value: Any, node: Any) -> Any:
    """Multipart text as the API reads it: integers and booleans for the schema's integer and boolean fields."""
    if isinstance(value, dict):
        props = _properties(node) or {}
        return {k: _coerce(v, props.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        items = _items(node) or {}
        return [_coerce(v, items) for v in value]
    if not isinstance(value, str):
        return value
    kinds = _types(node)
    if "integer" in kinds and _INT_RE.fullmatch(value):
        return int(value)
    if "boolean" in kinds and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def form_object(fields: Mapping[str, list[str]], files: Mapping[str, list[Any]], *,
                schema_name: str = "CreateImageEditRequest", repeated: str = "last") -> dict[str, Any]:
    """A multipart form as the equivalent object of `schema_name`: bracketed names nested (``svg[model]`` →
    ``{"svg": {"model": ...}}``, ``x[]`` → a list), text coerced to the schema's integers and booleans, and files as
    ``"<binary>"`` placeholders (one ``image`` a string, ``image[]`` or several an array). A repeated text field keeps
    its `repeated` = "last" value (what the API reads) or "all" of them as a list."""
    result: dict[str, Any] = {}
    for name, values in fields.items():
        parsed = _field_path(name)
        if parsed is None:
            result[name] = values[-1]
            continue
        top, keys = parsed
        if keys and keys[-1] == "":
            value: Any = list(values)
            keys = keys[:-1]
        else:
            value = values[-1] if repeated == "last" or len(values) == 1 else list(values)
        target = result
        for key in [top, *keys][:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        target[[top, *keys][-1]] = value
    images = len(files.get("image", ())) + len(files.get("image[]", ()))
    if images:
        result["image"] = "<binary>" if images == 1 and "image" in files else ["<binary>"] * images
    for name in ("mask", "markup"):
        if name in files:
            result[name] = "<binary>"
    return _coerce(result, {"$ref": f"{_REF_PREFIX}{schema_name}"})


# ---------------------------------------------------------------------------------------------------------
# Recorded requests
# ---------------------------------------------------------------------------------------------------------

# The integer fields of the multipart schema: params() parses them, as the API does.
INTEGER_PARAMS = frozenset(name for name, node in _schema_properties("CreateImageEditRequest").items()
                           if "integer" in _types(node))


def _sent_field(name: str) -> Any:
    """A read-only RecordedRequest attribute: the request's field `name` as sent, or None."""
    return property(lambda self: self._sent(name), doc=f"The ``{name}`` field as sent, or None.")


@dataclass
class RecordedRequest:
    """One request the stand-in received, as it arrived, and the status it was answered with.

    `headers` keys are lower-cased. `status` is 0 while the request is still being answered (a hang).
    """

    flavor: str  # "openai" | "azure"
    operation: str  # "generations" | "edits" | "models" (GET /v1/models and /v1/models/{model})
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""  # "application/json" or "multipart/form-data" (no parameters)
    json: dict | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)
    status: int = 0
    #: Body bytes the stand-in managed to write for a break_off() or huge_answer() fault (a client that stops
    #: reading early leaves this below the body's size).
    answer_bytes: int = 0

    def params(self) -> dict:
        """The JSON body, or the multipart text fields flattened as sent: single values unwrapped, repeated
        fields as lists, and the schema's integer fields (n, output_compression, partial_images, frame_count,
        frame_duration_ms) parsed. Bracketed names stay as sent (``svg[model]``); `body()` nests them."""
        if self.json is not None:
            return dict(self.json)
        flat: dict[str, Any] = {}
        for name, values in self.fields.items():
            parsed = [_maybe_int(v) if name in INTEGER_PARAMS else v for v in values]
            flat[name] = parsed[0] if len(parsed) == 1 else parsed
        return flat

    def body(self) -> dict:
        """The request as the schema sees it: the JSON body, or the multipart form as its equivalent object (nested
        ``svg``, booleans and integers coerced, files as ``"<binary>"``). Validate it against `request_schema`."""
        if self.json is not None:
            return dict(self.json)
        return form_object(self.fields, self.files)

    def _sent(self, name: str) -> Any:
        return self.body().get(name)

    @property
    def svg(self) -> dict | None:
        """The ``svg`` options sent (``{"model": ..., "reasoning": {"effort": ...}}``), multipart brackets nested."""
        value = self._sent("svg")
        return value if isinstance(value, dict) else None

    @property
    def markup(self) -> bytes | None:
        """The bytes of the ``markup`` file of a multipart edit, or None."""
        parts = self.files.get("markup")
        return parts[-1][2] if parts else None

    # The fields tests most often look at, as sent (None when absent).
    safety_identifier = _sent_field("safety_identifier")
    user = _sent_field("user")
    complexity = _sent_field("complexity")
    moderation = _sent_field("moderation")
    frame_count = _sent_field("frame_count")


def _maybe_int(value: str) -> int | str:
    return int(value) if _INT_RE.fullmatch(value) else value


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
    """OpenAI's ErrorResponse: {"error": {message, type, param, code}}."""
    return _Reject(status, {"error": {"message": message, "type": type, "param": param, "code": code, **extra}})


def _azure_error(status: int, code: str, message: str) -> _Reject:
    """Azure's own front-door errors (auth, routing, throttling) carry only code and message."""
    return _Reject(status, {"error": {"code": code, "message": message}})


def _invalid_value(param: str, value: Any, allowed: Iterable[str]) -> _Reject:
    return _error(400, f"Invalid value: {_quote(value)}. Supported values are: {_english(allowed)}.",
                  param=param, code="invalid_value")


def _invalid_type(param: str, expected: str, value: Any) -> _Reject:
    return _error(400, f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
                  param=param, code="invalid_type")


def _unknown(name: str) -> _Reject:
    return _error(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def _unsupported(param: str, message: str) -> _Reject:
    return _error(400, message, param=param, code="unsupported_parameter")


def _model_shut_down(model: str) -> _Reject:
    """What OpenAI has answered for every model it shut down so far (e.g. text-davinci-003 in 2024)."""
    return _error(404, f"The model `{model}` has been deprecated, learn more here: "
                       "https://platform.openai.com/docs/deprecations", param="model", code="model_not_found")


def _model_unknown(model: str) -> _Reject:
    """What the image endpoints answer for an ID nobody serves (seen for image models in June 2026, openai/codex)."""
    return _error(400, f"The model '{model}' does not exist.", param="model", code="invalid_value")


def _quote(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else json.dumps(value)


def _english(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


_TYPE_WORDS = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
               "object": "an object", "array": "an array", "null": "null"}


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


def _param(path: Iterable[Any]) -> str:
    """['images', 0, 'image_url'] → 'images[0].image_url'."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _same_instance_type_error(error: jsonschema.ValidationError) -> bool:
    return error.validator == "type" and not error.relative_path


def _schema_reject(error: jsonschema.ValidationError) -> _Reject:
    """One schema violation as the API words it: the offending param and OpenAI's error codes."""
    while error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        fitting = [errs for errs in branches.values() if not any(_same_instance_type_error(e) for e in errs)]
        if not fitting:  # the value is of no type any alternative takes
            kinds: list[str] = []
            for errs in branches.values():
                for sub in errs:
                    if _same_instance_type_error(sub):
                        wanted = sub.validator_value if isinstance(sub.validator_value, list) else [sub.validator_value]
                        kinds.extend(k for k in wanted if k != "null" and _TYPE_WORDS.get(k) not in kinds)
            words = list(dict.fromkeys(_TYPE_WORDS.get(k, k) for k in kinds)) or ["another type"]
            return _invalid_type(_param(error.absolute_path), " or ".join(words), error.instance)
        error = fitting[0][0]
    path = list(error.absolute_path)
    param, value, rule = _param(path), error.instance, error.validator_value
    match error.validator:
        case "required":
            missing = next((k for k in rule if isinstance(value, dict) and k not in value), str(rule))
            name = _param([*path, missing])
            return _error(400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")
        case "type":
            wanted = rule if isinstance(rule, list) else [rule]
            return _invalid_type(param, " or ".join(_TYPE_WORDS.get(k, k) for k in wanted), value)
        case "enum":
            return _invalid_value(param, value, [str(v) for v in rule if v is not None])
        case "const":
            return _invalid_value(param, value, [str(rule)])
        case "pattern" if path and path[-1] == "size":
            return _error(400, f"Invalid value: {_quote(value)}. Sizes must be 'auto' or WIDTHxHEIGHT, such as "
                               "'1536x864'.", param=param, code="invalid_value")
        case "maximum":
            return _error(400, f"Invalid '{param}': integer above maximum value. Expected a value <= {rule}, but got "
                               f"{value} instead.", param=param, code="integer_above_max_value")
        case "minimum":
            return _error(400, f"Invalid '{param}': integer below minimum value. Expected a value >= {rule}, but got "
                               f"{value} instead.", param=param, code="integer_below_min_value")
        case "maxLength":
            return _error(400, f"Invalid '{param}': string too long. Expected a string with maximum length {rule}, "
                               f"but got a string with length {len(value)} instead.", param=param,
                          code="string_above_max_length")
        case "minLength":
            if value == "":
                return _error(400, f"Invalid '{param}': empty string. Expected a string with minimum length {rule}, "
                                   "but got an empty string instead.", param=param, code="empty_string")
            return _error(400, f"Invalid '{param}': string too short. Expected a string with minimum length {rule}, "
                               f"but got a string with length {len(value)} instead.", param=param,
                          code="string_below_min_length")
        case "maxItems":
            return _error(400, f"Invalid '{param}': array too long. Expected an array with maximum length {rule}, "
                               f"but got an array with length {len(value)} instead.", param=param,
                          code="array_above_max_length")
        case "minItems":
            if not value:
                return _error(400, f"Invalid '{param}': empty array. Expected an array with minimum length {rule}, "
                                   "but got an empty array instead.", param=param, code="empty_array")
            return _error(400, f"Invalid '{param}': array too short. Expected an array with minimum length {rule}, "
                               f"but got an array with length {len(value)} instead.", param=param,
                          code="array_below_min_length")
        case "additionalProperties":
            extra = next((k for k in value if k not in error.schema.get("properties", {})), "")
            return _unknown(_param([*path, extra]))
        case "not" if isinstance(value, dict) and {"image_url", "file_id"} <= set(value):
            return _error(400, f"Invalid '{param}': provide exactly one of 'image_url' or 'file_id'.", param=param,
                          code="invalid_value")
    return _error(400, f"Invalid '{param or 'body'}': {error.message}.", param=param or None, code="invalid_value")


def _first_unknown(value: Any, node: Any, path: list[Any]) -> str | None:
    """The first field of `value` the schema `node` does not describe, as a param path (e.g. 'images[0].detail')."""
    if isinstance(value, dict):
        props = _properties(node)
        if props is None:
            return None
        for key, sub in value.items():
            if key not in props:
                return _param([*path, key])
            found = _first_unknown(sub, props[key], [*path, key])
            if found:
                return found
    elif isinstance(value, list):
        items = _items(node)
        if items is not None:
            for index, sub in enumerate(value):
                found = _first_unknown(sub, items, [*path, index])
                if found:
                    return found
    return None


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


# A fault that writes its own 200 answer (a body that breaks off, a huge body) instead of raising a _Reject.
_Answer = Callable[[web.Request, RecordedRequest, dict[str, str]], Awaitable[web.StreamResponse]]


@dataclass
class _Fault:
    operation: str
    times: int
    build: Callable[[_FaultContext], _Reject] | None  # None = hang until stop() (unless `answer`)
    answer: _Answer | None = None


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
    markups: list[bytes] = field(default_factory=list)
    problem: _Reject | None = None


@dataclass
class _InputImage:
    data: bytes
    format: str  # "PNG" | "JPEG" | "WEBP"
    width: int
    height: int
    has_alpha: bool
    oriented: tuple[int, int] = (0, 0)  # (width, height) after the EXIF orientation


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
    markup: _InputImage | None = None
    resolved_size: str = ""
    resolved_quality: str = ""
    resolved_background: str = ""
    caps: Capabilities | None = None
    complexity: str | None = None
    moderation: str | None = None
    frame_count: int = 9
    frame_duration_ms: int = 200
    svg_model: str | None = None
    svg_effort: str | None = None
    safety_identifier: str | None = None  # the one in effect: safety_identifier, else the deprecated user

    @property
    def event_prefix(self) -> str:
        return "image_generation" if self.operation == "generations" else "image_edit"



# ---------------------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------------------


class ImageAPIStandIn:
    """A local OpenAI Images API + Azure OpenAI image deployments. See the module docstring."""

    #: Input file limits (openai-python image_edit_params: images < 50 MB, mask < 4 MB). Instance attributes may be
    #: lowered in tests to exercise the checks cheaply.
    max_image_bytes = 50 * _MB
    max_mask_bytes = 4 * _MB

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
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._stopped = asyncio.Event()
        self._arrived = asyncio.Event()
        self._gate: _Gate | None = None  # set while paused
        self._held_changed = asyncio.Event()

    # -- the world -------------------------------------------------------------------------------------------

    @property
    def today(self) -> date:
        """The day statuses apply on: the constructor's `today`, or the real UTC date when none was given."""
        return self._today if self._today is not None else datetime.now(UTC).date()

    @today.setter
    def today(self, value: date | None) -> None:
        self._today = value

    def add_model(self, model: str, *, like: str, shutdown_date: date | str | None = None) -> None:
        """Serve `model` (unknown to the catalogue) with the capabilities of catalogue model `like`."""
        if self.catalogue.get(like) is None:
            raise ValueError(f"{like!r} is not a model in the catalogue")
        self.added_models[model] = like
        if shutdown_date is not None:
            self.shutdown_dates[model] = shutdown_date

    def shutdown_date(self, model: str, flavor: str = "openai") -> date | None:
        """The day `model` is (or was) shut down on `flavor`, as this world has it; None when none is announced."""
        if model in self.shutdown_dates:
            return _day(self.shutdown_dates[model])
        if model in self.added_models:
            return None
        entry = self.catalogue.get(model)
        if entry is not None:
            return entry.status(flavor).shutdown
        gone = self.catalogue.gone(model)
        return gone.shutdown if gone is not None else None

    def is_shut_down(self, model: str, flavor: str = "openai") -> bool:
        """Whether the provider refuses `model` as shut down today (404 model_not_found)."""
        if model in self.shut_down:
            return True
        today = self.today
        if model in self.shutdown_dates:
            when = _day(self.shutdown_dates[model])
            return when is not None and today >= when
        if model in self.added_models:
            return False
        entry = self.catalogue.get(model)
        if entry is not None:
            return entry.status(flavor).on(today) == "shut_down"
        gone = self.catalogue.gone(model)
        return gone is not None and today >= gone.shutdown

    def capabilities(self, model: str, flavor: str = "openai") -> Capabilities | None:
        """What `model` can do on `flavor` (the catalogue's, narrowed by the provider); None when the provider
        does not offer it at all (unknown to the catalogue, not offered there, or not released yet on `today`)."""
        if model in self.added_models:
            return self.catalogue.capabilities(self.added_models[model], flavor)
        entry = self.catalogue.get(model)
        if entry is None:
            return None
        status = entry.status(flavor)
        if status.state == "unknown" or (status.since is not None and self.today < status.since):
            return None
        return self.catalogue.capabilities(model, flavor)

    def _served(self, model: str, flavor: str) -> Capabilities:
        """The capabilities of a model the provider serves today, or the API's refusal."""
        if self.is_shut_down(model, flavor):
            raise _model_shut_down(model)
        caps = self.capabilities(model, flavor)
        if caps is None:
            raise _model_unknown(model)
        return caps

    def listed_models(self) -> list[dict[str, Any]]:
        """What GET /v1/models lists: every image model served today (the deprecated ones with their shutdown
        date), then the non-image models."""
        listed = []
        for model in (*self.catalogue.ids, *self.added_models):
            if self.capabilities(model) is not None and not self.is_shut_down(model):
                listed.append(self._model_object(model))
        listed.extend(self._model_object(model) for model in self.other_models if not self.is_shut_down(model))
        return listed

    def _model_object(self, model: str) -> dict[str, Any]:
        entry = self.catalogue.get(model)
        since = entry.status("openai").since if entry is not None else None
        created = int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp()) if since else \
            _MODELS_CREATED
        shutdown = self.shutdown_date(model)
        return {"id": model, "object": "model", "created": created, "owned_by": "system",
                "shutdown_date": shutdown.isoformat() if shutdown else None}

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if self._runner is not None:
            raise RuntimeError("the stand-in is already running")
        self._stopped = asyncio.Event()
        # Edits carry up to 16 images of < 50 MB each, a mask and markup; aiohttp's default body limit is 1 MB.
        most_inputs = max((self.catalogue.capabilities(m, "openai").max_inputs  # type: ignore[union-attr]
                           for m in self.catalogue.ids), default=16)
        app = web.Application(client_max_size=(most_inputs + 2) * 50 * _MB)
        app.router.add_post("/v1/images/generations", self._openai_generations)
        app.router.add_post("/v1/images/edits", self._openai_edits)
        app.router.add_get("/v1/models", self._openai_models)
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
        """429 rate_limit_exceeded, with Retry-After (integer seconds) unless `retry_after` is None.

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
        """429 insufficient_quota: needs user action, so no Retry-After."""
        self._queue(operation, times, lambda ctx: _error(
            429,
            "You exceeded your current quota, please check your plan and billing details. For more information "
            "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
            type="insufficient_quota", code="insufficient_quota",
        ))

    def server_error(self, status: int = 500, *, operation: str = "*", times: int = 1) -> None:
        """5xx with OpenAI's server_error body."""
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
        """400 image_generation_user_error / moderation_blocked with moderation_details."""
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
        """Azure's 400 content-filter rejection, in one of its two observed shapes:

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
        """403: the organisation must be verified to use this model."""
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

    def break_off(self, after_bytes: int = 4096, *, operation: str = "*", times: int = 1) -> None:
        """200 with the headers of a JSON image answer (its Content-Length included), then `after_bytes` of the
        body and the connection closed: an answer dropped mid-body, which the provider may well have billed."""
        if after_bytes < 0:
            raise ValueError("after_bytes must be 0 or more")

        async def answer(request: web.Request, record: RecordedRequest, headers: dict[str, str]) -> web.StreamResponse:
            body = _b64_answer_head() + b"A" * (after_bytes + 4096) + _B64_ANSWER_TAIL  # longer than what is sent
            return await _write_answer(request, record, headers, _chunks(body[:after_bytes]),
                                       length=len(body), close=True)

        self._queue(operation, times, None, answer)

    def stall(self, after_bytes: int = 1000, *, operation: str = "*", times: int = 1) -> None:
        """200 with the headers of a JSON image answer, `after_bytes` of its body, then nothing until stop(): an
        answer that began (and may be billed) and never finished."""

        async def answer(request: web.Request, record: RecordedRequest, headers: dict[str, str]) -> web.StreamResponse:
            body = _b64_answer_head() + b"A" * (after_bytes + 4096) + _B64_ANSWER_TAIL

            async def then_nothing() -> AsyncIterator[bytes]:
                async for piece in _chunks(body[:after_bytes]):
                    yield piece
                await self._stopped.wait()

            return await _write_answer(request, record, headers, then_nothing(), length=len(body), close=True)

        self._queue(operation, times, None, answer)

    def huge_answer(self, megabytes: float, *, content_length: bool = False, operation: str = "*",
                    times: int = 1, status: int = 200) -> None:
        """200 (or `status`: an error answer as endless) with a JSON image answer whose base64 is `megabytes` MB
        of "A"s, generated as it is sent (the stand-in never holds it): chunked, or with its Content-Length
        declared when `content_length`. A client that stops reading early shows in the request's `answer_bytes`."""
        size = int(megabytes * 1024 * 1024)

        async def answer(request: web.Request, record: RecordedRequest, headers: dict[str, str]) -> web.StreamResponse:
            head, tail = _b64_answer_head(), _B64_ANSWER_TAIL
            return await _write_answer(request, record, headers, _filler(head, size, tail),
                                       length=len(head) + size + len(tail) if content_length else None,
                                       status=status)

        self._queue(operation, times, None, answer)

    def _queue(self, operation: str, times: int, build: Callable[[_FaultContext], _Reject] | None,
               answer: _Answer | None = None) -> None:
        if operation not in ("generations", "edits", "models", "*"):
            raise ValueError("operation must be 'generations', 'edits', 'models' or '*'")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._faults.append(_Fault(operation, times, build, answer))

    def _take_fault(self, operation: str) -> _Fault | None:
        for fault in self._faults:
            # A fault queued for any operation is for the image calls: the app's own look at GET /v1/models (at
            # start-up, in the background) must not take it. Model-list faults are queued for "models" by name.
            if fault.operation == operation or (fault.operation == "*" and operation != "models"):
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

    async def _openai_models(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/models: the models this world serves, each with `shutdown_date` (YYYY-MM-DD or null)."""
        return await self._models_route(request, None)

    async def _openai_model(self, request: web.Request) -> web.StreamResponse:
        """GET /v1/models/{model} (retrieve a model): free, so it is how a client proves a key works."""
        return await self._models_route(request, request.match_info["model"])

    async def _models_route(self, request: web.Request, model: str | None) -> web.StreamResponse:
        request_id = _request_id()
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
                    raise _error(503, "The stand-in was stopped while this request was hanging.", type="server_error")
                raise fault.build(_FaultContext("openai", "models", model or "", request_id, None, presented_key))
            if model is None:
                if self.model_list_status is not None:
                    raise _status_error(self.model_list_status, request_id)
                body: dict[str, Any] = {"object": "list",
                                        "data": [] if self.model_list_empty else self.listed_models()}
            elif model in self.other_models and not self.is_shut_down(model):
                body = self._model_object(model)
            elif self.is_shut_down(model):
                raise _model_shut_down(model)
            elif self.capabilities(model) is not None:
                body = self._model_object(model)
            else:
                raise _error(404, f"The model `{model}` does not exist or you do not have access to it.",
                             param="model", code="model_not_found")
        except _Reject as reject:
            record.status = reject.status
            return _respond(reject.status, reject.body, {**headers, **reject.headers})
        record.status = 200
        return _respond(200, body, headers)

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
            if fault.answer is not None:
                return await fault.answer(request, record, headers)
            if fault.build is None:
                await self._stopped.wait()
                raise _error(503, "The stand-in was stopped while this request was hanging.", type="server_error")
            raise fault.build(_FaultContext(flavor, operation, model, request_id, api_version, presented_key))

        if body.problem is not None:
            raise body.problem
        job = self._validate(body, flavor=flavor, operation=operation, deployment_model=deployment_model)
        if operation == "edits":
            assert job.caps is not None
            job.images, job.mask, job.markup = await asyncio.to_thread(
                _inspect_inputs, body, job.caps.max_inputs, self.max_image_bytes, self.max_mask_bytes
            )
        _resolve(job)
        usage = _usage(job, self.catalogue)

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
        if job.safety_identifier:
            result["safety_identifier"] = job.safety_identifier
        if job.output_format == "svg":
            result["svg_usage"] = _svg_usage(job, pictures[0], self.catalogue)
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
                picture = await asyncio.to_thread(_render_one, job, index, self.image_kind, partial)
                await _send_event(response, f"{job.event_prefix}.partial_image", {
                    "type": f"{job.event_prefix}.partial_image", "b64_json": _b64(picture),
                    "created_at": int(time.time()), **echo, "partial_image_index": partial,
                })
            await self._pause(step)
            picture = await asyncio.to_thread(_render_one, job, index, self.image_kind, None)
            await _send_event(response, f"{job.event_prefix}.completed", {
                "type": f"{job.event_prefix}.completed", "b64_json": _b64(picture),
                "created_at": int(time.time()), **echo, "usage": stream_usage, **identity,
            })
        await response.write_eof()
        return response

    # -- validation --------------------------------------------------------------------------------------------

    def _validate(self, body: _Body, *, flavor: str, operation: str, deployment_model: str | None) -> _Job:
        """Check a request the way the real API does, in its order: the model (shut down: 404; unknown: 400),
        unknown fields, the schema (OpenAI's OpenAPI description), then what the model can do according to the
        catalogue and the combinations the API refuses. Raises _Reject with OpenAI's error body."""
        multipart = body.kind == "multipart"
        schema_name = request_schema(operation, "multipart" if multipart else "json")
        if multipart:
            for name in ("image", "image[]", "mask", "markup"):
                if name in body.fields:
                    bare = name.removesuffix("[]")
                    raise _error(400, f"Invalid type for '{bare}': expected a file, but got a string instead.",
                                 param=bare, code="invalid_type")
            for name in body.files:
                if name not in FILE_FIELDS:
                    raise _unknown(name)
            properties = _schema_properties(schema_name)
            for name in body.fields:
                parsed = _field_path(name)
                if parsed is None or parsed[0] not in properties:
                    raise _unknown(name)
            params = form_object(body.fields, body.files, schema_name=schema_name)
        else:
            assert body.json is not None
            params = dict(body.json)

        # The model decides what else is allowed. Azure takes it from the deployment and tolerates (ignores) a
        # `model` field in the body.
        if deployment_model is not None:
            model = deployment_model
        else:
            model = params.get("model")
            if model is None:
                model = DEFAULT_GENERATION_MODEL if operation == "generations" else DEFAULT_EDIT_MODEL
            if not isinstance(model, str):
                raise _invalid_type("model", "a string", model)
        caps = self._served(model, flavor)

        unknown = _first_unknown(params, {"$ref": f"{_REF_PREFIX}{schema_name}"}, [])
        if unknown is None:
            unknown = next((name for name in params if name in DALLE_ONLY_PARAMS), None)
        if unknown is None and flavor == "azure":
            unknown = next((name for name in params if name in AZURE_UNKNOWN_PARAMS), None)
        if unknown is not None:
            raise _unknown(unknown)

        errors = list(schema_validator(schema_name).iter_errors(params))
        if errors:
            raise _schema_reject(errors[0])
        return _check_capabilities(params, body, caps, flavor=flavor, operation=operation, model=model,
                                   svg_model_required=self.svg_model_required)


def _status_error(status: int, request_id: str) -> _Reject:
    """The body OpenAI gives with `status` when the stand-in is told to fail a call."""
    if status >= 500:
        return _error(
            status,
            "The server had an error while processing your request. Sorry about that! You can retry your request, "
            f"or contact us through our help center at help.openai.com if the error persists. (Please include the "
            f"request ID {request_id} in your message.)",
            type="server_error",
        )
    if status == 429:
        return _error(429, "Rate limit reached for requests. Please try again in 1s.", type="requests",
                      code="rate_limit_exceeded")
    return _error(status, f"The stand-in was told to answer {status} here.")


def _day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


# ---------------------------------------------------------------------------------------------------------
# Helpers: what a model can do (the catalogue) and the combinations the API refuses
# ---------------------------------------------------------------------------------------------------------


def _check_capabilities(params: dict[str, Any], body: _Body, caps: Capabilities, *, flavor: str, operation: str,
                        model: str, svg_model_required: bool) -> _Job:
    """The checks beyond the schema, from the model's catalogue entry. `params` already satisfies the schema, so
    only the values' meaning is checked here. An explicit JSON null means "use the default"."""
    get = params.get

    prompt = params["prompt"]
    if not prompt:
        raise _error(400, "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an "
                          "empty string instead.", param="prompt", code="empty_string")
    if len(prompt) > caps.prompt_limit:
        raise _error(400, f"Invalid 'prompt': string too long. Expected a string with maximum length "
                          f"{caps.prompt_limit}, but got a string with length {len(prompt)} instead.",
                     param="prompt", code="string_above_max_length")

    n = get("n") if get("n") is not None else 1
    if n > caps.max_n:
        raise _error(400, f"Invalid 'n': integer above maximum value. Expected a value <= {caps.max_n}, but got {n} "
                          "instead.", param="n", code="integer_above_max_value")
    quality = get("quality") or "auto"
    if quality not in caps.qualities:  # xhigh/max on models without them; the DALL·E-only standard/hd
        raise _invalid_value("quality", quality, caps.qualities)
    output_format = get("output_format") or "png"
    if output_format not in caps.formats:  # gif/svg where unsupported; Azure: png and jpeg only
        raise _invalid_value("output_format", output_format, caps.formats)
    complexity = get("complexity")
    if complexity is not None and not caps.complexity:  # wording from a public release note (2.6 only)
        raise _error(400, f"Complexity '{complexity}' is not supported for this image model", param="complexity",
                     code="unsupported_value")
    moderation = get("moderation")
    if moderation is not None and not caps.moderation:
        raise _unsupported("moderation", "Unsupported parameter: 'moderation' is not supported with this model.")

    background = get("background") or "auto"
    if background == "transparent":
        if not caps.transparent:
            raise _error(400, "Unsupported value: 'background' does not support 'transparent' with this model.",
                         param="background", code="unsupported_value")
        if output_format not in ("png", "webp"):  # "When using transparent, set the output format to png or webp"
            raise _error(400, "Transparent backgrounds are only supported with the 'png' and 'webp' output "
                              "formats.", param="background", code="invalid_value")

    stream = bool(get("stream"))
    if stream and not caps.streams(output_format):
        if output_format in ("gif", "svg"):
            raise _unsupported("stream", f"Streaming is not supported with the '{output_format}' output format.")
        raise _unsupported("stream", "Unsupported parameter: 'stream' is not supported with this model.")
    partial_images = get("partial_images")
    if partial_images is not None and output_format in ("gif", "svg"):
        raise _unsupported("partial_images", f"Partial images are not supported with the '{output_format}' output "
                                             "format.")
    partial_images = partial_images or 0
    if partial_images > caps.max_partial_images:
        raise _error(400, f"Invalid 'partial_images': integer above maximum value. Expected a value <= "
                          f"{caps.max_partial_images}, but got {partial_images} instead.", param="partial_images",
                     code="integer_above_max_value")

    compression_given = get("output_compression") is not None
    output_compression = get("output_compression") if compression_given else 100
    if compression_given and output_format not in ("jpeg", "webp"):  # only with jpeg or webp (not png, gif, svg)
        raise _unsupported("output_compression", "Unsupported parameter: 'output_compression' is only supported "
                                                 "with the 'jpeg' and 'webp' output formats.")

    # GIF: frame_count and frame_duration_ms (openai-python image_generate_params); no mask.
    frame_count, frame_ms = 9, 200
    for name in ("frame_count", "frame_duration_ms"):
        if get(name) is not None and output_format != "gif":
            raise _unsupported(name, f"Unsupported parameter: '{name}' is only supported with the 'gif' output "
                                     "format.")
    if output_format == "gif":
        gif = caps.gif
        assert gif is not None, f"{model} lists gif without a gif rule"
        frame_count = get("frame_count") if get("frame_count") is not None else gif.default_frames
        if not gif.min_frames <= frame_count <= gif.max_frames:
            raise _error(400, f"Invalid 'frame_count': expected a value between {gif.min_frames} and "
                              f"{gif.max_frames}, but got {frame_count} instead.", param="frame_count",
                         code="invalid_value")
        frame_ms = get("frame_duration_ms") if get("frame_duration_ms") is not None else gif.default_frame_ms
        if frame_ms < 0:  # the SDK documents rounding and a cap, not a floor; a negative delay cannot be encoded
            raise _error(400, f"Invalid 'frame_duration_ms': integer below minimum value. Expected a value >= 0, but "
                              f"got {frame_ms} instead.", param="frame_duration_ms", code="integer_below_min_value")
        frame_ms = min(round(frame_ms / 10) * 10, gif.max_frame_ms)  # rounded to 10 ms, capped
        if body.masks or (body.json is not None and body.json.get("mask") is not None):
            raise _unsupported("mask", "Unsupported parameter: 'mask' is not supported with the 'gif' output format.")

    # SVG: n=1, no streaming, partial images or compression (checked above); `svg` options only with SVG.
    svg = get("svg")
    svg_model, svg_effort = None, None
    if svg is not None and output_format != "svg":
        raise _unsupported("svg", "Unsupported parameter: 'svg' is only supported with the 'svg' output format.")
    if output_format == "svg":
        if n != 1:
            raise _error(400, "Invalid 'n': the 'svg' output format supports only n=1.", param="n",
                         code="unsupported_value")
        svg = svg or {}
        svg_model = svg.get("model")
        if svg_model is None and svg_model_required:
            raise _error(400, "SVG generation requires 'svg.model'", param="svg.model",
                         code="missing_required_parameter")
        svg_model = svg_model or DEFAULT_SVG_MODEL
        svg_effort = (svg.get("reasoning") or {}).get("effort")

    # Edits: markup (a transparent PNG of marks over the first image), mask, input_fidelity.
    has_mask = bool(body.masks) or (body.json is not None and body.json.get("mask") is not None)
    if has_mask and not caps.mask:
        raise _unsupported("mask", "Unsupported parameter: 'mask' is not supported with this model.")
    if body.markups:
        if not caps.markup:
            raise _unsupported("markup", "Unsupported parameter: 'markup' is not supported with this model.")
        if has_mask:
            raise _unsupported("markup", "Invalid request: 'markup' cannot be combined with 'mask'.")
    input_fidelity = get("input_fidelity")
    if input_fidelity is not None and caps.input_fidelity and input_fidelity not in caps.input_fidelity:
        # e.g. gpt-image-1-mini takes only low. Models that take none (gpt-image-2 and later: "omit it") accept the
        # field and ignore it: their inputs are always read at high fidelity.
        raise _unsupported("input_fidelity", "Unsupported parameter: 'input_fidelity' is not supported with this "
                                             "model.")

    size = get("size") or "auto"
    if size != "auto":
        problems = caps.sizes.problems(size)
        if problems and not caps.sizes.free:
            raise _invalid_value("size", size, (*caps.sizes.sizes, "auto"))
        if problems:
            raise _error(400, f"Invalid size '{size}': {'; '.join(problems)}.", param="size", code="invalid_value")

    safety_identifier = get("safety_identifier")
    if safety_identifier is not None and len(safety_identifier) > MAX_SAFETY_IDENTIFIER:
        raise _error(400, f"Invalid 'safety_identifier': string too long. Expected a string with maximum length "
                          f"{MAX_SAFETY_IDENTIFIER}, but got a string with length {len(safety_identifier)} instead.",
                     param="safety_identifier", code="string_above_max_length")
    # "A non-empty safety_identifier overrides user" (openai-python image_generate_params).
    in_effect = safety_identifier or get("user") or None

    return _Job(
        flavor=flavor, operation=operation, model=model, prompt=prompt, n=n, size=size, quality=quality,
        background=background, output_format=output_format, output_compression=output_compression,
        stream=stream, partial_images=partial_images, input_fidelity=input_fidelity, caps=caps,
        complexity=complexity, moderation=moderation, frame_count=frame_count, frame_duration_ms=frame_ms,
        svg_model=svg_model, svg_effort=svg_effort, safety_identifier=in_effect if flavor == "openai" else None,
    )


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
    if flavor == "azure":  # Azure's imageResult adds its filter verdicts
        verdicts = {name: {"filtered": False, "severity": "safe"} for name in _FILTER_CATEGORIES}
        item["content_filter_results"] = verdicts
        item["prompt_filter_results"] = {
            **verdicts, "jailbreak": {"filtered": False, "detected": False},
            "profanity": {"filtered": False, "detected": False},
        }
    return item


_B64_ANSWER_TAIL = b'"}], "output_format": "png", "size": "1024x1024", "quality": "low"}'


def _b64_answer_head() -> bytes:
    return b'{"created": %d, "data": [{"b64_json": "' % int(time.time())


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def _filler(head: bytes, size: int, tail: bytes) -> AsyncIterator[bytes]:
    """`head`, `size` bytes of base64 "A"s in 64 KiB pieces, then `tail`: any size, a few KB of memory."""
    yield head
    piece = b"A" * (64 * 1024)
    left = size
    while left > 0:
        yield piece[:left]
        left -= len(piece)
    yield tail


async def _write_answer(request: web.Request, record: RecordedRequest, headers: dict[str, str],
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
        if operation == "generations":  # generations are JSON only
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
                elif part.name == "markup":
                    body.markups.append(data)
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
    return DEFAULT_GENERATION_MODEL if operation == "generations" else DEFAULT_EDIT_MODEL


# ---------------------------------------------------------------------------------------------------------
# Helpers: input images
# ---------------------------------------------------------------------------------------------------------

_DATA_URL_RE = re.compile(r"^data:([a-zA-Z0-9.+/-]*)((?:;[^,;]*)*?);base64,", re.IGNORECASE)


def _inspect_inputs(
    body: _Body, max_inputs: int, max_image_bytes: int, max_mask_bytes: int
) -> tuple[list[_InputImage], _InputImage | None, _InputImage | None]:
    """Decode and check the input images, mask and markup (runs in a worker thread)."""
    if body.kind == "multipart":
        if not body.images:
            raise _error(400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter")
        sources = [(data, "image") for data in body.images]
        mask_source = body.masks[0] if body.masks else None
    else:
        assert body.json is not None
        refs = body.json["images"]  # present and a non-empty list: the schema says so
        sources = [(_image_ref(ref, f"images[{i}]"), f"images[{i}]") for i, ref in enumerate(refs)]
        mask_ref = body.json.get("mask")
        mask_source = _image_ref(mask_ref, "mask") if mask_ref is not None else None

    param = "image" if body.kind == "multipart" else "images"
    if len(sources) > max_inputs:
        raise _error(400, f"Invalid '{param}': array too long. Expected an array with maximum length "
                          f"{max_inputs}, but got an array with length {len(sources)} instead.",
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
    first = images[0]

    mask = None
    if mask_source is not None:
        mask = _sniff(mask_source)
        # The mask must be a PNG with an alpha channel, < 4 MB, the first image's size.
        if mask is None or mask.format != "PNG" or not mask.has_alpha:
            raise _error(400, "Invalid mask image: the mask must be a PNG file with an alpha channel.",
                         param="mask", code="invalid_image_file")
        if len(mask_source) >= max_mask_bytes:
            raise _error(400, f"Invalid mask image: the mask must be smaller than {_megabytes(max_mask_bytes)}.",
                         param="mask", code="image_too_large")
        if (mask.width, mask.height) != (first.width, first.height):
            raise _error(400, f"Invalid mask image: the mask ({mask.width}x{mask.height}) must have the same "
                              f"dimensions as the first image ({first.width}x{first.height}).",
                         param="mask", code="invalid_value")

    markup = None
    if body.markups:
        data = body.markups[0]
        markup = _sniff(data)
        # A transparent PNG overlaid on the first image: the first image's dimensions after orientation, and some
        # transparent pixels (openai-python image_edit_params.markup).
        if markup is None or markup.format != "PNG":
            raise _error(400, "Invalid markup image: the markup must be a PNG file.", param="markup",
                         code="invalid_image_file")
        if len(data) >= max_image_bytes:
            raise _error(400, f"Invalid markup image: the markup must be smaller than {_megabytes(max_image_bytes)}.",
                         param="markup", code="image_too_large")
        if (markup.width, markup.height) != first.oriented:
            raise _error(400, f"Invalid markup image: the markup ({markup.width}x{markup.height}) must have the same "
                              f"dimensions as the first image ({first.oriented[0]}x{first.oriented[1]}).",
                         param="markup", code="invalid_value")
        if not _has_transparent_pixels(data):
            raise _error(400, "Invalid markup image: the markup must contain transparent pixels.", param="markup",
                         code="invalid_value")
    return images, mask, markup


def _has_transparent_pixels(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
            return False
        return bool(image.convert("RGBA").getchannel("A").getextrema()[0] == 0)


def _megabytes(limit: int) -> str:
    return f"{limit // _MB} MB" if limit % _MB == 0 else f"{limit:,} bytes"


def _image_ref(ref: Any, where: str) -> bytes:
    """Decode one ImageRefParam (the schema has checked its shape: exactly one of image_url / file_id)."""
    if "file_id" in ref:  # Stand-in limit: there is no Files API here.
        raise _error(400, "The stand-in does not emulate the Files API; send the image as a base64 data URL.",
                     param=f"{where}.file_id", code="invalid_value")
    url = ref["image_url"]
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
            turned = image.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientations that swap the edges
            oriented = (image.height, image.width) if turned else (image.width, image.height)
            return _InputImage(data, expected, image.width, image.height, has_alpha, oriented)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None


def _resolve(job: _Job) -> None:
    """What 'auto' turns into. OpenAI: quality auto → medium; Azure's default quality is high, medium for
    gpt-image-1-mini (Azure's image docs); size auto → 1024x1024, or for edits the standard size nearest the first
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


def _usage(job: _Job, catalogue: Catalogue) -> dict:
    """ImageGenUsage from the catalogue's token figures (bot.money.tokens): input text + input images (not the mask or
    the markup) + output images × n, + the partial-image tokens per preview when streaming. xhigh/max and GIF use
    the catalogue's stated bounds, as no figures are published."""
    assert job.caps is not None
    inputs = catalogue.inputs
    text = tokens.prompt_text_tokens(job.prompt, input_images=len(job.images))
    high = tokens.reads_high_fidelity(job.caps, job.input_fidelity)
    image_in = sum(tokens.input_image_tokens(inputs, i.width, i.height, high_fidelity=high) for i in job.images)
    per_image = tokens.output_image_tokens(job.caps, job.resolved_size, job.resolved_quality, job.output_format)
    partials = inputs.partial_image_tokens * job.partial_images if job.stream else 0
    output = (per_image + partials) * job.n
    return {
        "input_tokens": text + image_in,
        "output_tokens": output,
        "total_tokens": text + image_in + output,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
        "output_tokens_details": {"image_tokens": output, "text_tokens": 0},
    }


# Reasoning tokens the SVG author spends per effort (a stand-in's figures: OpenAI publishes none).
_SVG_REASONING_TOKENS = {"none": 0, "minimal": 64, "low": 256, "medium": 1024, "high": 2048, "xhigh": 4096,
                         "max": 8192}


def _svg_usage(job: _Job, svg: bytes, catalogue: Catalogue) -> dict:
    """svg_usage: the author model's tokens, billed apart from the render's `usage`. It reads the prompt and the
    rendered reference image and writes the document; its reasoning tokens are counted in output_tokens, as in
    OpenAI's other usage objects (reasoning_tokens says how many of them)."""
    width, height = parse_size(job.resolved_size) or (1024, 1024)
    reference = tokens.input_image_tokens(catalogue.inputs, width, height, high_fidelity=False)
    input_tokens = tokens.prompt_text_tokens(job.prompt, input_images=1) + reference
    reasoning = _SVG_REASONING_TOKENS[job.svg_effort or "medium"]
    output_tokens = math.ceil(len(svg) / 4) + reasoning
    return {"model": job.svg_model or DEFAULT_SVG_MODEL, "input_tokens": input_tokens,
            "output_tokens": output_tokens, "reasoning_tokens": reasoning,
            "total_tokens": input_tokens + output_tokens}


# ---------------------------------------------------------------------------------------------------------
# Helpers: pictures (run in worker threads)
# ---------------------------------------------------------------------------------------------------------


def _render_all(job: _Job, kind: str) -> list[bytes]:
    if job.output_format == "gif":
        return [_render_gif(job, index) for index in range(job.n)]
    if job.output_format == "svg":
        return [_render_svg(job, index) for index in range(job.n)]
    return [_render_one(job, index, kind, None) for index in range(job.n)]


def _seed(job: _Job, index: int) -> bytes:
    return hashlib.sha256(f"{job.prompt}\x00{index}".encode()).digest()


def _picture(job: _Job, seed: bytes, size: tuple[int, int], transparent: bool) -> Image.Image:
    if job.operation == "edits":
        return _edit_picture(job, seed, size, transparent)
    return _generation_picture(seed, size, transparent)


def _render_one(job: _Job, index: int, kind: str, partial: int | None) -> bytes:
    """One encoded still picture. `partial` k of P renders the final picture faded toward grey by (P-k)/(P+1)."""
    width, height = parse_size(job.resolved_size) or (1024, 1024)
    transparent = job.resolved_background == "transparent"
    seed = _seed(job, index)
    picture = _picture(job, seed, (width, height), transparent)
    if kind == "photo":
        picture = _add_noise(picture, seed)
    if partial is not None:
        grey = Image.new(picture.mode, picture.size, (128, 128, 128, 255)[: len(picture.getbands())])
        picture = Image.blend(grey, picture, (partial + 1) / (job.partial_images + 1))
    return _encode(picture, job.output_format, job.output_compression, kind)


def _render_gif(job: _Job, index: int) -> bytes:
    """An animated GIF: the still picture with a disc crossing it, `frame_count` frames of `frame_duration_ms`
    each, looping. Every frame differs (Pillow would merge identical ones)."""
    width, height = parse_size(job.resolved_size) or (1024, 1024)
    seed = _seed(job, index)
    still = _picture(job, seed, (width, height), False).convert("RGB").quantize(colors=255)
    palette = (still.getpalette() or [])[: 255 * 3]
    palette += [0] * (255 * 3 - len(palette))
    palette += list(_colour(random.Random(seed + b"gif")))  # index 255: the disc
    still.putpalette(palette)
    radius = max(4, min(width, height) // 10)
    frames = []
    for number in range(job.frame_count):
        frame = still.copy()
        x = radius + (width - 2 * radius) * number // max(job.frame_count - 1, 1)
        y = height // 2
        ImageDraw.Draw(frame).ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=job.frame_duration_ms, loop=0,
                   optimize=False)
    return buffer.getvalue()


def _render_svg(job: _Job, index: int) -> bytes:
    """An SVG document (UTF-8) of the resolved size: a gradient background and a few shapes seeded by the prompt,
    with the prompt's words as its <title>."""
    width, height = parse_size(job.resolved_size) or (1024, 1024)
    rng = random.Random(_seed(job, index))
    if job.operation == "edits":  # the first input's average colour, so an edit looks like its input
        with Image.open(io.BytesIO(job.images[0].data)) as source:
            left = source.convert("RGB").resize((1, 1)).getpixel((0, 0))
        right = _colour(rng)
    else:
        left, right = _colour(rng), _colour(rng)
    words = " ".join(job.prompt.split())
    shapes = []
    for _ in range(3 + rng.randrange(3)):
        x, y = rng.randrange(width * 3 // 4), rng.randrange(height * 3 // 4)
        w, h = width // 8 + rng.randrange(width // 4), height // 8 + rng.randrange(height // 4)
        fill = _hex(_colour(rng))
        if rng.random() < 0.5:
            shapes.append(f'  <ellipse cx="{x + w // 2}" cy="{y + h // 2}" rx="{w // 2}" ry="{h // 2}" fill="{fill}"/>')
        else:
            shapes.append(f'  <rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"/>')
    hex_left, hex_right = (_hex(c) for c in (left, right))
    document = "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"  <title>{escape(xml_text(words))}</title>",  # a prompt may hold characters XML cannot
        '  <defs><linearGradient id="background" x1="0" y1="0" x2="1" y2="0">'
        f'<stop offset="0" stop-color="{hex_left}"/><stop offset="1" stop-color="{hex_right}"/>'
        "</linearGradient></defs>",
        f'  <rect x="0" y="0" width="{width}" height="{height}" fill="url(#background)"/>',
        *shapes,
        "</svg>",
        "",
    ])
    return document.encode("utf-8")


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


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
    band across its middle. With a mask, only the mask's fully transparent area is changed."""
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

