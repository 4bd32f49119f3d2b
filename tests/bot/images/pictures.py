"""Pictures for the image tests: small images with distinct pixels, PNGs written by hand, and the checks every
converted upload must pass."""

import io
import struct
import zlib

from PIL import Image

from bot.images.imaging import prepare_input_with_note
from bot.models import InputImage
from tests.slack_views import decoded


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def picture(mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A small image with distinct pixels, so a lossless conversion can be checked pixel by pixel."""
    image = Image.new("RGB", size)
    image.putdata([(x * 6 % 256, y * 8 % 256, (x + y) * 3 % 256) for y in range(size[1]) for x in range(size[0])])
    return image.convert(mode)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature, an IHDR claiming width × height, and IEND: no pixel data at all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def png_raw(width: int, height: int, depth: int, colour_type: int, rows: list[bytes],
            idat: bytes | None = None) -> bytes:
    """A PNG written by hand, for what Pillow cannot save (16-bit RGB, 2-bit grey) and for bombs."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    body = idat if idat is not None else zlib.compress(b"".join(b"\0" + row for row in rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def assert_api_ready(data: bytes, fmt: str) -> Image.Image:
    """The bytes are one still PNG or JPEG, 8 bits a sample, in a mode the API takes; returns it decoded."""
    result = decoded(data)
    assert result.format == fmt.upper()
    assert result.mode in ("RGB", "RGBA", "L", "LA")
    assert getattr(result, "n_frames", 1) == 1
    if fmt == "png":
        assert data[12:16] == b"IHDR" and data[24] == 8  # bit depth
    return result


def converted(data: bytes, name: str = "upload") -> tuple[InputImage, str, Image.Image]:
    image, note = prepare_input_with_note(data, name)
    assert note, "expected a conversion note"
    assert image.data != data
    result = assert_api_ready(image.data, image.format)
    assert result.size == (image.width, image.height)
    return image, note, result


def close(a: Image.Image, b: Image.Image, tolerance: float) -> bool:
    """Same size, and the mean difference per channel within `tolerance` (for JPEG round trips)."""
    a, b = a.convert("RGB"), b.convert("RGB")
    diffs = [abs(x - y) for x, y in zip(a.tobytes(), b.tobytes(), strict=True)]
    return a.size == b.size and sum(diffs) / len(diffs) <= tolerance
