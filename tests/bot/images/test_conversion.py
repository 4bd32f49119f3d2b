"""bot/images/conversion.py: uploads the API would refuse become PNG (or stay JPEG), their pixels kept, with a
note saying what was done."""

import io
import random
import struct

import pytest
from PIL import Image, ImageCms, ImageOps

from bot.errors import AttachmentError
from bot.images import conversion
from bot.images.formats import ACCEPTED_TEXT
from bot.images.imaging import prepare_input, prepare_input_with_note
from tests.bot.images.pictures import (
    assert_api_ready,
    close,
    converted,
    encode,
    picture,
    png_raw,
)
from tests.slack_views import decoded

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
    monkeypatch.setattr(conversion, "MAX_INPUT_BYTES", limit)

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
    monkeypatch.setattr(conversion, "MAX_INPUT_BYTES", (len(data) + png) // 2)

    with pytest.raises(AttachmentError) as caught:
        prepare_input(data, "glass.webp")

    assert "over 50 MB once converted" in str(caught.value)
    assert ACCEPTED_TEXT in str(caught.value)
