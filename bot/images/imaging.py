"""Pure image code: bytes in, bytes out, Pillow only.

Everything users upload goes through `prepare_input_with_note` (or its older face `prepare_input`), with
Pillow's decompression-bomb protection on and a stricter pixel cap read from the header. The edit endpoint
takes PNG, WEBP or JPEG files under 50 MB (https://platform.openai.com/docs/api-reference/images/createEdit) and
answers "Invalid image file or mode" for anything else, so an upload passes through byte-identical only when it
is a single-frame PNG, JPEG or WEBP in a mode every decoder takes (8-bit RGB, RGBA, L or LA) and needs no EXIF
rotation. Anything else Pillow can read (from a short list of formats) is converted, and the caller gets a sentence
saying what was done. HEIC, AVIF, PDF and SVG are recognised and refused by name.

Images the API returns are never re-encoded (they carry C2PA provenance); `inspect` only reads their header
(an animated GIF's frames are counted; an SVG is parsed as XML: no entities, no DOCTYPE but SVG's own standard
one, nothing external).
Slack draws no SVG, so `svg_preview` renders one to a separate PNG with resvg; the SVG itself stays as it came.
What uploads are held to is in bot/images/formats.py, the conversions in bot/images/conversion.py, the safe reading
of SVG documents in bot/images/svg.py. These functions are CPU work: call them off the event loop.
"""

from __future__ import annotations

import io
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import resvg_py
from PIL import ExifTags, Image

from bot.errors import AttachmentError
from bot.images.conversion import convert, with_suffix
from bot.images.formats import (
    ACCEPTED_TEXT,
    API_FORMATS,
    DECODE_ERRORS,
    MAX_INPUT_BYTES,
    MAX_PIXELS,
    OPEN_FORMATS,
    PASS_MODES,
    png_bit_depth,
)
from bot.images.svg import drop_outside_references, parse_svg, svg_size
from bot.models import InputImage

# ISO-BMFF brands (the `ftyp` box that starts HEIF, AVIF, MP4 and QuickTime files).
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1",
                          b"msf1", b"mif2", b"heif"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2", b"heif"})  # used by HEIC and AVIF files alike


@dataclass(frozen=True)
class ImageInfo:
    format: str  # lower-case Pillow format name: png, jpeg, webp, gif…; "svg" for an SVG document
    width: int
    height: int
    mode: str  # Pillow's mode; "RGBA" for an SVG (what it renders to)
    frames: int = 1  # an animated GIF (or WEBP, APNG) has several


def inspect(data: bytes) -> ImageInfo:
    """Read format, size and frame count from the header (an SVG: from its root's width, height and viewBox).
    Raises AttachmentError for anything that is not an image, and for an SVG with entities or a DOCTYPE other than
    SVG's own standard one."""
    if _is_markup(data):
        width, height = svg_size(parse_svg(data))
        return ImageInfo(format="svg", width=width, height=height, mode="RGBA")
    try:
        with Image.open(io.BytesIO(data)) as image:
            # n_frames walks the frame headers without decoding their pixels (a GIF's are counted this way).
            frames = int(getattr(image, "n_frames", 1) or 1)
            return ImageInfo(format=(image.format or "").lower(), width=image.width, height=image.height,
                             mode=image.mode, frames=frames)
    except (*DECODE_ERRORS, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AttachmentError(f"That file is not an image I can read. Send {ACCEPTED_TEXT}.") from exc


def svg_preview(data: bytes, *, max_edge: int = 2048) -> bytes:
    """A PNG rendering of the SVG in `data`, its long edge at most `max_edge` (smaller SVGs at their own size).

    The SVG is checked as `inspect` checks it (an `<svg>` root, no entities), and every reference
    that is not a fragment (`#id`) or an inlined raster picture is dropped first, so no file or address the
    document names is read (resvg still loads the system fonts to draw text). Raises AttachmentError for anything
    that cannot be rendered."""
    if max_edge < 1:
        raise ValueError("max_edge must be at least 1")
    root = parse_svg(data)
    width, height = svg_size(root)
    drop_outside_references(root)
    scale = min(1.0, max_edge / max(width, height))
    # With both given, resvg fits the drawing inside the box keeping its aspect ratio: never larger than asked,
    # even if resvg reads the document's size differently from _svg_size.
    width_px = max(1, min(max_edge, math.ceil(width * scale)))
    height_px = max(1, min(max_edge, math.ceil(height * scale)))
    try:
        text = ET.tostring(root, encoding="unicode")
        # No resources_dir: relative references have nothing to resolve against (and none are left anyway).
        return resvg_py.svg_to_bytes(svg_string=text, width=width_px, height=height_px)
    except (ValueError, RecursionError) as exc:  # RecursionError: elements nested beyond what can be written
        raise AttachmentError(f"That SVG cannot be drawn ({exc}). Send {ACCEPTED_TEXT}.") from exc



def _head(data: bytes) -> bytes:
    """The first kilobyte without a UTF-8 byte-order mark or leading white space: where a text format shows."""
    return data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")


def _is_markup(data: bytes) -> bool:
    """True when `data` starts like an XML document (no raster format starts with '<')."""
    return _head(data).startswith(b"<")



def prepare_input(data: bytes, name: str = "image") -> tuple[InputImage, bool]:
    """`prepare_input_with_note`, answering only whether the upload was changed."""
    image, note = prepare_input_with_note(data, name)
    return image, note is not None


def prepare_input_with_note(data: bytes, name: str = "image") -> tuple[InputImage, str | None]:
    """Check an uploaded file and make it something the image API accepts.

    Returns the input and None when the bytes pass through untouched: a single-frame PNG, JPEG or WEBP,
    8-bit RGB, RGBA, L or LA, with no EXIF rotation to apply (decoded in full first, so a truncated file is
    refused here and not by the API). Otherwise the note is a short lower-case clause for the user, such as
    "converted from CMYK JPEG to PNG" or "used the first frame of an animated GIF; converted to PNG", and the
    image was re-encoded: as PNG (RGB, or RGBA when it has any transparency), except that a JPEG only in need
    of rotation (or a multi-picture JPEG's main picture) stays JPEG, and an opaque image whose PNG would be
    over 50 MB becomes a JPEG. Raises AttachmentError, naming what is accepted, for everything else.
    """
    label = name or "That file"
    if not data:
        raise AttachmentError(f"{label} is empty (0 bytes). Send {ACCEPTED_TEXT}.", filename=name)
    if len(data) > MAX_INPUT_BYTES:
        raise AttachmentError(f"{label} is {len(data) / 1e6:.0f} MB; the limit is 50 MB. Send {ACCEPTED_TEXT}.",
                              filename=name)
    _refuse_known_formats(data, name, label)
    try:
        # Pillow's own decompression-bomb check stays on (open() warns past Image.MAX_IMAGE_PIXELS and refuses
        # past twice that); the stricter cap below is checked from the header, before any pixel is decoded.
        with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as image:
            if image.width * image.height > MAX_PIXELS:
                raise AttachmentError(
                    f"{label} is {image.width}x{image.height}: too large to open safely "
                    f"(over {MAX_PIXELS:,} pixels). Send {ACCEPTED_TEXT}.", filename=name)
            fmt = (image.format or "").upper()
            several = bool(getattr(image, "is_animated", False))  # GIF, APNG, WEBP, multi-page TIFF, MPO
            if several:
                image.seek(0)
            image.load()  # decodes every pixel of the first frame: a damaged file fails here, not at the API
            orientation = _orientation(image)
            depth = png_bit_depth(data) if fmt == "PNG" else 8
            if fmt in API_FORMATS and not several and image.mode in PASS_MODES and depth == 8 and not orientation:
                return InputImage(data=data, format=API_FORMATS[fmt], width=image.width, height=image.height,
                                  name=with_suffix(name, API_FORMATS[fmt])), None
            return convert(image, fmt, several=several, orientation=orientation, depth=depth, name=name,
                           label=label)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning only arrives as an exception when warnings are errors (tests); otherwise the cap above
        # refuses the same image a moment later.
        raise AttachmentError(f"{label} is too large to open safely (over {MAX_PIXELS:,} pixels). "
                              f"Send {ACCEPTED_TEXT}.", filename=name) from exc
    except AttachmentError:
        raise
    except DECODE_ERRORS as exc:
        raise AttachmentError(f"{label} is not an image I can read (or it is damaged). Send {ACCEPTED_TEXT}.",
                              filename=name) from exc


def _refuse_known_formats(data: bytes, name: str, label: str) -> None:
    """Refuse, by name, files people often send that Pillow here cannot (or should not) read."""
    if data[4:8] == b"ftyp":
        brands = _iso_brands(data)
        major, listed = brands[0], set(brands)
        if major in _AVIF_BRANDS or (major in _GENERIC_HEIF_BRANDS and _AVIF_BRANDS & listed):
            raise AttachmentError(f"{label} is an AVIF image, and AVIF images can't be used: export it as PNG, "
                                  f"JPEG or WEBP. I accept {ACCEPTED_TEXT}.", filename=name)
        if _HEIF_BRANDS & listed:
            raise AttachmentError(f"{label} is a HEIC photo, and HEIC photos can't be used: export it as JPEG or "
                                  "PNG (an iPhone takes JPEG photos with Settings > Camera > Formats > Most "
                                  f"Compatible). I accept {ACCEPTED_TEXT}.", filename=name)
        raise AttachmentError(f"{label} is a video or other media file, not an image. Send {ACCEPTED_TEXT}.",
                              filename=name)
    head = _head(data).lower()
    if head.startswith(b"%pdf-"):
        raise AttachmentError(f"{label} is a PDF, and PDFs can't be used: export the page as PNG or JPEG. "
                              f"Send {ACCEPTED_TEXT}.", filename=name)
    if head.startswith((b"<svg", b"<!doctype svg")) or (head.startswith((b"<?xml", b"<!--")) and b"<svg" in head):
        raise AttachmentError(f"{label} is an SVG drawing, and SVGs can't be used: export it as PNG. "
                              f"Send {ACCEPTED_TEXT}.", filename=name)


def _iso_brands(data: bytes) -> list[bytes]:
    """The major brand, then the compatible brands, of a leading `ftyp` box."""
    size = int.from_bytes(data[:4], "big")
    end = min(len(data), size if 16 <= size <= 4096 else 64)
    brands = [data[8:12]]
    brands.extend(data[offset:offset + 4] for offset in range(16, end - 3, 4))
    return [brand.lower() for brand in brands]


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation when it asks for a rotation or flip (2–8), else None."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation)
    except Exception:  # a broken EXIF block must not refuse an otherwise good image
        return None
    return value if isinstance(value, int) and 2 <= value <= 8 else None

