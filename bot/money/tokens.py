"""Token counts the image API should charge, estimated from the catalogue's published tables and formulas.

Used to estimate before a call (budgets, the confirmation) and by the offline renderer to report usage the way the
API does. Bills are always computed from the API's own `usage`, never from these. Where no figure is published
(xhigh, max, GIF), the catalogue states an upper bound and `is_upper_bound` says so.
"""

from __future__ import annotations

import math

from bot.money.catalogue_records import Capabilities, Estimate, InputTokens


def resolve_size(size: str) -> str:
    return "1024x1024" if size == "auto" else size


def resolve_quality(quality: str) -> str:
    return "medium" if quality == "auto" else quality


def is_upper_bound(caps: Capabilities, quality: str, output_format: str = "png") -> bool:
    """True when the estimate for this request is the catalogue's stated upper bound, not a published figure."""
    gif_bound = output_format == "gif" and caps.estimate.gif_factor != 1
    return caps.estimate.is_bound(resolve_quality(quality)) or gif_bound


def output_image_tokens(caps: Capabilities, size: str, quality: str, output_format: str = "png") -> int:
    """Tokens for one output image of `size` at `quality` (auto resolved to 1024x1024 / medium)."""
    size, quality = resolve_size(size), resolve_quality(quality)
    width, height = (int(v) for v in size.split("x"))
    estimate = caps.estimate
    tokens = _tokens(estimate, width, height, quality)
    if output_format == "gif":
        tokens = math.ceil(tokens * estimate.gif_factor)  # the frames share one render's budget; a stated bound
    return tokens


def _tokens(estimate: Estimate, width: int, height: int, quality: str) -> int:
    if quality in estimate.bounds:
        of, factor = estimate.bounds[quality]
        return math.ceil(_tokens(estimate, width, height, of) * factor)
    if estimate.method == "formula":
        # Community-derived formula that reproduces every published gpt-image-2 calculator figure.
        q = estimate.quality_factor[quality]
        long, short = max(width, height), min(width, height)
        saf = (2 * q * short + long) // (2 * long)
        return math.ceil(q * saf * (2_000_000 + width * height) / 4_000_000)
    table = estimate.table[quality]
    size = f"{width}x{height}"
    if size in table:
        return table[size]
    # Not a size in the table; scale the square figure by area as the nearest honest estimate.
    return math.ceil(table["1024x1024"] * width * height / (1024 * 1024))


def input_image_tokens(inputs: InputTokens, width: int, height: int, *, high_fidelity: bool) -> int:
    """Tokens for one input image: shortest side scaled to the tile size, base + per-tile tokens, plus the high
    fidelity surcharge when the request (or the model, always) reads it at high fidelity."""
    short = min(width, height)
    tile = inputs.tile
    # Integer arithmetic: floats turn an exact 1536 into 1536.0000000000002 and a fourth tile.
    w, h = -(-width * tile // short), -(-height * tile // short)
    tiles = -(-w // tile) * -(-h // tile)
    tokens = inputs.base_tokens + inputs.tile_tokens * tiles
    if high_fidelity:
        tokens += inputs.high_fidelity_square if width == height else inputs.high_fidelity_other
    return tokens


def reads_high_fidelity(caps: Capabilities, fidelity: str | None) -> bool:
    return caps.inputs_high_fidelity or fidelity == "high"


def prompt_text_tokens(prompt: str, *, input_images: int = 0) -> int:
    """A rough estimate of billed text tokens: ~4 characters a token, plus the API's overheads."""
    return math.ceil(len(prompt) / 4) + 6 + 32 * input_images
