"""What a call is billed: ImageGenUsage from the catalogue's token figures, and an SVG author's svg_usage."""

from __future__ import annotations

import math
from typing import Any

from bot.money import tokens
from bot.money.catalogue import Catalogue
from standins.images_api.facts import DEFAULT_SVG_MODEL, parse_size
from standins.images_api.jobs import Job


def image_usage(job: Job, catalogue: Catalogue) -> dict[str, Any]:
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


def svg_usage(job: Job, svg: bytes, catalogue: Catalogue) -> dict[str, Any]:
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
