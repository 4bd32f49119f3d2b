"""Masks and markup for edits: the mask that tells the edit endpoint where the image may change, and the checks an
attached mask or markup is held to.

The edit endpoint takes a mask that is a PNG with an alpha channel, the size of the first image, under 4 MB, fully
transparent (alpha 0) where the image may change (https://platform.openai.com/docs/api-reference/images/createEdit).
`build_mask` makes one from a region (bot/images/regions.py); `check_user_mask` holds a mask a user attached to the
same rules. The GUIDE warns that GPT Image treats the mask as a hint: the model may change a little outside it.

Pure functions, bytes in and bytes out, Pillow only; CPU work: call them off the event loop.
"""

from __future__ import annotations

import io

from PIL import Image

from bot.errors import AttachmentError
from bot.images.formats import DECODE_ERRORS, MAX_PIXELS, OPEN_FORMATS, band_range, clean_png, png_bit_depth
from bot.images.regions import Region

# "< 4 MB" (the edits reference): counted in decimal megabytes, the stricter reading, so no mask we send is refused
# for size.
MAX_MASK_BYTES = 4_000_000
MASK_RULES = "a PNG with an alpha channel, the same size as the image, under 4 MB, fully transparent where " \
             "the image should change"



def build_mask(region: Region, width: int, height: int) -> bytes:
    """An RGBA PNG of width × height: opaque everywhere, fully transparent (alpha 0) inside `region`."""
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise ValueError(f"no mask for a {width}×{height} image")
    left, top, right, bottom = region.pixel_box(width, height)
    if right <= left or bottom <= top:
        raise ValueError(f"{region.name} covers no pixel of a {width}×{height} image")
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (left, top, right, bottom))
    # Two values in large runs: even 3840×2160 encodes to a few tens of KB, far under the 4 MB limit.
    return clean_png(mask)


def is_mask_name(filename: str | None) -> bool:
    """Whether an attachment is meant as a mask: its name starts with "mask" and ends ".png" (any case)."""
    name = (filename or "").strip().lower()
    return name.startswith("mask") and name.endswith(".png")


def check_user_mask(mask_bytes: bytes, width: int, height: int, name: str = "mask.png") -> bytes:
    """Hold an attached mask to the API's rules for a width × height image; return PNG bytes it accepts.

    An 8-bit RGBA PNG passes through byte-identical. LA, a palette or grey/RGB with a transparent colour
    (tRNS), 16-bit and animated PNGs are re-encoded as an 8-bit RGBA PNG of their first frame. Raises
    AttachmentError saying what is wrong and what is needed: not a PNG, unreadable, over 4 MB, the wrong
    size, no alpha channel, or no fully transparent pixel (the edit could change nothing).
    """
    label = name or "The mask"
    if not mask_bytes:
        raise AttachmentError(f"{label} is empty (0 bytes). A mask must be {MASK_RULES}.", filename=name)
    if len(mask_bytes) >= MAX_MASK_BYTES:
        raise AttachmentError(f"{label} is {len(mask_bytes) / 1e6:.1f} MB; a mask must be under 4 MB. Only its "
                              "transparency matters: save it with fewer colours.", filename=name)
    try:
        with Image.open(io.BytesIO(mask_bytes), formats=OPEN_FORMATS) as image:
            fmt = (image.format or "").upper()
            if fmt != "PNG":
                shown = "JPEG" if fmt == "MPO" else fmt
                raise AttachmentError(f"{label} is a {shown}; a mask must be {MASK_RULES}.", filename=name)
            if image.size != (width, height):  # checked from the header, before any pixel is decoded
                raise AttachmentError(f"{label} is {image.width}×{image.height}; it must be the same size as the "
                                      f"image, {width}×{height}.", filename=name)
            animated = bool(getattr(image, "is_animated", False))
            if animated:
                image.seek(0)
            image.load()
            mode = image.mode
            if mode not in ("RGBA", "LA", "PA") and image.info.get("transparency") is None:
                raise AttachmentError(f"{label} has no alpha channel ({mode} PNG): save it as a PNG with "
                                      "transparency, fully transparent where the image should change.",
                                      filename=name)
            rgba = image.copy() if mode == "RGBA" else image.convert("RGBA")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AttachmentError(f"{label} is too large to open safely. A mask must be {MASK_RULES}.",
                              filename=name) from exc
    except AttachmentError:
        raise
    except DECODE_ERRORS as exc:
        raise AttachmentError(f"{label} is not an image I can read (or it is damaged). A mask must be "
                              f"{MASK_RULES}.", filename=name) from exc
    lowest = band_range(rgba.getchannel("A"))[0]
    if lowest == 255:
        raise AttachmentError(f"{label} has no transparency: make the area to change fully transparent.",
                              filename=name)
    if lowest > 0:
        raise AttachmentError(f"{label} is only partly transparent (lowest alpha {lowest} of 255): make the area "
                              "to change fully transparent (alpha 0).", filename=name)
    if mode == "RGBA" and not animated and png_bit_depth(mask_bytes) == 8:
        return mask_bytes
    output = clean_png(rgba)
    if len(output) >= MAX_MASK_BYTES:
        raise AttachmentError(f"{label} would be {len(output) / 1e6:.1f} MB once converted to RGBA; a mask must "
                              "be under 4 MB. Save it as an RGBA PNG with fewer colours.", filename=name)
    return output


def is_markup_name(filename: str | None) -> bool:
    """Whether an attachment is meant as markup: its name starts with "markup" and ends ".png" (any case)."""
    name = (filename or "").strip().lower()
    return name.startswith("markup") and name.endswith(".png")


def check_markup(data: bytes, width: int, height: int, name: str = "markup.png") -> bytes:
    """Hold an attached markup (marks drawn on a transparent PNG the size of the image: arrows, circles, notes)
    to the API's rules; returns it byte-identical, since the API reads it as it is. Raises AttachmentError."""
    rules = f"a PNG the size of the image ({width}×{height}), transparent except for the marks"
    try:
        with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as image:
            if (image.format or "").upper() != "PNG":
                raise AttachmentError(f"{name} is not a PNG; markup must be {rules}.", filename=name)
            if image.size != (width, height):  # from the header, before any pixel is decoded
                raise AttachmentError(f"{name} is {image.width}×{image.height}; markup must be {rules}.",
                                      filename=name)
            image.load()
            alpha = image.getchannel("A") if "A" in image.getbands() else None
            if alpha is None and image.info.get("transparency") is not None:
                alpha = image.convert("RGBA").getchannel("A")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AttachmentError(f"{name} is too large to open safely; markup must be {rules}.", filename=name) from exc
    except AttachmentError:
        raise
    except DECODE_ERRORS as exc:
        raise AttachmentError(f"{name} is not an image I can read; markup must be {rules}.", filename=name) from exc
    if alpha is None or band_range(alpha)[0] == 255:
        raise AttachmentError(f"{name} has no transparent pixels: markup must be {rules}, so the picture shows "
                              "through.", filename=name)
    return data

