"""What the image API is like beyond its schema: the fields it refuses, its defaults, sizes and limits."""

from __future__ import annotations

import math
import re

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
MODELS_CREATED = 1745366400  # `created` for models with no release date in the catalogue (2025-04-23)

MB = 1024 * 1024
_SIZE_RE = re.compile(r"^([1-9][0-9]{0,5})x([1-9][0-9]{0,5})$")
# An integer in multipart text (the API parses the schema's integer fields from it).
INT_RE = re.compile(r"\s*-?[0-9]+\s*")


def parse_size(size: str) -> tuple[int, int] | None:
    """'1536x1024' → (1536, 1024); None for anything else (including 'auto')."""
    match = _SIZE_RE.match(size)
    return (int(match[1]), int(match[2])) if match else None


def closest_standard_size(width: int, height: int) -> str:
    """The standard size (1024x1024, 1536x1024, 1024x1536) nearest in aspect ratio to width×height."""
    ratio = math.log(width / height)
    return min(STANDARD_SIZES, key=lambda s: abs(ratio - math.log(_ASPECTS[s])))


_ASPECTS = {"1024x1024": 1.0, "1536x1024": 1.5, "1024x1536": 1024 / 1536}

# The categories of Azure's content filter verdicts.
FILTER_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
