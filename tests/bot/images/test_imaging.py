"""bot/images/imaging.py: uploads the API accepts pass through byte-identical;
others become PNG; bad files are refused."""

import struct
import warnings
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from bot.errors import AttachmentError
from bot.images import imaging
from bot.images.formats import ACCEPTED_TEXT, MAX_INPUT_BYTES, MAX_PIXELS
from bot.images.imaging import inspect, prepare_input, prepare_input_with_note
from tests.bot.images.pictures import (
    assert_api_ready,
    encode,
    picture,
    png_header_only,
    png_raw,
)

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
