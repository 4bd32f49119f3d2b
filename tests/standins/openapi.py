"""Validate requests and responses against OpenAI's OpenAPI description of the image endpoints.

The file lives beside the repository at ../shared/schemas/openai-images.openapi.json (CI clones the repo
with shared/ next to it). OpenAPI 3.1 schemas are JSON Schema 2020-12, so the whole document is
registered as one resource and "#/components/schemas/..." references resolve inside it. Keywords
JSON Schema does not know (nullable, discriminator, example, x-*) are ignored, and "format" is not
asserted.

    from tests.standins.openapi import openapi_validator

    openapi_validator("ImagesResponse").validate(response.json())
    errors = list(openapi_validator("CreateImageRequest").iter_errors(body))
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.jsonschema

OPENAPI_PATH = Path(__file__).resolve().parents[3] / "shared" / "schemas" / "openai-images.openapi.json"
_DOCUMENT_URI = "urn:openai-images-openapi"


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The parsed OpenAPI document (read once)."""
    return json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


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
        raise KeyError(f"{schema_name!r} is not in {OPENAPI_PATH.name}; known: {', '.join(schema_names())}")
    schema = {"$ref": f"{_DOCUMENT_URI}#/components/schemas/{schema_name}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry())
