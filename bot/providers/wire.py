"""What an image API request carries: the JSON body of a generation and the multipart form of an edit.

Generations are JSON; edits are multipart: one input as `image`, several as `image[]` (as the official SDK sends
them), an optional `mask` or `markup` PNG, nested options in bracket notation (`svg[model]`). The client always sends
`model` to OpenAI (the spec's implicit defaults are shut-down models) and never sends the DALL·E-only
`response_format` or `style`. What a model accepts is decided before this is called (bot/rules/options.py and the
catalogue); this sends what the options say. The end user's hashed id goes as `safety_identifier` on OpenAI and as
`user` on Azure, whose api-version knows no other (the catalogue's `end_user_field`).

A streamed request (`ImageOptions.partial_images` > 0) also carries `stream: true` and `partial_images`
(https://developers.openai.com/api/docs/guides/image-generation).
"""

from __future__ import annotations

import hashlib
from typing import Any

from bot.errors import InvalidRequest
from bot.models import EditRequest, GenerateRequest, ImageOptions

_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif", "svg": "image/svg+xml"}
#: A safety_identifier longer than this is refused (the Responses API caps it at 64; keep image calls within it).
MAX_SAFETY_IDENTIFIER = 64
MAX_PARTIAL_IMAGES = 3  # `partial_images`: 0–3 (the API reference)

#: A multipart file: (field, (file name, bytes, content type)).
Upload = tuple[str, tuple[str, bytes, str]]


def end_user_id(team_id: str, user_id: str) -> str:
    """A stable id for the API's abuse monitoring that does not reveal the Slack ids."""
    return "slack-" + hashlib.sha256(f"{team_id}:{user_id}".encode()).hexdigest()[:24]


def generation_body(request: GenerateRequest, *, sends_model: bool, end_user_field: str) -> dict[str, Any]:
    """The JSON body of one generation (streamed when `options.partial_images` > 0)."""
    options = request.options
    body: dict[str, Any] = {"prompt": request.prompt, **_common_fields(options, request.user, sends_model,
                                                                       end_user_field)}
    if options.moderation:
        body["moderation"] = options.moderation  # generations only: the edits endpoint has no such field
    if options.output_format == "svg" and options.svg_model:
        body["svg"] = {"model": options.svg_model}
    if options.partial_images:
        body.update(stream=True, partial_images=_partial_images(options))
    return body


def edit_form(request: EditRequest, *, sends_model: bool,
              end_user_field: str) -> tuple[dict[str, str], list[Upload]]:
    """The multipart fields and files of one edit (streamed when `options.partial_images` > 0); an edit with no
    input, more than 16, or both a mask and markup is refused before anything is sent."""
    if not 1 <= len(request.images) <= 16:
        raise InvalidRequest("An edit takes 1 to 16 input images.", param="image")
    if request.mask is not None and request.markup is not None:
        raise InvalidRequest("An edit takes a mask or markup, not both.", param="markup", status=None)
    options = request.options
    fields = {"prompt": request.prompt, **_common_fields(options, request.user, sends_model, end_user_field)}
    # input_fidelity is an edits-only field, sent only when set: options drop it for models that take none.
    if options.input_fidelity:
        fields["input_fidelity"] = options.input_fidelity
    if options.output_format == "svg" and options.svg_model:
        fields["svg[model]"] = options.svg_model  # multipart spells nested objects with brackets
    data = {key: str(value) for key, value in fields.items()}
    name = "image" if len(request.images) == 1 else "image[]"
    files: list[Upload] = [
        (name, (f"image_{i}.{_suffix(img.format)}", img.data, _MIME[img.format]))
        for i, img in enumerate(request.images, start=1)
    ]
    if request.mask is not None:
        files.append(("mask", ("mask.png", request.mask, "image/png")))
    if request.markup is not None:
        files.append(("markup", ("markup.png", request.markup, "image/png")))
    if options.partial_images:
        # Multipart carries booleans as text; the schema's `stream` is a boolean, sent as "true".
        data.update(stream="true", partial_images=str(_partial_images(options)))
    return data, files


def _common_fields(options: ImageOptions, end_user: str | None, sends_model: bool,
                   end_user_field: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if sends_model:
        fields["model"] = options.model
    fields.update(n=options.n, size=options.size, quality=options.quality, output_format=options.output_format)
    if options.background:
        fields["background"] = options.background
    if options.complexity:
        fields["complexity"] = options.complexity
    if options.output_format == "gif":
        if options.frames:
            fields["frame_count"] = options.frames
        if options.frame_ms:
            fields["frame_duration_ms"] = options.frame_ms
    if end_user:
        fields[end_user_field] = end_user[:MAX_SAFETY_IDENTIFIER]
    return fields


def _suffix(fmt: str) -> str:
    return "jpg" if fmt == "jpeg" else fmt


def _partial_images(options: ImageOptions) -> int:
    count = options.partial_images
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_PARTIAL_IMAGES:
        raise InvalidRequest(f"partial_images must be 0 to {MAX_PARTIAL_IMAGES}, not {count!r}.",
                             param="partial_images", status=None)
    return count
