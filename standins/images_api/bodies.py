"""Request bodies: read as they arrive (JSON or multipart/form-data, never validated here), and a multipart form
seen as the object the schema describes."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from standins.images_api.errors import Reject, api_error
from standins.images_api.facts import DEFAULT_EDIT_MODEL, DEFAULT_GENERATION_MODEL, INT_RE
from standins.images_api.schema import REF_PREFIX, items_of, properties_of, types_of

_FIELD_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def field_path(name: str) -> tuple[str, list[str]] | None:
    """'svg[reasoning][effort]' → ('svg', ['reasoning', 'effort']); 'image[]' → ('image', ['']); None if malformed."""
    match = _FIELD_RE.match(name)
    if not match:
        return None
    return match[1], re.findall(r"\[([^\[\]]*)\]", match[2])


def _coerce(value: Any, node: Any) -> Any:
    """Multipart text as the API reads it: integers and booleans for the schema's integer and boolean fields."""
    if isinstance(value, dict):
        props = properties_of(node) or {}
        return {k: _coerce(v, props.get(k, {})) for k, v in value.items()}
    if isinstance(value, list):
        items = items_of(node) or {}
        return [_coerce(v, items) for v in value]
    if not isinstance(value, str):
        return value
    kinds = types_of(node)
    if "integer" in kinds and INT_RE.fullmatch(value):
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
        parsed = field_path(name)
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
    coerced: dict[str, Any] = _coerce(result, {"$ref": f"{REF_PREFIX}{schema_name}"})
    return coerced


@dataclass
class Body:
    kind: str  # "json" | "multipart" | "invalid"
    json: dict[str, Any] | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, str, bytes]]] = field(default_factory=dict)  # as recorded
    images: list[bytes] = field(default_factory=list)  # `image` and `image[]` files, in arrival order
    masks: list[bytes] = field(default_factory=list)
    markups: list[bytes] = field(default_factory=list)
    problem: Reject | None = None


_NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP "
    "library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have "
    "trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)"
)


async def read_body(request: web.Request, operation: str) -> Body:
    """Parse (never validate) the body, so it can be recorded before faults and validation run."""
    if request.content_type == "multipart/form-data":
        if operation == "generations":  # generations are JSON only
            await request.read()
            return Body("invalid", problem=api_error(400, _NOT_JSON))
        return await _read_multipart(request)
    raw = await request.read()
    if operation == "edits" and request.content_type != "application/json":
        return Body("invalid", problem=api_error(
            400,
            f"Invalid Content-Type header ({request.content_type or 'none'}); image edits take multipart/form-data "
            "or application/json.",
        ))
    try:
        parsed = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        return Body("invalid", problem=api_error(400, _NOT_JSON))
    if not isinstance(parsed, dict):
        return Body("invalid", problem=api_error(400, _NOT_JSON))
    return Body("json", json=parsed)


async def _read_multipart(request: web.Request) -> Body:
    body = Body("multipart")
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
        body.problem = api_error(400, f"Could not parse the multipart/form-data body: {exc}")
    return body


def model_hint(body: Body, operation: str) -> str:
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
