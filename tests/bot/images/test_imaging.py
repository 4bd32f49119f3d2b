"""bot/images/imaging.py: uploads the API accepts pass through byte-identical;
others become PNG; bad files are refused."""

import base64
import io
import random
import struct
import warnings
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile, ImageOps

from bot.errors import AttachmentError
from bot.images import imaging
from bot.images.imaging import (
    ACCEPTED_TEXT,
    MAX_INPUT_BYTES,
    MAX_PIXELS,
    inspect,
    prepare_input,
    prepare_input_with_note,
    svg_preview,
)
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
    assert result.mode == "RGB"
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


# what every converted upload must be ------------------------------------------------------------------------


def assert_api_ready(data: bytes, fmt: str) -> Image.Image:
    """The bytes are one still PNG or JPEG, 8 bits a sample, in a mode the API takes; returns it decoded."""
    result = decoded(data)
    assert result.format == fmt.upper()
    assert result.mode in ("RGB", "RGBA", "L", "LA")
    assert getattr(result, "n_frames", 1) == 1
    if fmt == "png":
        assert data[12:16] == b"IHDR" and data[24] == 8  # bit depth
    return result


def converted(data: bytes, name: str = "upload") -> tuple[imaging.InputImage, str, Image.Image]:
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


# pass-through, exactly when it is safe ---------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "fmt", "params"), [
    ("L", "PNG", {}), ("LA", "PNG", {}), ("RGBA", "PNG", {}), ("L", "JPEG", {}), ("RGBA", "WEBP", {"lossless": True}),
    ("RGB", "WEBP", {"lossless": True}),
])
def test_accepted_modes_pass_through_untouched_with_no_note(mode: str, fmt: str, params: dict) -> None:
    data = encode(picture(mode), fmt, **params)

    image, note = prepare_input_with_note(data, "x.bin")

    assert note is None
    assert image.data is data
    assert (image.width, image.height) == (40, 30)
    assert prepare_input(data, "x.bin") == (image, False)


def test_a_one_pixel_png_is_fine() -> None:
    data = encode(Image.new("RGB", (1, 1), (9, 8, 7)), "PNG")

    image, note = prepare_input_with_note(data, "dot.png")

    assert (note, image.data, image.width, image.height) == (None, data, 1, 1)


def test_jpeg_whose_exif_says_upright_passes_through() -> None:
    exif = Image.Exif()
    exif[0x0112] = 1
    data = encode(picture(), "JPEG", exif=exif)

    assert prepare_input_with_note(data, "photo.jpg")[1] is None


def test_large_legal_image_is_left_alone() -> None:
    data = encode(Image.new("L", (7000, 7000), 128), "PNG")

    image, note = prepare_input_with_note(data, "poster.png")

    assert note is None
    assert image.data is data
    assert (image.width, image.height) == (7000, 7000)


# conversions, each with a note ------------------------------------------------------------------------------


def test_cmyk_jpeg_becomes_an_rgb_png() -> None:
    source = encode(picture("CMYK"), "JPEG", quality=100)

    image, note, result = converted(source, "print.jpeg")

    assert image.format == "png" and image.name == "print.png"
    assert note == "converted from CMYK JPEG to PNG"
    assert result.mode == "RGB"
    assert result.size == (40, 30)
    assert result.tobytes() == decoded(source).convert("RGB").tobytes()
    assert prepare_input(source, "print.jpeg")[1] is True


def test_opaque_palette_png_becomes_rgb_with_identical_pixels() -> None:
    source_image = picture("P")
    _image, note, result = converted(encode(source_image, "PNG"), "palette.png")

    assert note == "converted from palette PNG to RGB PNG"
    assert result.mode == "RGB"
    assert result.tobytes() == source_image.convert("RGB").tobytes()


def test_palette_png_with_transparency_becomes_rgba_keeping_it() -> None:
    source = Image.new("P", (10, 10), 0)
    source.putpalette([255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    source.paste(1, (5, 0, 10, 10))
    data = encode(source, "PNG", transparency=0)

    _image, note, result = converted(data, "icon.png")

    assert note == "converted from palette PNG to RGBA PNG"
    assert result.mode == "RGBA"
    assert result.getpixel((0, 0))[3] == 0
    assert result.getpixel((9, 9)) == (0, 255, 0, 255)


def test_one_bit_png_becomes_black_and_white_rgb() -> None:
    source = Image.new("1", (16, 8), 0)
    source.paste(1, (8, 0, 16, 8))

    _image, note, result = converted(encode(source, "PNG"), "fax.png")

    assert note == "converted from 1-bit PNG to RGB PNG"
    assert result.getpixel((0, 0)) == (0, 0, 0)
    assert result.getpixel((15, 7)) == (255, 255, 255)


@pytest.mark.parametrize(("fmt", "mode"), [("PNG", "I;16"), ("TIFF", "I;16"), ("TIFF", "I;16B")])
def test_sixteen_bit_grey_is_scaled_to_eight_bits_not_clipped(fmt: str, mode: str) -> None:
    source = Image.new(mode, (3, 1))
    for x, value in enumerate((0, 257 * 100, 65535)):
        source.putpixel((x, 0), value)

    image, note, result = converted(encode(source, fmt), f"scan.{fmt.lower()}")

    assert image.format == "png"
    assert [result.getpixel((x, 0)) for x in range(3)] == [(0, 0, 0), (100, 100, 100), (255, 255, 255)]
    assert note == ("converted from 16-bit PNG to 8-bit PNG" if fmt == "PNG" else "converted from 16-bit TIFF to PNG")


def test_sixteen_bit_rgb_png_becomes_eight_bit() -> None:
    row = struct.pack(">9H", 65535, 0, 0x8080, 0, 65535, 0, 0x4040, 0x4040, 0x4040)
    data = png_raw(3, 1, 16, 2, [row])
    assert decoded(data).mode == "RGB"  # Pillow hides the 16 bits: only the header tells

    _image, note, result = converted(data, "deep.png")

    assert note == "converted from 16-bit PNG to 8-bit PNG"
    assert [result.getpixel((x, 0)) for x in range(3)] == [(255, 0, 128), (0, 255, 0), (64, 64, 64)]


def test_two_bit_grey_png_is_rewritten_at_eight_bits() -> None:
    data = png_raw(4, 1, 2, 0, [bytes([0b00011011])])  # 0, 1, 2, 3

    _image, note, result = converted(data, "tiny.png")

    assert note == "converted from 2-bit PNG to RGB PNG"
    assert [result.getpixel((x, 0))[0] for x in range(4)] == [0, 85, 170, 255]


@pytest.mark.parametrize(("mode", "values", "expected"), [
    ("I", (0, 500, 1000), (0, 127, 255)),  # wider than 8 bits: scaled by the maximum
    ("I", (0, 100, 200), (0, 100, 200)),  # already within 0–255: kept
    ("F", (0.0, 0.5, 1.0), (0, 127, 255)),  # 0–1 floats
    ("F", (-1.0, 0.0, 1.0), (0, 127, 255)),  # negative values: the range is stretched
])
def test_thirty_two_bit_and_float_tiffs_are_scaled_to_eight_bits(mode: str, values: tuple, expected: tuple) -> None:
    source = Image.new(mode, (3, 1))
    for x, value in enumerate(values):
        source.putpixel((x, 0), value)

    _image, note, result = converted(encode(source, "TIFF"), "data.tif")

    got = tuple(result.getpixel((x, 0))[0] for x in range(3))
    assert all(abs(g - e) <= 1 for g, e in zip(got, expected, strict=True)), got
    assert note == f"converted from {'32-bit' if mode == 'I' else 'floating-point'} TIFF to PNG"


@pytest.mark.parametrize(("mode", "word"), [("YCbCr", "YCbCr"), ("LAB", "Lab"), ("CMYK", "CMYK")])
def test_other_colour_spaces_in_tiff_become_rgb(mode: str, word: str) -> None:
    source = picture(mode)

    _image, note, result = converted(encode(source, "TIFF"), "x.tif")

    assert note == f"converted from {word} TIFF to PNG"
    assert result.mode == "RGB"
    assert result.tobytes() == source.convert("RGB").tobytes()


def test_bmp_note_names_the_format() -> None:
    assert converted(encode(picture(), "BMP"))[1] == "converted from BMP to PNG"


def test_animated_gif_note_says_only_the_first_frame_was_used() -> None:
    frames = [Image.new("RGB", (16, 12), color) for color in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    _image, note, result = converted(out.getvalue(), "party.gif")

    assert note == "used the first frame of an animated GIF; converted to PNG"
    assert result.getpixel((3, 3)) == (255, 0, 0)


@pytest.mark.parametrize(("fmt", "expected"), [
    ("PNG", "used the first frame of an animated PNG"),
    ("WEBP", "used the first frame of an animated WEBP; converted to PNG"),
])
def test_animated_png_and_webp_notes(fmt: str, expected: str) -> None:
    frames = [Image.new("RGBA", (16, 12), color) for color in ((0, 0, 255, 255), (255, 0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format=fmt, save_all=True, append_images=frames[1:], duration=100, lossless=True)

    image, note, result = converted(out.getvalue(), "anim")

    assert note == expected
    assert result.mode == "RGB"  # the alpha was fully opaque: dropped
    assert result.getpixel((0, 0)) == (0, 0, 255)
    assert (image.width, image.height) == (16, 12)


def test_multi_page_tiff_uses_the_first_page() -> None:
    pages = [Image.new("RGB", (10, 10), (0, 128, 0)), Image.new("RGB", (20, 20), (255, 255, 0))]
    out = io.BytesIO()
    pages[0].save(out, format="TIFF", save_all=True, append_images=pages[1:])

    _image, note, result = converted(out.getvalue(), "pages.tiff")

    assert note == "used the first page of a multi-page TIFF; converted to PNG"
    assert result.size == (10, 10)
    assert result.getpixel((5, 5)) == (0, 128, 0)


def test_multi_picture_jpeg_keeps_its_main_picture_as_jpeg() -> None:
    main, second = Image.new("RGB", (32, 16), (200, 20, 20)), Image.new("RGB", (32, 16), (20, 20, 200))
    out = io.BytesIO()
    main.save(out, format="MPO", save_all=True, append_images=[second])
    assert decoded(out.getvalue()).format == "MPO"

    image, note, result = converted(out.getvalue(), "stereo.jpg")

    assert (image.format, image.name) == ("jpeg", "stereo.jpg")
    assert note == "used the main picture of a multi-picture JPEG"
    assert close(result, main, 3)


def orientation_test_image() -> Image.Image:
    """40x20: red left half, blue right half, so any rotation or flip shows."""
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))
    return image


@pytest.mark.parametrize("orientation", [2, 3, 4, 5, 6, 7, 8])
def test_jpeg_with_exif_orientation_is_turned_upright_and_stays_jpeg(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(orientation_test_image(), "JPEG", exif=exif, quality=95)
    with Image.open(io.BytesIO(data)) as original:
        expected = ImageOps.exif_transpose(original)

    image, note, result = converted(data, "phone.jpeg")

    assert note == "rotated per its EXIF orientation"
    assert (image.format, image.name) == ("jpeg", "phone.jpg")
    assert result.size == ((20, 40) if orientation >= 5 else (40, 20))
    assert close(result, expected, 4)
    if orientation == 6:  # rotate 90° clockwise to view: the red left half ends on top
        assert close(result.crop((5, 5, 15, 15)), Image.new("RGB", (10, 10), (255, 0, 0)), 4)
        assert close(result.crop((5, 25, 15, 35)), Image.new("RGB", (10, 10), (0, 0, 255)), 4)
    assert result.getexif().get(0x0112) is None  # nobody rotates it twice


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_png_and_webp_with_exif_orientation_are_turned_upright_as_png(fmt: str) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    data = encode(orientation_test_image(), fmt, exif=exif, lossless=True)

    image, note, result = converted(data, "shot")

    assert image.format == "png"
    assert note == ("rotated per its EXIF orientation" if fmt == "PNG"
                    else "rotated per its EXIF orientation; converted from WEBP to PNG")
    assert result.size == (20, 40)
    assert result.getpixel((10, 5)) == (255, 0, 0)  # the red left half is now on top
    assert result.getpixel((10, 35)) == (0, 0, 255)


def test_rgb_icc_profile_is_kept_and_a_cmyk_one_is_dropped() -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    palette = encode(picture("P"), "PNG", icc_profile=srgb)
    cmyk = encode(picture("CMYK"), "TIFF", icc_profile=b"not an RGB profile")

    assert decoded(converted(palette)[0].data).info.get("icc_profile") == srgb
    assert decoded(converted(cmyk)[0].data).info.get("icc_profile") is None


def test_converted_images_carry_no_exif() -> None:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 3

    _image, _, result = converted(encode(picture(), "JPEG", exif=exif), "trip.jpg")

    assert dict(result.getexif()) == {}


def photo_like(mode: str) -> Image.Image:
    """A gradient with noise: small as a lossy file, big as a PNG."""
    noise = Image.frombytes(mode, (64, 64), random.Random(0).randbytes(64 * 64 * len(mode)))
    return Image.blend(Image.linear_gradient("L").resize((64, 64)).convert(mode), noise, 0.3)


def test_opaque_conversion_over_the_limit_as_png_becomes_jpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(photo_like("RGB").convert("CMYK"), "JPEG", quality=40)
    as_rgb = decoded(data).convert("RGB")
    png, jpeg = len(encode(as_rgb, "PNG")), len(encode(as_rgb, "JPEG", quality=95))
    limit = (png + jpeg) // 2
    assert len(data) <= limit < png
    monkeypatch.setattr(imaging, "MAX_INPUT_BYTES", limit)

    image, note = prepare_input_with_note(data, "print.jpg")

    assert (image.format, image.name, note) == ("jpeg", "print.jpg", "converted from CMYK JPEG to RGB JPEG")
    assert len(image.data) <= limit
    result = assert_api_ready(image.data, "jpeg")
    assert close(result.resize((8, 8), Image.Resampling.BOX), as_rgb.resize((8, 8), Image.Resampling.BOX), 3)


def test_transparent_conversion_over_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(photo_like("RGBA"), "WEBP", quality=10, exif=exif)  # rotation makes it a PNG, keeping alpha
    png = len(encode(decoded(data), "PNG"))
    assert len(data) < png
    monkeypatch.setattr(imaging, "MAX_INPUT_BYTES", (len(data) + png) // 2)

    with pytest.raises(AttachmentError) as caught:
        prepare_input(data, "glass.webp")

    assert "over 50 MB once converted" in str(caught.value)
    assert ACCEPTED_TEXT in str(caught.value)


# refusals name the format and say what is accepted ---------------------------------------------------------


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    """The start of an ISO-BMFF file (HEIC, AVIF, MP4): an `ftyp` box, then some padding."""
    body = b"ftyp" + major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", len(body) + 4) + body + b"\0" * 64


@pytest.mark.parametrize(("data", "words"), [
    (ftyp(b"heic", b"mif1", b"heic"), "HEIC photo"),
    (ftyp(b"mif1", b"mif1", b"heic"), "HEIC photo"),
    (ftyp(b"heix", b"mif1"), "HEIC photo"),
    (ftyp(b"hevc", b"msf1"), "HEIC photo"),
    (ftyp(b"avif", b"avif", b"mif1", b"miaf"), "AVIF image"),
    (ftyp(b"mif1", b"avif", b"mif1"), "AVIF image"),
    (ftyp(b"isom", b"isom", b"mp41"), "video"),
    (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n", "PDF"),
    (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
    (b'\xef\xbb\xbf<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
    (b"", "empty (0 bytes)"),
    (b"just some words\n", "not an image I can read"),
    (b"\0" * 100, "not an image I can read"),
    (b"GIF89a", "not an image I can read"),
])
def test_refusals_name_the_problem_and_what_is_accepted(data: bytes, words: str) -> None:
    with pytest.raises(AttachmentError) as caught:
        prepare_input_with_note(data, "IMG_0001.HEIC")

    assert words in str(caught.value)
    assert ACCEPTED_TEXT in str(caught.value)
    assert caught.value.filename == "IMG_0001.HEIC"


def test_heic_is_refused_before_pillow_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_open(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("Pillow was asked to open a HEIC file")

    monkeypatch.setattr(imaging.Image, "open", no_open)

    with pytest.raises(AttachmentError, match="export it as JPEG or PNG"):
        prepare_input(ftyp(b"heic", b"mif1", b"heic"), "IMG_0001.HEIC")


@pytest.mark.parametrize("fmt", ["EPS", "TGA", "ICO", "PPM", "PCX"])
def test_formats_outside_the_short_list_are_refused_without_decoding(fmt: str) -> None:
    data = encode(Image.new("RGB", (8, 8), (1, 2, 3)), fmt)
    assert inspect(data).format == fmt.lower()  # Pillow could read it…

    with pytest.raises(AttachmentError) as caught:  # …but is never asked to (EPS would run Ghostscript)
        prepare_input(data, f"x.{fmt.lower()}")

    assert ACCEPTED_TEXT in str(caught.value)


@pytest.mark.parametrize(("fmt", "mode"), [("GIF", "P"), ("BMP", "RGB"), ("TIFF", "RGB"), ("WEBP", "RGB")])
def test_truncated_files_of_other_formats_are_refused(fmt: str, mode: str) -> None:
    data = encode(picture(mode, (120, 90)), fmt, **({"lossless": True} if fmt == "WEBP" else {}))

    with pytest.raises(AttachmentError) as caught:
        prepare_input(data[: len(data) // 2], "cut")

    assert "damaged" in str(caught.value)


def test_every_pixel_cap_refusal_says_what_is_accepted() -> None:
    with pytest.raises(AttachmentError) as caught:
        prepare_input(png_header_only(9000, 9000), "big.png")

    assert ACCEPTED_TEXT in str(caught.value)


# decompression bombs ----------------------------------------------------------------------------------------


def test_pillows_own_bomb_protection_is_on() -> None:
    assert Image.MAX_IMAGE_PIXELS is not None
    assert MAX_PIXELS <= Image.MAX_IMAGE_PIXELS


def test_png_bomb_is_refused_from_its_header_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # 30000 x 30000 grey: 900 MB once decoded, from a few kilobytes of zeros.
    bomb = png_raw(30_000, 30_000, 8, 0, [], idat=zlib.compress(b"\0" * (30_001 * 500), 9))
    assert len(bomb) < 100_000
    # Every decode of a file's pixels goes through ImageFile.load: watched, not timed (a clock on a busy machine
    # says nothing about whether pixels were decoded).
    decoded: list[Image.Image] = []
    load = ImageFile.ImageFile.load

    def watched_load(image: ImageFile.ImageFile) -> object:
        decoded.append(image)
        return load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", watched_load)
    with pytest.raises(AttachmentError) as caught:
        prepare_input(bomb, "bomb.png")

    assert decoded == []
    assert "too large to open safely" in str(caught.value)
    assert ACCEPTED_TEXT in str(caught.value)


@pytest.mark.parametrize("warnings_are_errors", [True, False])
def test_image_between_the_cap_and_pillows_limit_is_refused_either_way(warnings_are_errors: bool) -> None:
    # 10000 x 10000 = 100 MP: over MAX_PIXELS, over Pillow's warning threshold, under its hard limit.
    bomb = png_raw(10_000, 10_000, 8, 0, [], idat=zlib.compress(b"\0" * 1_000_000, 9))
    assert MAX_PIXELS < Image.MAX_IMAGE_PIXELS < 10_000 * 10_000 < 2 * Image.MAX_IMAGE_PIXELS

    with warnings.catch_warnings():
        warnings.simplefilter("error" if warnings_are_errors else "ignore", Image.DecompressionBombWarning)
        with pytest.raises(AttachmentError) as caught:
            prepare_input(bomb, "bomb.png")

    assert "too large to open safely" in str(caught.value)


def test_gif_bomb_is_refused_from_its_header() -> None:
    screen = struct.pack("<HHBBB", 65_000, 65_000, 0, 0, 0)
    bomb = b"GIF89a" + screen + b",\0\0\0\0" + struct.pack("<HHB", 65_000, 65_000, 0) + b"\x02\x02\x44\x01\0;"

    with pytest.raises(AttachmentError) as caught:
        prepare_input(bomb, "bomb.gif")

    assert "too large" in str(caught.value)


# damaged files of every kind: refused, never a crash ------------------------------------------------------

SEEDS = [
    encode(picture("RGB", (12, 9)), "PNG"),
    encode(picture("P", (12, 9)), "PNG"),
    encode(picture("RGB", (12, 9)), "JPEG"),
    encode(picture("CMYK", (12, 9)), "JPEG"),
    encode(picture("RGBA", (12, 9)), "WEBP", lossless=True),
    encode(picture("P", (12, 9)), "GIF"),
    encode(picture("RGB", (12, 9)), "BMP"),
    encode(picture("RGB", (12, 9)), "TIFF"),
    encode(Image.new("I;16", (12, 9), 300), "TIFF"),
]


@pytest.mark.filterwarnings("ignore::UserWarning:PIL")  # "Corrupt EXIF data" and the like: only warnings
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
                                                  max_size=6), cut=st.integers(0, 10_000))
def test_mangled_files_are_either_usable_or_refused(seed: bytes, edits: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for offset, value in edits:
        data[offset % len(data)] = value
    data = bytes(data[: max(1, len(data) - cut % 64)])

    try:
        image, note = prepare_input_with_note(data, "fuzz")
    except AttachmentError as error:
        assert ACCEPTED_TEXT in str(error)
        return
    if note is None:
        assert image.data is data
    else:
        assert_api_ready(image.data, image.format)


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


def test_inspect_counts_the_frames_of_an_animated_gif() -> None:
    frames = [Image.new("RGB", (48, 32), color) for color in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    info = inspect(data)

    assert (info.format, info.width, info.height, info.frames) == ("gif", 48, 32, 3)


def test_inspect_says_one_frame_for_a_still_image() -> None:
    assert inspect(encode(picture(), "PNG")).frames == 1
    assert inspect(encode(picture("P"), "GIF")).frames == 1


# SVG ------------------------------------------------------------------------------------------------------

SVG_OPEN = '<svg xmlns="http://www.w3.org/2000/svg"'


def svg(attributes: str = 'width="300" height="200"', body: str = "", prolog: str = "") -> bytes:
    return f"{prolog}{SVG_OPEN} {attributes}>{body}</svg>".encode()


@pytest.mark.parametrize(("attributes", "size"), [
    ('width="300" height="200"', (300, 200)),
    ('width="300px" height="200.4"', (300, 200)),
    ('viewBox="0 0 640 480"', (640, 480)),
    ('width="1280" viewBox="0,0,640,480"', (1280, 960)),  # the missing edge keeps the viewBox's proportions
    ('height="240" viewBox="0 0 640 480"', (320, 240)),
    ('width="50%" height="100%" viewBox="0 0 640 480"', (320, 480)),
    ('width="1in" height="72pt"', (96, 96)),
    ("", (100, 100)),  # no size at all: what SVG renderers use
])
def test_inspect_reads_an_svgs_size_from_its_root(attributes: str, size: tuple[int, int]) -> None:
    info = inspect(svg(attributes))

    assert (info.format, (info.width, info.height), info.frames) == ("svg", size, 1)


def test_inspect_accepts_an_svg_with_a_bom_an_xml_declaration_and_the_standard_doctype() -> None:
    prolog = ('\ufeff<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
              '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n')

    info = inspect(svg(prolog=prolog))

    assert (info.format, info.width, info.height) == ("svg", 300, 200)


EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
                   b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&secret;</text></svg>')
ENTITY_BOMB = (b'<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
               b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
               b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&c;</text></svg>')
EXTERNAL_DTD = (b'<!DOCTYPE svg SYSTEM "file:///etc/passwd">'
                b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
PARAMETER_ENTITY = (b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x" [<!ENTITY % p SYSTEM "file:///etc/passwd">'
                    b' %p;]><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')


@pytest.mark.parametrize("data", [EXTERNAL_ENTITY, ENTITY_BOMB, EXTERNAL_DTD, PARAMETER_ENTITY],
                         ids=["external entity", "entity expansion", "external DTD", "parameter entity"])
def test_inspect_and_svg_preview_refuse_doctypes_that_declare_or_fetch(data: bytes) -> None:
    for read in (inspect, svg_preview):
        with pytest.raises(AttachmentError, match="DOCTYPE or entities"):
            read(data)


@pytest.mark.parametrize("data", [
    b'<html xmlns="http://www.w3.org/1999/xhtml"><body/></html>',
    b'<svg width="10" height="10"/>',  # no SVG namespace: not an SVG drawing to any viewer
    b'<?xml version="1.0"?><note>svg</note>',
])
def test_inspect_and_svg_preview_refuse_xml_that_is_not_svg(data: bytes) -> None:
    for read in (inspect, svg_preview):
        with pytest.raises(AttachmentError, match="not an SVG"):
            read(data)


@pytest.mark.parametrize("data", [b"<svg", b'<svg xmlns="http://www.w3.org/2000/svg"><g></svg>',
                                  b'<svg xmlns="http://www.w3.org/2000/svg">&nbsp;</svg>', b"  <", b"garbage"])
def test_inspect_and_svg_preview_refuse_broken_markup_and_garbage(data: bytes) -> None:
    for read in (inspect, svg_preview):
        with pytest.raises(AttachmentError, match="not an image I can read"):
            read(data)


def test_inspect_refuses_an_svg_too_large_to_open_safely() -> None:
    with pytest.raises(AttachmentError, match="too large to open safely"):
        inspect(svg('width="10000" height="10000"'))


@pytest.mark.parametrize("attributes", ['width="0" height="10"', 'width="-5" height="10"', 'width="wide"'])
def test_inspect_refuses_an_svg_without_a_usable_size(attributes: str) -> None:
    with pytest.raises(AttachmentError, match="no size"):
        inspect(svg(attributes))


RED_SQUARE = '<rect width="100%" height="100%" fill="#ff0000"/>'


@pytest.mark.parametrize(("attributes", "max_edge", "size"), [
    ('width="300" height="200"', 2048, (300, 200)),  # small: its own size
    ('width="5000" height="1000"', 2048, (2048, 410)),
    ('width="1000" height="3000"', 300, (100, 300)),
    ('viewBox="0 0 4096 4096"', 2048, (2048, 2048)),
])
def test_svg_preview_is_a_png_no_larger_than_max_edge(attributes: str, max_edge: int,
                                                      size: tuple[int, int]) -> None:
    preview = decoded(svg_preview(svg(attributes, RED_SQUARE), max_edge=max_edge))

    assert preview.format == "PNG"
    assert preview.size == size
    assert preview.convert("RGB").getpixel((size[0] // 2, size[1] // 2)) == (255, 0, 0)


def test_svg_preview_keeps_fragment_and_inline_picture_references() -> None:
    red = base64.b64encode(encode(Image.new("RGB", (4, 4), (255, 0, 0)), "PNG")).decode()
    body = (f'<defs><rect id="box" width="50" height="100" fill="#0000ff"/></defs><use href="#box"/>'
            f'<image x="50" width="50" height="100" preserveAspectRatio="none" href="data:image/png;base64,{red}"/>')

    preview = decoded(svg_preview(svg('width="100" height="100"', body))).convert("RGBA")

    assert preview.getpixel((25, 50)) == (0, 0, 255, 255)
    assert preview.getpixel((75, 50)) == (255, 0, 0, 255)


def test_svg_preview_never_reads_a_file_an_svg_refers_to(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    picture_file = tmp_path / "secret.png"
    Image.new("RGB", (4, 4), (255, 0, 0)).save(picture_file)
    nested = tmp_path / "nested.svg"
    nested.write_bytes(svg('width="4" height="4"', RED_SQUARE))
    monkeypatch.chdir(tmp_path)  # resvg would read relative paths from the working directory
    body = "".join(f'<image x="{x}" width="25" height="100" preserveAspectRatio="none" {attr}="{href}"/>'
                   for x, attr, href in [(0, "href", str(picture_file)), (25, "xlink:href", "secret.png"),
                                         (50, "href", f"file://{picture_file}"), (75, "href", "nested.svg")])
    body += (f'<filter id="f"><feImage href="{picture_file}" preserveAspectRatio="none"/></filter>'
             f'<rect y="90" width="100" height="10" filter="url(#f)"/>')
    data = svg('xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="100"', body)

    preview = decoded(svg_preview(data)).convert("RGBA")

    assert all(preview.getpixel((x, 50)) == (0, 0, 0, 0) for x in (12, 37, 62, 87))
    assert preview.getpixel((50, 95))[:3] != (255, 0, 0)


def test_svg_preview_turns_resvgs_error_into_an_attachment_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(**_kwargs: object) -> bytes:
        raise ValueError("render failure")

    monkeypatch.setattr(imaging.resvg_py, "svg_to_bytes", failing)

    with pytest.raises(AttachmentError, match="cannot be drawn"):
        svg_preview(svg())


def test_svg_preview_passes_no_resources_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, object]] = []

    def recording(**kwargs: object) -> bytes:
        calls.append(kwargs)
        return b"png"

    monkeypatch.setattr(imaging.resvg_py, "svg_to_bytes", recording)

    assert svg_preview(svg('width="4000" height="2000"')) == b"png"
    assert len(calls) == 1
    assert calls[0].get("resources_dir") is None
    assert (calls[0]["width"], calls[0]["height"]) == (2048, 1024)


def test_svg_preview_refuses_a_png() -> None:
    with pytest.raises(AttachmentError):
        svg_preview(encode(picture(), "PNG"))
