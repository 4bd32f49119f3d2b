"""Validate requests and responses against OpenAI's OpenAPI description of the image endpoints (December 2026).

The document ships inside the stand-in package, at standins/schemas/openai-images-2026-12.openapi.json (its
provenance and licence are beside it, in standins/schemas/README.md and LICENSE), so a clone of the repository has
everything the tests need. It is read through importlib.resources, as the installed package reads it. OpenAPI 3.1
schemas are JSON Schema 2020-12, so the whole document is registered as one resource and
"#/components/schemas/..." references resolve inside it. Keywords JSON Schema does not know (discriminator,
example, x-*) are ignored, and "format" is not asserted.

    from tests.standins.openapi import openapi_validator

    openapi_validator("ImagesResponse").validate(response.json())
    errors = list(openapi_validator("CreateImageRequest").iter_errors(body))
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
OPENAPI_RESOURCE = resources.files("standins").joinpath("schemas").joinpath(SCHEMA_FILE)
_DOCUMENT_URI = "urn:openai-images-openapi-2026-12"


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The parsed OpenAPI document (read once)."""
    document: dict[str, Any] = json.loads(OPENAPI_RESOURCE.read_text(encoding="utf-8"))
    return document


@functools.cache
def _registry() -> referencing.Registry:
    resource = referencing.Resource.from_contents(
        openapi_document(), default_specification=referencing.jsonschema.DRAFT202012
    )
    return referencing.Registry().with_resource(_DOCUMENT_URI, resource)


def schema_names() -> list[str]:
    """Every name under components.schemas."""
    return sorted(openapi_document()["components"]["schemas"])


@functools.cache
def openapi_validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """A validator for components.schemas[schema_name], e.g. "ImagesResponse", "ErrorResponse",
    "CreateImageRequest", "ImageGenCompletedEvent". Raises KeyError for a name the document lacks."""
    if schema_name not in openapi_document()["components"]["schemas"]:
        raise KeyError(f"{schema_name!r} is not in {SCHEMA_FILE}; known: {', '.join(schema_names())}")
    schema = {"$ref": f"{_DOCUMENT_URI}#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())
