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

import jsonschema

from standins.images_api import SCHEMA_FILE, openapi_document, schema_validator

__all__ = ["SCHEMA_FILE", "openapi_document", "openapi_validator", "schema_names"]


def schema_names() -> list[str]:
    """Every name under components.schemas."""
    return sorted(openapi_document()["components"]["schemas"])


def openapi_validator(schema_name: str) -> jsonschema.Draft202012Validator:
    """A validator for components.schemas[schema_name], e.g. "ImagesResponse", "ErrorResponse",
    "CreateImageRequest", "ImageGenCompletedEvent" (the stand-in's own, so both check against one document).
    Raises KeyError for a name the document lacks."""
    if schema_name not in openapi_document()["components"]["schemas"]:
        raise KeyError(f"{schema_name!r} is not in {SCHEMA_FILE}; known: {', '.join(schema_names())}")
    return schema_validator(schema_name)
