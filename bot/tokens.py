"""Token counts the image API charges, from OpenAI's published tables (shared/reference §5).

Used to estimate before a call (and by the offline renderer to report usage the way the API does).
Bills are always computed from the API's own `usage`, never from these.
"""

from __future__ import annotations

import math

# Output image tokens per image for the models before gpt-image-2 (gpt-image-1, -1.5; mini is billed
# by its own usage, which does not follow this table, but it is the best published estimate).
_TABLE = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
_GPT_IMAGE_2_Q = {"low": 16, "medium": 48, "high": 96}


def resolve_size(size: str) -> str:
    return "1024x1024" if size == "auto" else size


def resolve_quality(quality: str) -> str:
    return "medium" if quality == "auto" else quality


def is_gpt_image_2(model: str) -> bool:
    return model.startswith("gpt-image-2")


def output_image_tokens(model: str, size: str, quality: str) -> int:
    """Tokens for one output image of `size` at `quality` (auto resolved to 1024x1024 / medium)."""
    size, quality = resolve_size(size), resolve_quality(quality)
    width, height = (int(v) for v in size.split("x"))
    if is_gpt_image_2(model):
        # Community-derived formula that reproduces every published gpt-image-2 figure (§5c).
        q = _GPT_IMAGE_2_Q[quality]
        long, short = max(width, height), min(width, height)
        saf = (2 * q * short + long) // (2 * long)
        return math.ceil(q * saf * (2_000_000 + width * height) / 4_000_000)
    if size in _TABLE[quality]:
        return _TABLE[quality][size]
    # Not a size these models produce; scale the square figure by area as the nearest honest estimate.
    return math.ceil(_TABLE[quality]["1024x1024"] * width * height / (1024 * 1024))


def input_image_tokens(width: int, height: int, *, fidelity: str = "low", model: str = "gpt-image-1") -> int:
    """Tokens for one input image (§5d): shortest side scaled to 512 px, 65 + 129 per 512-px tile."""
    short = min(width, height)
    # Integer arithmetic: floats turn an exact 1536 into 1536.0000000000002 and a fourth tile.
    w, h = -(-width * 512 // short), -(-height * 512 // short)
    tiles = -(-w // 512) * -(-h // 512)
    tokens = 65 + 129 * tiles
    if fidelity == "high" or is_gpt_image_2(model):
        tokens += 4160 if width == height else 6240
    return tokens


def prompt_text_tokens(prompt: str, *, input_images: int = 0) -> int:
    """A rough estimate of billed text tokens: ~4 characters a token, plus the API's overheads."""
    return math.ceil(len(prompt) / 4) + 6 + 32 * input_images
