"""OpenAI's OpenAPI description of the image endpoints, shipped in standins/schemas/, and the way around it.

OpenAPI 3.1 schemas are JSON Schema 2020-12: the whole document is one resource, so "#/components/schemas/..."
references resolve inside it.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

SCHEMA_FILE = "openai-images-2026-12.openapi.json"
_SCHEMA_URI = "urn:standins:openai-images-2026-12"
REF_PREFIX = "#/components/schemas/"


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
    return jsonschema.Draft202012Validator({"$ref": f"{_SCHEMA_URI}{REF_PREFIX}{schema_name}"}, registry=registry)


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
        if not ref.startswith(REF_PREFIX):
            break
        node = openapi_document()["components"]["schemas"][ref[len(REF_PREFIX):]]
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


def properties_of(node: Any) -> dict[str, Any] | None:
    """The properties an object schema describes (merged over its alternatives), or None if it describes none."""
    merged: dict[str, Any] = {}
    described = False
    for branch in _branches(node):
        if "properties" in branch:
            described = True
            merged.update(branch["properties"])
    return merged if described else None


def items_of(node: Any) -> Any | None:
    for branch in _branches(node):
        if "items" in branch:
            return branch["items"]
    return None


def types_of(node: Any) -> set[str]:
    kinds: set[str] = set()
    for branch in _branches(node):
        kind = branch.get("type")
        if isinstance(kind, str):
            kinds.add(kind)
        elif isinstance(kind, list):
            kinds.update(kind)
    return kinds


def schema_properties(schema_name: str) -> dict[str, Any]:
    return properties_of({"$ref": f"{REF_PREFIX}{schema_name}"}) or {}
