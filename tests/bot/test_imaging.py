"""bot/imaging.py: uploads the API accepts pass through byte-identical; others become PNG; bad files are refused."""

import io
import struct
import zlib

import pytest
from PIL import Image

from bot.errors import AttachmentError
from bot.imaging import MAX_INPUT_BYTES, MAX_PIXELS, inspect, prepare_input


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def picture(mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> Image.Image:
    """A small image with distinct pixels, so a lossless conversion can be checked pixel by pixel."""
    image = Image.new("RGB", size)
    image.putdata([(x * 6 % 256, y * 8 % 256, (x + y) * 3 % 256) for y in range(size[1]) for x in range(size[0])])
    return image.convert(mode)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature, an IHDR claiming width × height, and IEND: no pixel data at all."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def decoded(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        copy = image.copy()
        copy.format = image.format
        return copy


# pass-through ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "expected", "suffix"), [("PNG", "png", "png"), ("JPEG", "jpeg", "jpg"),
                                                         ("WEBP", "webp", "webp")])
def test_api_formats_pass_through_byte_identical(fmt: str, expected: str, suffix: str) -> None:
    data = encode(picture(), fmt)

    image, converted = prepare_input(data, "upload.bin")

    assert converted is False
    assert image.data == data
    assert (image.format, image.width, image.height) == (expected, 40, 30)
    assert image.name == f"upload.{suffix}"


def test_rgba_png_passes_through_with_its_alpha() -> None:
    data = encode(picture("RGBA"), "PNG")

    image, converted = prepare_input(data, "logo.png")

    assert (converted, image.data, image.name) == (False, data, "logo.png")


def test_palette_png_passes_through_because_it_is_png() -> None:
    data = encode(picture("P"), "PNG")

    image, converted = prepare_input(data, "palette.png")

    assert converted is False
    assert image.data == data
    assert image.format == "png"


def test_cmyk_jpeg_passes_through_as_jpeg() -> None:
    data = encode(picture("CMYK"), "JPEG")

    image, converted = prepare_input(data, "print.jpeg")

    assert converted is False
    assert image.data == data
    assert (image.format, image.name) == ("jpeg", "print.jpg")


# conversion to PNG ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "mode"), [("BMP", "RGB"), ("TIFF", "RGB"), ("TIFF", "CMYK"), ("BMP", "1"),
                                           ("TIFF", "L"), ("GIF", "P")])
def test_other_formats_are_converted_to_png(fmt: str, mode: str) -> None:
    source = picture(mode)
    data = encode(source, fmt)

    image, converted = prepare_input(data, "scan.bmp")

    assert converted is True
    assert image.format == "png"
    assert image.name == "scan.png"
    assert image.data != data
    result = decoded(image.data)
    assert result.format == "PNG"
    assert result.size == (image.width, image.height) == (40, 30)
    assert result.mode == ("RGBA" if mode == "P" else "RGB")
    assert result.convert("RGB").tobytes() == decoded(data).convert("RGB").tobytes()


def test_gif_with_transparency_becomes_rgba_png_keeping_it_transparent() -> None:
    source = Image.new("P", (8, 8), 0)
    source.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    source.paste(1, (4, 0, 8, 8))
    data = encode(source, "GIF", transparency=0)

    image, converted = prepare_input(data, "sticker.gif")

    result = decoded(image.data)
    assert converted is True
    assert result.mode == "RGBA"
    assert result.getpixel((0, 0))[3] == 0
    assert result.getpixel((7, 7)) == (0, 0, 255, 255)


def test_animated_gif_becomes_a_png_of_its_first_frame() -> None:
    frames = [Image.new("RGB", (16, 12), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    image, converted = prepare_input(out.getvalue(), "party.gif")

    result = decoded(image.data)
    assert converted is True
    assert getattr(result, "n_frames", 1) == 1
    assert result.size == (16, 12)
    assert result.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_api_format_is_converted_to_a_still_png(fmt: str) -> None:
    frames = [Image.new("RGB", (16, 12), color) for color in ((255, 0, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:], duration=100, lossless=True)

    image, converted = prepare_input(out.getvalue(), "anim.png")

    assert converted is True
    assert image.format == "png"
    assert decoded(image.data).convert("RGB").getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(("name", "expected"), [("", "image.png"), (".gif", "image.png"), ("a.b.gif", "a.b.png"),
                                                ("noext", "noext.png")])
def test_converted_names_get_a_png_suffix(name: str, expected: str) -> None:
    image, _ = prepare_input(encode(picture(), "BMP"), name)

    assert image.name == expected


# refusals -------------------------------------------------------------------------------------------------


def test_text_is_not_an_image() -> None:
    with pytest.raises(AttachmentError) as caught:
        prepare_input(b"hello, this is not a picture\n" * 10, "notes.txt")

    assert caught.value.filename == "notes.txt"
    assert "PNG, JPEG or WEBP" in str(caught.value)


def test_empty_file_is_not_an_image() -> None:
    with pytest.raises(AttachmentError):
        prepare_input(b"", "empty.png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_is_refused(fmt: str) -> None:
    data = encode(picture(size=(200, 200)), fmt)

    with pytest.raises(AttachmentError) as caught:
        prepare_input(data[: len(data) // 2], "cut.png")

    assert "damaged" in str(caught.value)


def test_file_over_50_mb_is_refused_before_decoding() -> None:
    data = encode(picture(), "PNG") + b"\0" * (51 * 1024 * 1024)
    assert len(data) > MAX_INPUT_BYTES

    with pytest.raises(AttachmentError) as caught:
        prepare_input(data, "huge.png")

    assert "50 MB" in str(caught.value)
    assert caught.value.filename == "huge.png"


def test_file_of_exactly_50_mb_is_not_refused_for_its_size() -> None:
    data = encode(picture(), "PNG")
    padded = data + b"\0" * (MAX_INPUT_BYTES - len(data))

    image, converted = prepare_input(padded, "big.png")

    assert (converted, len(image.data)) == (False, MAX_INPUT_BYTES)


def test_header_claiming_over_64_megapixels_is_refused_from_the_header() -> None:
    data = png_header_only(9000, 9000)  # 81 MP, and no pixel data to decode
    assert MAX_PIXELS < 9000 * 9000

    with pytest.raises(AttachmentError) as caught:
        prepare_input(data, "bomb.png")

    assert "9000x9000" in str(caught.value)
    assert "64,000,000 pixels" in str(caught.value)


def test_real_81_megapixel_png_is_refused() -> None:
    data = encode(Image.new("1", (9000, 9000)), "PNG")

    with pytest.raises(AttachmentError) as caught:
        prepare_input(data, "bomb.png")

    assert "too large" in str(caught.value)


def test_decompression_bomb_beyond_pillows_own_limit_is_refused() -> None:
    with pytest.raises(AttachmentError) as caught:
        prepare_input(png_header_only(20_000, 20_000), "bomb.png")

    assert "too large" in str(caught.value)


def test_image_just_under_the_pixel_cap_is_not_refused_for_its_size() -> None:
    # 8000 x 8000 = 64,000,000 exactly: allowed by the cap, so it gets as far as decoding the (absent) pixels.
    with pytest.raises(AttachmentError) as caught:
        prepare_input(png_header_only(8000, 8000), "edge.png")

    assert "too large" not in str(caught.value)
    assert "damaged" in str(caught.value)


# inspect --------------------------------------------------------------------------------------------------


def test_inspect_reads_format_size_and_mode_from_the_header() -> None:
    source = picture("RGBA", (33, 21))
    source.putpixel((0, 0), (0, 0, 0, 0))
    info = inspect(encode(source, "WEBP", lossless=True))

    assert (info.format, info.width, info.height, info.mode) == ("webp", 33, 21, "RGBA")


def test_inspect_does_not_decode_pixels() -> None:
    info = inspect(png_header_only(640, 480))

    assert (info.format, info.width, info.height) == ("png", 640, 480)


def test_inspect_refuses_what_is_not_an_image() -> None:
    with pytest.raises(AttachmentError):
        inspect(b"<html>nope</html>")
