"""The input images of an edit, its mask and its markup: decoded and checked (in a worker thread)."""

from __future__ import annotations

import base64
import binascii
import io
import re
from typing import Any

from PIL import Image

from standins.images_api.bodies import Body
from standins.images_api.errors import api_error
from standins.images_api.facts import MB
from standins.images_api.jobs import InputImage

_DATA_URL_RE = re.compile(r"^data:([a-zA-Z0-9.+/-]*)((?:;[^,;]*)*?);base64,", re.IGNORECASE)


def inspect_inputs(
    body: Body, max_inputs: int, max_image_bytes: int, max_mask_bytes: int
) -> tuple[list[InputImage], InputImage | None, InputImage | None]:
    """Decode and check the input images, mask and markup (runs in a worker thread)."""
    if body.kind == "multipart":
        if not body.images:
            raise api_error(400, "Missing required parameter: 'image'.", param="image",
                            code="missing_required_parameter")
        sources = [(data, "image") for data in body.images]
        mask_source = body.masks[0] if body.masks else None
    else:
        assert body.json is not None
        refs = body.json["images"]  # present and a non-empty list: the schema says so
        sources = [(_image_ref(ref, f"images[{i}]"), f"images[{i}]") for i, ref in enumerate(refs)]
        mask_ref = body.json.get("mask")
        mask_source = _image_ref(mask_ref, "mask") if mask_ref is not None else None
    images = _images(sources, body.kind == "multipart", max_inputs, max_image_bytes)
    mask = _mask(mask_source, images[0], max_mask_bytes) if mask_source is not None else None
    markup = _markup(body.markups[0], images[0], max_image_bytes) if body.markups else None
    return images, mask, markup


def _images(sources: list[tuple[bytes, str]], multipart: bool, max_inputs: int,
            max_image_bytes: int) -> list[InputImage]:
    """The input images, each with the param an error about it names."""
    param = "image" if multipart else "images"
    if len(sources) > max_inputs:
        raise api_error(400, f"Invalid '{param}': array too long. Expected an array with maximum length "
                             f"{max_inputs}, but got an array with length {len(sources)} instead.",
                        param=param, code="array_above_max_length")
    images = []
    for number, (data, where) in enumerate(sources, start=1):
        info = _sniff(data)
        err_param = "image" if multipart else where
        if info is None:
            raise api_error(400, f"Invalid image file or mode for image {number}, please check your image file.",
                            param=err_param, code="invalid_image_file")
        if len(data) >= max_image_bytes:
            raise api_error(400, f"Invalid image file for image {number}: images must be smaller than "
                                 f"{_megabytes(max_image_bytes)}.",
                            param=err_param, code="image_too_large")
        images.append(info)
    return images


def _mask(data: bytes, first: InputImage, max_mask_bytes: int) -> InputImage:
    """The mask must be a PNG with an alpha channel, < 4 MB, the first image's size."""
    mask = _sniff(data)
    if mask is None or mask.format != "PNG" or not mask.has_alpha:
        raise api_error(400, "Invalid mask image: the mask must be a PNG file with an alpha channel.",
                        param="mask", code="invalid_image_file")
    if len(data) >= max_mask_bytes:
        raise api_error(400, f"Invalid mask image: the mask must be smaller than {_megabytes(max_mask_bytes)}.",
                        param="mask", code="image_too_large")
    if (mask.width, mask.height) != (first.width, first.height):
        raise api_error(400, f"Invalid mask image: the mask ({mask.width}x{mask.height}) must have the same "
                             f"dimensions as the first image ({first.width}x{first.height}).",
                        param="mask", code="invalid_value")
    return mask


def _markup(data: bytes, first: InputImage, max_image_bytes: int) -> InputImage:
    """A transparent PNG overlaid on the first image: the first image's dimensions after orientation, and some
    transparent pixels (openai-python image_edit_params.markup)."""
    markup = _sniff(data)
    if markup is None or markup.format != "PNG":
        raise api_error(400, "Invalid markup image: the markup must be a PNG file.", param="markup",
                        code="invalid_image_file")
    if len(data) >= max_image_bytes:
        raise api_error(400, "Invalid markup image: the markup must be smaller than "
                             f"{_megabytes(max_image_bytes)}.", param="markup", code="image_too_large")
    if (markup.width, markup.height) != first.oriented:
        raise api_error(400, f"Invalid markup image: the markup ({markup.width}x{markup.height}) must have the "
                             f"same dimensions as the first image ({first.oriented[0]}x{first.oriented[1]}).",
                        param="markup", code="invalid_value")
    if not _has_transparent_pixels(data):
        raise api_error(400, "Invalid markup image: the markup must contain transparent pixels.", param="markup",
                        code="invalid_value")
    return markup


def _has_transparent_pixels(data: bytes) -> bool:
    with Image.open(io.BytesIO(data)) as image:
        if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
            return False
        return bool(image.convert("RGBA").getchannel("A").getextrema()[0] == 0)


def _megabytes(limit: int) -> str:
    return f"{limit // MB} MB" if limit % MB == 0 else f"{limit:,} bytes"


def _image_ref(ref: Any, where: str) -> bytes:
    """Decode one ImageRefParam (the schema has checked its shape: exactly one of image_url / file_id)."""
    if "file_id" in ref:  # Stand-in limit: there is no Files API here.
        raise api_error(400, "The stand-in does not emulate the Files API; send the image as a base64 data URL.",
                        param=f"{where}.file_id", code="invalid_value")
    url = ref["image_url"]
    match = _DATA_URL_RE.match(url)
    if not match:  # Stand-in limit: remote URLs cannot be fetched on a loopback-only machine.
        raise api_error(400, "The stand-in cannot fetch remote image URLs; send a base64 data URL "
                             "(data:image/png;base64,...).", param=f"{where}.image_url", code="invalid_value")
    try:
        return base64.b64decode(url[match.end():], validate=True)
    except (binascii.Error, ValueError):
        raise api_error(400, f"Invalid '{where}.image_url': the data URL is not valid base64.",
                        param=f"{where}.image_url", code="invalid_value") from None


def _sniff(data: bytes) -> InputImage | None:
    """Identify an image by its bytes (magic numbers; the declared type is ignored), then let Pillow
    confirm the header. None if it is not a readable PNG, JPEG or WEBP."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        expected = "PNG"
    elif data.startswith(b"\xff\xd8\xff"):
        expected = "JPEG"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        expected = "WEBP"
    else:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != expected:
                return None
            has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
            turned = image.getexif().get(0x0112) in (5, 6, 7, 8)  # EXIF orientations that swap the edges
            oriented = (image.height, image.width) if turned else (image.width, image.height)
            return InputImage(data, expected, image.width, image.height, has_alpha, oriented)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None
