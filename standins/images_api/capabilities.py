"""The checks beyond the schema: what the model can do according to imagebot's catalogue, and the combinations
the API refuses. The request already satisfies the schema, so only the values' meaning is checked here; an explicit
JSON null means "use the default"."""

from __future__ import annotations

from typing import Any

from bot.money.catalogue_records import Capabilities
from standins.images_api.bodies import Body
from standins.images_api.errors import api_error, invalid_value, unsupported
from standins.images_api.facts import DEFAULT_SVG_MODEL, MAX_SAFETY_IDENTIFIER
from standins.images_api.jobs import Job


def check_capabilities(params: dict[str, Any], body: Body, caps: Capabilities, *, flavor: str, operation: str,
                       model: str, svg_model_required: bool) -> Job:
    """The request as a Job, once the model's catalogue entry allows everything it asks for."""
    prompt = _prompt(params, caps)
    n = _default(params, "n", 1)
    if n > caps.max_n:
        raise api_error(400, f"Invalid 'n': integer above maximum value. Expected a value <= {caps.max_n}, but got "
                             f"{n} instead.", param="n", code="integer_above_max_value")
    quality = params.get("quality") or "auto"
    if quality not in caps.qualities:  # xhigh/max on models without them; the DALL·E-only standard/hd
        raise invalid_value("quality", quality, caps.qualities)
    output_format = params.get("output_format") or "png"
    if output_format not in caps.formats:  # gif/svg where unsupported; Azure: png and jpeg only
        raise invalid_value("output_format", output_format, caps.formats)
    complexity, moderation = params.get("complexity"), params.get("moderation")
    if complexity is not None and not caps.complexity:  # wording from a public release note (2.6 only)
        raise api_error(400, f"Complexity '{complexity}' is not supported for this image model", param="complexity",
                        code="unsupported_value")
    if moderation is not None and not caps.moderation:
        raise unsupported("moderation", "Unsupported parameter: 'moderation' is not supported with this model.")
    background = _background(params, caps, output_format)
    stream, partial_images = _streaming(params, caps, output_format)
    output_compression = _compression(params, output_format)
    frame_count, frame_ms = _gif(params, body, caps, output_format, model)
    svg_model, svg_effort = _svg(params, n, output_format, svg_model_required)
    input_fidelity = _edit_inputs(params, body, caps)
    size = _size(params, caps)
    in_effect = _safety_identifier(params)
    return Job(
        flavor=flavor, operation=operation, model=model, prompt=prompt, n=n, size=size, quality=quality,
        background=background, output_format=output_format, output_compression=output_compression,
        stream=stream, partial_images=partial_images, input_fidelity=input_fidelity, caps=caps,
        complexity=complexity, moderation=moderation, frame_count=frame_count, frame_duration_ms=frame_ms,
        svg_model=svg_model, svg_effort=svg_effort, safety_identifier=in_effect if flavor == "openai" else None,
    )


def _default(params: dict[str, Any], name: str, default: int) -> int:
    """An integer field, or `default` when it is absent or null (the schema has checked it is an integer)."""
    value = params.get(name)
    return default if value is None else int(value)


def _prompt(params: dict[str, Any], caps: Capabilities) -> str:
    prompt: str = params["prompt"]
    if not prompt:
        raise api_error(400, "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an "
                             "empty string instead.", param="prompt", code="empty_string")
    if len(prompt) > caps.prompt_limit:
        raise api_error(400, f"Invalid 'prompt': string too long. Expected a string with maximum length "
                             f"{caps.prompt_limit}, but got a string with length {len(prompt)} instead.",
                        param="prompt", code="string_above_max_length")
    return prompt


def _background(params: dict[str, Any], caps: Capabilities, output_format: str) -> str:
    background: str = params.get("background") or "auto"
    if background == "transparent":
        if not caps.transparent:
            raise api_error(400, "Unsupported value: 'background' does not support 'transparent' with this model.",
                            param="background", code="unsupported_value")
        if output_format not in ("png", "webp"):  # "When using transparent, set the output format to png or webp"
            raise api_error(400, "Transparent backgrounds are only supported with the 'png' and 'webp' output "
                                 "formats.", param="background", code="invalid_value")
    return background


def _streaming(params: dict[str, Any], caps: Capabilities, output_format: str) -> tuple[bool, int]:
    """(stream, partial_images)."""
    stream = bool(params.get("stream"))
    if stream and not caps.streams(output_format):
        if output_format in ("gif", "svg"):
            raise unsupported("stream", f"Streaming is not supported with the '{output_format}' output format.")
        raise unsupported("stream", "Unsupported parameter: 'stream' is not supported with this model.")
    if params.get("partial_images") is not None and output_format in ("gif", "svg"):
        raise unsupported("partial_images", f"Partial images are not supported with the '{output_format}' output "
                                            "format.")
    partial_images = _default(params, "partial_images", 0)
    if partial_images > caps.max_partial_images:
        raise api_error(400, f"Invalid 'partial_images': integer above maximum value. Expected a value <= "
                             f"{caps.max_partial_images}, but got {partial_images} instead.", param="partial_images",
                        code="integer_above_max_value")
    return stream, partial_images


def _compression(params: dict[str, Any], output_format: str) -> int:
    if params.get("output_compression") is not None and output_format not in ("jpeg", "webp"):
        # only with jpeg or webp (not png, gif, svg)
        raise unsupported("output_compression", "Unsupported parameter: 'output_compression' is only supported "
                                                "with the 'jpeg' and 'webp' output formats.")
    return _default(params, "output_compression", 100)


def _gif(params: dict[str, Any], body: Body, caps: Capabilities, output_format: str, model: str) -> tuple[int, int]:
    """GIF: frame_count and frame_duration_ms (openai-python image_generate_params); no mask. (frames, ms)."""
    for name in ("frame_count", "frame_duration_ms"):
        if params.get(name) is not None and output_format != "gif":
            raise unsupported(name, f"Unsupported parameter: '{name}' is only supported with the 'gif' output "
                                    "format.")
    if output_format != "gif":
        return 9, 200
    gif = caps.gif
    assert gif is not None, f"{model} lists gif without a gif rule"
    frame_count = _default(params, "frame_count", gif.default_frames)
    if not gif.min_frames <= frame_count <= gif.max_frames:
        raise api_error(400, f"Invalid 'frame_count': expected a value between {gif.min_frames} and "
                             f"{gif.max_frames}, but got {frame_count} instead.", param="frame_count",
                        code="invalid_value")
    frame_ms = _default(params, "frame_duration_ms", gif.default_frame_ms)
    if frame_ms < 0:  # the SDK documents rounding and a cap, not a floor; a negative delay cannot be encoded
        raise api_error(400, f"Invalid 'frame_duration_ms': integer below minimum value. Expected a value >= 0, but "
                             f"got {frame_ms} instead.", param="frame_duration_ms", code="integer_below_min_value")
    frame_ms = min(round(frame_ms / 10) * 10, gif.max_frame_ms)  # rounded to 10 ms, capped
    if body.masks or (body.json is not None and body.json.get("mask") is not None):
        raise unsupported("mask", "Unsupported parameter: 'mask' is not supported with the 'gif' output format.")
    return frame_count, frame_ms


def _svg(params: dict[str, Any], n: int, output_format: str,
         svg_model_required: bool) -> tuple[str | None, str | None]:
    """SVG: n=1, no streaming, partial images or compression (checked before); `svg` options only with SVG.
    (svg_model, svg_effort)."""
    svg = params.get("svg")
    if svg is not None and output_format != "svg":
        raise unsupported("svg", "Unsupported parameter: 'svg' is only supported with the 'svg' output format.")
    if output_format != "svg":
        return None, None
    if n != 1:
        raise api_error(400, "Invalid 'n': the 'svg' output format supports only n=1.", param="n",
                        code="unsupported_value")
    svg = svg or {}
    svg_model = svg.get("model")
    if svg_model is None and svg_model_required:
        raise api_error(400, "SVG generation requires 'svg.model'", param="svg.model",
                        code="missing_required_parameter")
    return svg_model or DEFAULT_SVG_MODEL, (svg.get("reasoning") or {}).get("effort")


def _edit_inputs(params: dict[str, Any], body: Body, caps: Capabilities) -> str | None:
    """Edits: markup (a transparent PNG of marks over the first image), mask, input_fidelity (returned)."""
    has_mask = bool(body.masks) or (body.json is not None and body.json.get("mask") is not None)
    if has_mask and not caps.mask:
        raise unsupported("mask", "Unsupported parameter: 'mask' is not supported with this model.")
    if body.markups:
        if not caps.markup:
            raise unsupported("markup", "Unsupported parameter: 'markup' is not supported with this model.")
        if has_mask:
            raise unsupported("markup", "Invalid request: 'markup' cannot be combined with 'mask'.")
    input_fidelity: str | None = params.get("input_fidelity")
    if input_fidelity is not None and caps.input_fidelity and input_fidelity not in caps.input_fidelity:
        # e.g. gpt-image-1-mini takes only low. Models that take none (gpt-image-2 and later: "omit it") accept the
        # field and ignore it: their inputs are always read at high fidelity.
        raise unsupported("input_fidelity", "Unsupported parameter: 'input_fidelity' is not supported with this "
                                            "model.")
    return input_fidelity


def _size(params: dict[str, Any], caps: Capabilities) -> str:
    size: str = params.get("size") or "auto"
    if size != "auto":
        problems = caps.sizes.problems(size)
        if problems and not caps.sizes.free:
            raise invalid_value("size", size, (*caps.sizes.sizes, "auto"))
        if problems:
            raise api_error(400, f"Invalid size '{size}': {'; '.join(problems)}.", param="size", code="invalid_value")
    return size


def _safety_identifier(params: dict[str, Any]) -> str | None:
    """The identifier in effect: "A non-empty safety_identifier overrides user" (openai-python
    image_generate_params)."""
    safety_identifier = params.get("safety_identifier")
    if safety_identifier is not None and len(safety_identifier) > MAX_SAFETY_IDENTIFIER:
        raise api_error(400, f"Invalid 'safety_identifier': string too long. Expected a string with maximum length "
                             f"{MAX_SAFETY_IDENTIFIER}, but got a string with length {len(safety_identifier)} "
                             "instead.", param="safety_identifier", code="string_above_max_length")
    return safety_identifier or params.get("user") or None

