"""Pure image code: bytes in, bytes out, Pillow only.

Everything users upload goes through `prepare_input`, with Pillow's decompression-bomb protection on and
a stricter pixel cap read from the header. Images the API returns are never re-encoded (they carry C2PA
provenance); `inspect` only reads their header. These functions are CPU work: call them off the event loop.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.errors import AttachmentError
from bot.models import InputImage

# The image API takes PNG, WEBP and JPEG inputs under 50 MB each (shared/reference §2a).
API_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
MAX_INPUT_BYTES = 50 * 1024 * 1024
# 64 MP is far beyond any image the API makes (3840x2160 = 8.3 MP) and stops decompression bombs early.
MAX_PIXELS = 64_000_000
ACCEPTED_TEXT = "PNG, JPEG or WEBP (GIF, BMP and TIFF are converted to PNG), under 50 MB"


@dataclass(frozen=True)
class ImageInfo:
    format: str  # lower-case Pillow format name: png, jpeg, webp, gif…
    width: int
    height: int
    mode: str


def inspect(data: bytes) -> ImageInfo:
    """Read format and size from the header. Raises AttachmentError for anything that is not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return ImageInfo(format=(image.format or "").lower(), width=image.width, height=image.height,
                             mode=image.mode)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise AttachmentError(f"That file is not an image I can read. Send {ACCEPTED_TEXT}.") from exc


def prepare_input(data: bytes, name: str = "image") -> tuple[InputImage, bool]:
    """Check an uploaded file and make it something the image API accepts.

    Returns the input and whether it was converted. PNG, JPEG and WEBP pass through untouched (after a full
    decode to catch truncated files); other formats Pillow reads are converted to PNG.
    """
    if len(data) > MAX_INPUT_BYTES:
        raise AttachmentError(f"{name} is {len(data) / 1e6:.0f} MB; the limit is 50 MB. Send {ACCEPTED_TEXT}.",
                              filename=name)
    try:
        # Pillow's own decompression-bomb check stays on (it refuses > 2 × MAX_IMAGE_PIXELS in open());
        # the stricter cap below is checked from the header, before any pixel is decoded.
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise AttachmentError(
                    f"{name} is {image.width}x{image.height}: too large to open safely "
                    f"(over {MAX_PIXELS:,} pixels).", filename=name)
            fmt = (image.format or "").upper()
            image.load()  # decodes every pixel: a truncated or corrupt file fails here, not at the API
            if fmt in API_FORMATS and getattr(image, "n_frames", 1) == 1:
                return InputImage(data=data, format=API_FORMATS[fmt], width=image.width,
                                  height=image.height, name=_with_suffix(name, API_FORMATS[fmt])), False
            converted = _to_png(image)
            return InputImage(data=converted, format="png", width=image.width, height=image.height,
                              name=_with_suffix(name, "png")), True
    except Image.DecompressionBombError as exc:
        raise AttachmentError(f"{name} is too large to open safely (over {MAX_PIXELS:,} pixels).",
                              filename=name) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise AttachmentError(f"{name} is not an image I can read (or it is damaged). Send {ACCEPTED_TEXT}.",
                              filename=name) from exc


def _to_png(image: Image.Image) -> bytes:
    image.seek(0)  # animated images: the first frame
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P", "PA") or "transparency" in image.info else "RGB"
    out = io.BytesIO()
    image.convert(mode).save(out, format="PNG")
    return out.getvalue()


def _with_suffix(name: str, fmt: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return f"{stem or 'image'}.{'jpg' if fmt == 'jpeg' else fmt}"
