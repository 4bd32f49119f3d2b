"""What uploads are held to: the formats and sizes the image API accepts, the decoders an upload is offered to, the
pixel cap that stops decompression bombs, and the errors a malformed file can make Pillow raise.

Shared by the upload checks (bot/images/imaging.py) and the mask checks (bot/images/masks.py), not copied, so a new
way for Pillow to fail is caught in every place.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, UnidentifiedImageError

# The image API takes PNG, WEBP and JPEG inputs under 50 MB each (https://platform.openai.com/docs/api-reference/images/createEdit).
API_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
MAX_INPUT_BYTES = 50 * 1024 * 1024
# 64 MP is far beyond any image the API makes (3840x2160 = 8.3 MP) and stops decompression bombs early.
MAX_PIXELS = 64_000_000
ACCEPTED_TEXT = "PNG, JPEG or WEBP under 50 MB and 64 megapixels (GIF, BMP and TIFF are converted to PNG)"

# The only decoders an upload is offered to. Pillow knows many more (EPS runs Ghostscript; TGA and others
# have no magic number and would "recognise" random bytes); users get a clear refusal instead.
OPEN_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF")  # JPEG also opens multi-picture (MPO) files
# Modes that pass through untouched (with 8 bits per channel; see png_bit_depth).
PASS_MODES = frozenset({"RGB", "RGBA", "L", "LA"})

# What a malformed file can make Pillow's decoders raise; each becomes "not an image I can read".
DECODE_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError,
                 KeyError, TypeError, ZeroDivisionError)


def png_bit_depth(data: bytes) -> int:
    """Bits per sample from a PNG's IHDR (Pillow reads 16-bit RGB or RGBA as plain "RGB" or "RGBA", hiding it)."""
    return data[24] if data[12:16] == b"IHDR" and len(data) > 25 else 8


def band_range(band: Image.Image) -> tuple[float, float]:
    """The lowest and highest value of a one-band image (an alpha channel, a grey or 32-bit picture). Raises
    ValueError for an image of several bands."""
    low, high = band.getextrema()
    if isinstance(low, tuple) or isinstance(high, tuple):
        raise ValueError(f"a {band.mode} image has several bands")
    return low, high


def clean_png(image: Image.Image) -> bytes:
    """`image` as a PNG with none of its source's metadata: no stale tRNS, EXIF or text."""
    out = io.BytesIO()
    clean = image.copy()
    clean.info = {}
    clean.save(out, format="PNG")
    return out.getvalue()
