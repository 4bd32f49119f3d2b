"""Converting an upload the image API would refuse into one it takes, and the note that tells the user what was done.

The new image is a PNG (RGB, or RGBA when it has any transparency), except that a JPEG only in need of rotation (or
a multi-picture JPEG's main picture) stays JPEG, and an opaque image whose PNG would be over 50 MB becomes a JPEG.
Deep greys are scaled to 8 bits, not clipped; an RGB ICC profile is kept, EXIF never is.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from bot.errors import AttachmentError
from bot.images.formats import ACCEPTED_TEXT, API_FORMATS, MAX_INPUT_BYTES, PASS_MODES, band_range
from bot.models import InputImage

_RGB_FAMILY = frozenset({"RGB", "RGBA", "RGBX", "RGBa", "P", "PA"})  # an embedded ICC profile still fits
_SIXTEEN_BIT = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_MODE_WORDS = {"CMYK": "CMYK", "YCbCr": "YCbCr", "LAB": "Lab", "HSV": "HSV", "P": "palette", "PA": "palette",
               "1": "1-bit", "I": "32-bit", "F": "floating-point", **{m: "16-bit" for m in _SIXTEEN_BIT}}
_FORMAT_WORDS = {"MPO": "JPEG"}
JPEG_QUALITY = 95


def convert(image: Image.Image, fmt: str, *, several: bool, orientation: int | None, depth: int, name: str,
            label: str) -> tuple[InputImage, str]:
    """`image` (of format `fmt`, read from an upload named `name`) re-encoded for the image API, and the note."""
    source_mode = image.mode
    frame: Image.Image = image
    if orientation:
        frame = ImageOps.exif_transpose(image)
    icc = image.info.get("icc_profile") if source_mode in _RGB_FAMILY else None
    plain = not several or fmt == "MPO"
    if fmt in ("JPEG", "MPO") and source_mode in ("RGB", "L") and plain:
        # Only a rotation, or a multi-picture JPEG's main picture: a photo stays a JPEG.
        output, out_format = _encode(frame, "JPEG", icc), "jpeg"
    elif fmt in API_FORMATS and not several and source_mode in PASS_MODES and depth == 8:
        # Only a rotation of a PNG or WEBP: same mode, as PNG.
        output, out_format = _encode(frame, "PNG", icc), "png"
    else:
        try:
            frame = _to_rgb(frame)
        except ValueError as exc:
            raise AttachmentError(f"{label} uses a colour mode I can't convert ({source_mode}). "
                                  f"Send {ACCEPTED_TEXT}.", filename=name) from exc
        output, out_format = _encode(frame, "PNG", icc), "png"
    if len(output) > MAX_INPUT_BYTES and frame.mode in ("RGB", "L"):
        output, out_format = _encode(frame, "JPEG", icc), "jpeg"
    if len(output) > MAX_INPUT_BYTES:
        raise AttachmentError(f"{label} would be over 50 MB once converted for the image API. "
                              f"Send {ACCEPTED_TEXT}.", filename=name)
    note = _note(fmt, source_mode, frame.mode, out_format, several=several, rotated=bool(orientation), depth=depth)
    return InputImage(data=output, format=out_format, width=frame.width, height=frame.height,
                      name=with_suffix(name, out_format)), note


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when any pixel is less than opaque; deep greys are scaled down to 8 bits, not clipped."""
    mode = image.mode
    transparent = image.info.get("transparency") is not None
    if mode in _SIXTEEN_BIT or mode in ("I", "F"):
        transparent = False  # a 16-bit tRNS value means nothing once scaled to 8 bits (and is very rare)
    if mode in _SIXTEEN_BIT:
        image = image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    elif mode in ("I", "F"):
        low, high = band_range(image)
        if mode == "F" and low >= 0 and high <= 1:
            scale, offset = 255.0, 0.0  # floating-point images in 0–1
        elif low >= 0 and high <= 255:
            scale, offset = 1.0, 0.0
        else:
            low = min(low, 0)
            scale = 255 / ((high - low) or 1)
            offset = -low * scale
        image = image.point(lambda v: v * scale + offset).convert("L")
    elif mode == "RGBa":
        image = image.convert("RGBA")
    elif mode == "La":
        image = image.convert("LA")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (transparent and image.mode in ("1", "L", "P", "RGB"))
    if has_alpha:
        rgba = image.convert("RGBA")
        if band_range(rgba.getchannel("A"))[0] < 255:
            return rgba
        return rgba.convert("RGB")
    return image.convert("RGB")


def _encode(image: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    out = io.BytesIO()
    params: dict[str, object] = {"icc_profile": icc}  # given even when None, so the source's info is not used
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        params["quality"] = JPEG_QUALITY
    clean = image.copy()
    clean.info = {}  # no EXIF (its orientation is applied; its GPS is the user's business), no stale tRNS
    clean.save(out, format=fmt, **params)
    return out.getvalue()


def _note(fmt: str, source_mode: str, out_mode: str, out_format: str, *, several: bool, rotated: bool,
          depth: int) -> str:
    shown = _FORMAT_WORDS.get(fmt, fmt)
    target = out_format.upper()
    parts = []
    if several:
        if fmt == "MPO":
            parts.append("used the main picture of a multi-picture JPEG")
        elif fmt == "TIFF":
            parts.append("used the first page of a multi-page TIFF")
        else:
            parts.append(f"used the first frame of an animated {shown}")
    if rotated:
        parts.append("rotated per its EXIF orientation")
    word = "" if fmt == "GIF" else _MODE_WORDS.get(source_mode) or (f"{depth}-bit" if depth != 8 else "")
    described = f"{word} {shown}".strip()
    if shown == target:
        if word:
            deep = word[0].isdigit() and int(word.split("-")[0]) > 8
            parts.append(f"converted from {described} to {'8-bit' if deep else out_mode} {target}")
        elif not rotated and not several:
            parts.append(f"converted to {out_mode} {target}")
    elif several and not word:
        parts.append(f"converted to {target}")
    else:
        parts.append(f"converted from {described} to {target}")
    return "; ".join(parts)


def with_suffix(name: str, fmt: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem or 'image'}.{'jpg' if fmt == 'jpeg' else fmt}"
