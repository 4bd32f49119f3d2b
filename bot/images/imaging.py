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
These functions are CPU work: call them off the event loop.
"""

from __future__ import annotations

import io
import math
import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.parsers import expat

import resvg_py
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from bot.errors import AttachmentError
from bot.models import InputImage

# The image API takes PNG, WEBP and JPEG inputs under 50 MB each (https://platform.openai.com/docs/api-reference/images/createEdit).
API_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
MAX_INPUT_BYTES = 50 * 1024 * 1024
# 64 MP is far beyond any image the API makes (3840x2160 = 8.3 MP) and stops decompression bombs early.
MAX_PIXELS = 64_000_000
ACCEPTED_TEXT = "PNG, JPEG or WEBP under 50 MB and 64 megapixels (GIF, BMP and TIFF are converted to PNG)"

# The only decoders an upload is offered to. Pillow knows many more (EPS runs Ghostscript; TGA and others
# have no magic number and would "recognise" random bytes); users get a clear refusal instead.
OPEN_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG also opens multi-picture (MPO) files
# Modes that pass through untouched (with 8 bits per channel; see _png_bit_depth).
PASS_MODES = frozenset({"RGB", "RGBA", "L", "LA"})
_RGB_FAMILY = frozenset({"RGB", "RGBA", "RGBX", "RGBa", "P", "PA"})  # an embedded ICC profile still fits
_SIXTEEN_BIT = frozenset({"I;16", "I;16B", "I;16L", "I;16N"})
_MODE_WORDS = {"CMYK": "CMYK", "YCbCr": "YCbCr", "LAB": "Lab", "HSV": "HSV", "P": "palette", "PA": "palette",
               "1": "1-bit", "I": "32-bit", "F": "floating-point", **{m: "16-bit" for m in _SIXTEEN_BIT}}
_FORMAT_WORDS = {"MPO": "JPEG"}
JPEG_QUALITY = 95

# ISO-BMFF brands (the `ftyp` box that starts HEIF, AVIF, MP4 and QuickTime files).
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1",
                          b"msf1", b"mif2", b"heif"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2", b"heif"})  # used by HEIC and AVIF files alike

# What a malformed file can make Pillow's decoders raise; each becomes "not an image I can read".
_DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError,
                  KeyError, TypeError, ZeroDivisionError)


SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# The only references an SVG preview may follow: a fragment of the same document, or a raster picture inlined
# as a data: URI. resvg reads any other href (`<image>`, `<feImage>`) as a local file path (relative ones from
# the working directory), so every other reference is dropped before rendering.
_INLINE_PICTURE = re.compile(r"data:image/(png|jpeg|jpg|gif|webp)[;,]", re.IGNORECASE)
_NUMBER = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z%]*)\s*")
# CSS units at 96 px per inch; an em is resvg's default font size.
_UNITS = {"": 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0,
          "em": 16.0, "ex": 8.0}


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
        width, height = _svg_size(_parse_svg(data))
        return ImageInfo(format="svg", width=width, height=height, mode="RGBA")
    try:
        with Image.open(io.BytesIO(data)) as image:
            # n_frames walks the frame headers without decoding their pixels (a GIF's are counted this way).
            frames = int(getattr(image, "n_frames", 1) or 1)
            return ImageInfo(format=(image.format or "").lower(), width=image.width, height=image.height,
                             mode=image.mode, frames=frames)
    except (*_DECODE_ERRORS, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AttachmentError(f"That file is not an image I can read. Send {ACCEPTED_TEXT}.") from exc


def svg_preview(data: bytes, *, max_edge: int = 2048) -> bytes:
    """A PNG rendering of the SVG in `data`, its long edge at most `max_edge` (smaller SVGs at their own size).

    The SVG is checked as `inspect` checks it (an `<svg>` root, no entities), and every reference
    that is not a fragment (`#id`) or an inlined raster picture is dropped first, so no file or address the
    document names is read (resvg still loads the system fonts to draw text). Raises AttachmentError for anything
    that cannot be rendered."""
    if max_edge < 1:
        raise ValueError("max_edge must be at least 1")
    root = _parse_svg(data)
    width, height = _svg_size(root)
    for element in root.iter():
        for name in ("href", _XLINK_HREF):
            value = element.get(name)
            if value is not None and not _allowed_reference(value):
                del element.attrib[name]
    scale = min(1.0, max_edge / max(width, height))
    # With both given, resvg fits the drawing inside the box keeping its aspect ratio: never larger than asked,
    # even if resvg reads the document's size differently from _svg_size.
    box = {"width": max(1, min(max_edge, math.ceil(width * scale))),
           "height": max(1, min(max_edge, math.ceil(height * scale)))}
    try:
        text = ET.tostring(root, encoding="unicode")
        # No resources_dir: relative references have nothing to resolve against (and none are left anyway).
        return resvg_py.svg_to_bytes(svg_string=text, **box)
    except (ValueError, RecursionError) as exc:  # RecursionError: elements nested beyond what can be written
        raise AttachmentError(f"That SVG cannot be drawn ({exc}). Send {ACCEPTED_TEXT}.") from exc


class _Declaration(Exception):
    """An SVG declared a DOCTYPE or an entity: refused before anything in it is used."""


def _head(data: bytes) -> bytes:
    """The first kilobyte without a UTF-8 byte-order mark or leading white space: where a text format shows."""
    return data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")


def _is_markup(data: bytes) -> bool:
    """True when `data` starts like an XML document (no raster format starts with '<')."""
    return _head(data).startswith(b"<")


def _parse_svg(data: bytes) -> ET.Element:
    """The document's root, parsed with expat directly. Any DOCTYPE refuses the file except the plain
    `<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG …" …>` line SVG editors write, without declarations of its own
    (expat never loads the DTD it names); any entity declaration or external entity reference refuses it too.
    So no entity is ever expanded and nothing outside is read. The root must be an SVG `<svg>` element."""
    if len(data) > MAX_INPUT_BYTES:
        raise AttachmentError(f"That SVG is over 50 MB. Send {ACCEPTED_TEXT}.")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse(*_args: object) -> None:
        raise _Declaration

    def doctype(_name: str, _system: str | None, public: str | None, internal_subset: int) -> None:
        if internal_subset or not (public or "").startswith("-//W3C//DTD SVG "):
            raise _Declaration

    def name(raw: str) -> str:
        return "{" + raw if "}" in raw else raw

    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = lambda tag, attrs: builder.start(name(tag), {name(k): v for k, v in attrs.items()})
    parser.EndElementHandler = lambda tag: builder.end(name(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        root = builder.close()
    except _Declaration as exc:
        raise AttachmentError(f"That SVG has a DOCTYPE or entities, which I do not read. "
                              f"Send {ACCEPTED_TEXT}.") from exc
    except (expat.ExpatError, ValueError) as exc:  # expat refuses a document without a root element
        raise AttachmentError(f"That file is not an image I can read. Send {ACCEPTED_TEXT}.") from exc
    if root.tag != f"{{{SVG_NS}}}svg":
        raise AttachmentError(f"That file is XML but not an SVG drawing. Send {ACCEPTED_TEXT}.")
    return root


def _svg_size(root: ET.Element) -> tuple[int, int]:
    """Width and height in pixels, as resvg reads them: width/height (missing means 100%), percentages of the
    viewBox (or of 100 without one), one missing edge from the viewBox's aspect ratio."""
    view_box = _view_box(root.get("viewBox"))
    width, height = (_length(root.get(edge), view_box[i] if view_box else 100.0)
                     for i, edge in enumerate(("width", "height")))
    if view_box and root.get("width") is None and root.get("height") is not None:
        width = height * view_box[0] / view_box[1]
    elif view_box and root.get("height") is None and root.get("width") is not None:
        height = width * view_box[1] / view_box[0]
    if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0:
        raise AttachmentError(f"That SVG has no size I can read. Send {ACCEPTED_TEXT}.")
    pixels = max(1, int(width + 0.5)), max(1, int(height + 0.5))
    if pixels[0] * pixels[1] > MAX_PIXELS:
        raise AttachmentError(f"That SVG is {pixels[0]}x{pixels[1]}: too large to open safely "
                              f"(over {MAX_PIXELS:,} pixels). Send {ACCEPTED_TEXT}.")
    return pixels


def _length(value: str | None, whole: float) -> float:
    if value is None:
        return whole
    match = _NUMBER.fullmatch(value)
    if match is None or (match[2] != "%" and match[2].lower() not in _UNITS):
        return math.nan
    number = float(match[1])
    return number * whole / 100 if match[2] == "%" else number * _UNITS[match[2].lower()]


def _view_box(value: str | None) -> tuple[float, float] | None:
    """The viewBox's width and height, or None when there is none (or it is not four numbers, or is empty)."""
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.replace(",", " ").split()]
    except ValueError:
        return None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers) or numbers[2] <= 0 or numbers[3] <= 0:
        return None
    return numbers[2], numbers[3]


def _allowed_reference(value: str) -> bool:
    value = value.strip()
    return value.startswith("#") or bool(_INLINE_PICTURE.match(value))


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
            depth = _png_bit_depth(data) if fmt == "PNG" else 8
            if fmt in API_FORMATS and not several and image.mode in PASS_MODES and depth == 8 and not orientation:
                return InputImage(data=data, format=API_FORMATS[fmt], width=image.width, height=image.height,
                                  name=_with_suffix(name, API_FORMATS[fmt])), None
            return _convert(image, fmt, several=several, orientation=orientation, depth=depth, name=name,
                            label=label)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # The warning only arrives as an exception when warnings are errors (tests); otherwise the cap above
        # refuses the same image a moment later.
        raise AttachmentError(f"{label} is too large to open safely (over {MAX_PIXELS:,} pixels). "
                              f"Send {ACCEPTED_TEXT}.", filename=name) from exc
    except AttachmentError:
        raise
    except _DECODE_ERRORS as exc:
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


def _png_bit_depth(data: bytes) -> int:
    """Bits per sample from a PNG's IHDR (Pillow reads 16-bit RGB as plain "RGB", hiding it)."""
    return data[24] if data[12:16] == b"IHDR" and len(data) > 25 else 8


def _orientation(image: Image.Image) -> int | None:
    """The EXIF orientation when it asks for a rotation or flip (2–8), else None."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation)
    except Exception:  # a broken EXIF block must not refuse an otherwise good image
        return None
    return value if isinstance(value, int) and 2 <= value <= 8 else None


def _convert(image: Image.Image, fmt: str, *, several: bool, orientation: int | None, depth: int, name: str,
             label: str) -> tuple[InputImage, str]:
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
                      name=_with_suffix(name, out_format)), note


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, or RGBA when any pixel is less than opaque; deep greys are scaled down to 8 bits, not clipped."""
    mode = image.mode
    transparent = image.info.get("transparency") is not None
    if mode in _SIXTEEN_BIT or mode in ("I", "F"):
        transparent = False  # a 16-bit tRNS value means nothing once scaled to 8 bits (and is very rare)
    if mode in _SIXTEEN_BIT:
        image = image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    elif mode in ("I", "F"):
        low, high = image.getextrema()
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
        if rgba.getextrema()[3][0] < 255:
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


def _with_suffix(name: str, fmt: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem or 'image'}.{'jpg' if fmt == 'jpeg' else fmt}"
