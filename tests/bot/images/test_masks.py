"""bot/images/masks.py: a region becomes an exact mask, and user masks are held to the API's mask rules."""

import os
import struct
import zlib

import pytest
from PIL import Image

from bot.errors import AttachmentError
from bot.images.masks import MAX_MASK_BYTES, build_mask, check_user_mask, is_mask_name
from bot.images.regions import NAMED_REGIONS, Region, parse_region_reply
from tests.bot.images.region_helpers import cell_box, encode
from tests.slack_views import decoded

# masks ---------------------------------------------------------------------------------------------------------


def assert_mask(data: bytes, size: tuple[int, int], box: tuple[int, int, int, int]) -> None:
    """Alpha 0 exactly inside `box` (right/bottom exclusive), 255 exactly outside; an RGBA PNG of `size`."""
    mask = decoded(data)
    assert (mask.format, mask.mode, mask.size) == ("PNG", "RGBA", size)
    width, height = size
    left, top, right, bottom = box
    alpha = mask.getchannel("A")
    histogram = alpha.histogram()
    area = (right - left) * (bottom - top)
    assert histogram[0] == area
    assert histogram[255] == width * height - area
    assert alpha.crop(box).getextrema() == (0, 0)
    # The region's corners and edge midpoints, and the pixels just outside them.
    middle_x, middle_y = (left + right) // 2, (top + bottom) // 2
    inside = [(left, top), (right - 1, top), (left, bottom - 1), (right - 1, bottom - 1),
              (middle_x, top), (middle_x, bottom - 1), (left, middle_y), (right - 1, middle_y)]
    outside = [(left - 1, top), (left, top - 1), (right, top), (right - 1, top - 1),
               (left - 1, bottom - 1), (left, bottom), (right, bottom - 1), (right - 1, bottom),
               (middle_x, top - 1), (middle_x, bottom), (left - 1, middle_y), (right, middle_y)]
    for point in inside:
        assert alpha.getpixel(point) == 0, point
    for x, y in outside:
        if 0 <= x < width and 0 <= y < height:
            assert alpha.getpixel((x, y)) == 255, (x, y)


def test_cell_c2_on_1024_is_x_512_to_767_and_y_256_to_511():
    region, _ = parse_region_reply("C2: x")
    assert region.pixel_box(1024, 1024) == (512, 256, 768, 512)
    assert_mask(build_mask(region, 1024, 1024), (1024, 1024), (512, 256, 768, 512))


def test_edges_round_half_up():
    # 1002 / 4 = 250.5 → 251; 1002 · 3/4 = 751.5 → 752; 1001 / 4 = 250.25 → 250; 1003 · 3/4 = 752.25 → 752.
    assert Region("A1", 0, 0, 0.25, 0.25).pixel_box(1002, 1001) == (0, 0, 251, 250)
    assert Region("D4", 0.75, 0.75, 1, 1).pixel_box(1002, 1003) == (752, 752, 1002, 1003)
    assert Region("center", 0.25, 0.25, 0.75, 0.75).pixel_box(6, 7) == (2, 2, 5, 5)


@pytest.mark.parametrize("size", [(1024, 1024), (1536, 1024), (1024, 1536), (1001, 603), (64, 64)])
def test_sixteen_cells_tile_the_image_with_no_gap_or_overlap(size):
    width, height = size
    covered = 0
    for column, letter in enumerate("ABCD"):
        for row in range(4):
            region, _ = parse_region_reply(f"{letter}{row + 1}: x")
            box = region.pixel_box(width, height)
            assert box == cell_box(column, row, width, height)
            covered += (box[2] - box[0]) * (box[3] - box[1])
            if column < 3:
                right_neighbour, _ = parse_region_reply(f"{'ABCD'[column + 1]}{row + 1}: x")
                assert right_neighbour.pixel_box(width, height)[0] == box[2]
            if row < 3:
                below, _ = parse_region_reply(f"{letter}{row + 2}: x")
                assert below.pixel_box(width, height)[1] == box[3]
    assert covered == width * height


@pytest.mark.parametrize("size", [(1024, 1024), (384, 256), (201, 123)])
@pytest.mark.parametrize(("cell", "column", "row"), [("A1", 0, 0), ("C2", 2, 1), ("B3", 1, 2), ("D4", 3, 3)])
def test_cell_masks_are_exact(size, cell, column, row):
    region, _ = parse_region_reply(f"{cell}: x")
    assert_mask(build_mask(region, *size), size, cell_box(column, row, *size))


@pytest.mark.parametrize("size", [(256, 256), (384, 256), (201, 123)])
@pytest.mark.parametrize("text", ["B2-C4: x", "C4-B2: x", "B4-C2: x", "c2 - b4 x"])
def test_rectangle_masks_are_exact_in_either_corner_order(size, text):
    region, _ = parse_region_reply(text)
    assert region.name == "B2–C4"
    left, top, _, _ = cell_box(1, 1, *size)
    _, _, right, bottom = cell_box(2, 3, *size)
    assert_mask(build_mask(region, *size), size, (left, top, right, bottom))


@pytest.mark.parametrize("size", [(256, 256), (384, 256), (201, 123)])
@pytest.mark.parametrize("name", list(NAMED_REGIONS))
def test_named_region_masks_are_exact(size, name):
    width, height = size
    half_x, half_y = (width + 1) // 2, (height + 1) // 2  # floor(n/2 + 0.5)
    quarter = cell_box(1, 1, width, height)
    three_quarters = cell_box(2, 2, width, height)
    expected = {
        "top-left": (0, 0, half_x, half_y), "top-right": (half_x, 0, width, half_y),
        "bottom-left": (0, half_y, half_x, height), "bottom-right": (half_x, half_y, width, height),
        "top": (0, 0, width, half_y), "bottom": (0, half_y, width, height),
        "left": (0, 0, half_x, height), "right": (half_x, 0, width, height),
        "center": (quarter[0], quarter[1], three_quarters[2], three_quarters[3]),
    }[name]
    region, _ = parse_region_reply(f"--region {name} x")
    assert_mask(build_mask(region, width, height), size, expected)


def test_a_3840x2160_mask_is_far_under_4_mb():
    region, _ = parse_region_reply("B2-C3: x")
    data = build_mask(region, 3840, 2160)
    assert len(data) < 200_000 < MAX_MASK_BYTES
    assert_mask(data, (3840, 2160), (960, 540, 2880, 1620))


def test_built_masks_pass_the_user_mask_check_unchanged():
    for text in ("A1: x", "--region center x"):
        region, _ = parse_region_reply(text)
        data = build_mask(region, 1536, 1024)
        assert check_user_mask(data, 1536, 1024, "mask.png") is data


def test_build_mask_refuses_impossible_sizes():
    region = Region("A1", 0, 0, 0.25, 0.25)
    with pytest.raises(ValueError):
        build_mask(region, 0, 100)
    with pytest.raises(ValueError):
        build_mask(region, 1, 1)  # A1 of a 1 × 1 image rounds to no pixel at all


# user masks ----------------------------------------------------------------------------------------------------


def user_mask(size: tuple[int, int] = (256, 256), hole: tuple[int, int, int, int] = (100, 100, 300, 200),
              alpha: int = 0) -> Image.Image:
    mask = Image.new("RGBA", size, (255, 255, 255, 255))
    mask.paste((0, 0, 0, alpha), hole)
    return mask


def png_raw(width: int, height: int, depth: int, colour_type: int, rows: list[bytes]) -> bytes:
    """A PNG written by hand, for what Pillow cannot save (16-bit RGBA)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    body = zlib.compress(b"".join(b"\0" + row for row in rows))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def test_a_good_rgba_mask_passes_through_byte_identical():
    data = encode(user_mask())
    assert check_user_mask(data, 256, 256, "mask.png") is data


def test_a_grey_and_alpha_mask_becomes_rgba():
    source = user_mask((64, 48), (8, 8, 24, 16))
    out = decoded(check_user_mask(encode(source.convert("LA")), 64, 48, "mask.png"))
    assert (out.format, out.mode, out.size) == ("PNG", "RGBA", (64, 48))
    assert out.getchannel("A").tobytes() == source.getchannel("A").tobytes()


def test_a_palette_mask_with_a_transparent_colour_becomes_rgba():
    palette_mask = Image.new("P", (64, 48), 1)
    palette_mask.putpalette([0, 0, 0, 255, 255, 255])
    palette_mask.paste(0, (8, 8, 24, 16))
    out = decoded(check_user_mask(encode(palette_mask, transparency=0), 64, 48, "Mask.PNG"))
    assert out.mode == "RGBA"
    alpha = out.getchannel("A")
    assert alpha.getpixel((8, 8)) == 0 and alpha.getpixel((23, 15)) == 0
    assert alpha.getpixel((24, 16)) == 255 and alpha.getpixel((7, 8)) == 255
    assert alpha.histogram()[0] == 16 * 8


def test_an_rgb_mask_with_a_transparent_colour_becomes_rgba():
    image = user_mask((32, 32), (0, 0, 8, 8)).convert("RGB")  # the hole is black, the rest white
    out = decoded(check_user_mask(encode(image, transparency=(0, 0, 0)), 32, 32, "mask.png"))
    assert out.mode == "RGBA" and out.getchannel("A").histogram()[0] == 64


def test_a_16_bit_rgba_mask_becomes_8_bit():
    opaque, clear = b"\xff\xff" * 4, b"\xff\xff" * 3 + b"\0\0"
    data = png_raw(4, 2, 16, 6, [clear + opaque * 3, opaque * 4])
    out = check_user_mask(data, 4, 2, "mask.png")
    assert out != data and out[24] == 8
    image = decoded(out)
    assert image.mode == "RGBA" and image.getchannel("A").getpixel((0, 0)) == 0
    assert image.getchannel("A").getpixel((1, 0)) == 255


def test_mask_of_the_wrong_size():
    data = encode(user_mask((512, 512), (0, 0, 10, 10)))
    with pytest.raises(AttachmentError) as caught:
        check_user_mask(data, 1024, 1024, "mask.png")
    assert str(caught.value) == "mask.png is 512×512; it must be the same size as the image, 1024×1024."
    assert caught.value.filename == "mask.png"


def test_mask_with_no_transparency():
    data = encode(Image.new("RGBA", (1024, 1024), (0, 0, 0, 255)))
    with pytest.raises(AttachmentError) as caught:
        check_user_mask(data, 1024, 1024, "mask.png")
    assert str(caught.value) == "mask.png has no transparency: make the area to change fully transparent."


def test_mask_only_partly_transparent():
    data = encode(user_mask(alpha=40))
    with pytest.raises(AttachmentError, match=r"only partly transparent \(lowest alpha 40 of 255\).*alpha 0"):
        check_user_mask(data, 256, 256, "mask.png")


@pytest.mark.parametrize("mode", ["RGB", "L", "P"])
def test_mask_without_an_alpha_channel(mode):
    data = encode(user_mask().convert("RGB").convert(mode))
    with pytest.raises(AttachmentError, match=rf"mask-1.png has no alpha channel \({mode} PNG\): save it as a PNG "
                                              "with transparency"):
        check_user_mask(data, 256, 256, "mask-1.png")


@pytest.mark.parametrize(("fmt", "shown"), [("JPEG", "JPEG"), ("WEBP", "WEBP"), ("GIF", "GIF")])
def test_mask_that_is_not_a_png(fmt, shown):
    image = user_mask((64, 64), (0, 0, 8, 8))
    data = encode(image if fmt == "WEBP" else image.convert("RGB"), fmt)
    with pytest.raises(AttachmentError) as caught:
        check_user_mask(data, 64, 64, "mask.png")
    assert str(caught.value).startswith(f"mask.png is a {shown}; a mask must be a PNG with an alpha channel")


def test_mask_that_is_not_an_image_or_is_empty():
    with pytest.raises(AttachmentError, match="not an image I can read"):
        check_user_mask(b"%PDF-1.7 not a mask", 64, 64, "mask.png")
    with pytest.raises(AttachmentError, match="not an image I can read"):
        whole = encode(user_mask((64, 64), (0, 0, 8, 8)))
        check_user_mask(whole[:len(whole) // 2], 64, 64, "mask.png")  # cut short
    with pytest.raises(AttachmentError, match=r"mask.png is empty \(0 bytes\)"):
        check_user_mask(b"", 64, 64, "mask.png")


def test_mask_over_4_mb():
    noise = Image.frombytes("RGBA", (1100, 1000), os.urandom(1100 * 1000 * 4))
    data = encode(noise, compress_level=0)
    assert len(data) > 4_000_000
    with pytest.raises(AttachmentError, match=r"mask.png is 4\.\d MB; a mask must be under 4 MB"):
        check_user_mask(data, 1100, 1000, "mask.png")


@pytest.mark.parametrize(("name", "expected"), [
    ("mask.png", True), ("Mask.PNG", True), ("mask-balloon.png", True), ("MASK_2.Png", True), (" mask.png ", True),
    ("mask.jpg", False), ("mask", False), ("my-mask.png", False), ("photo.png", False), ("", False), (None, False),
    ("mask.png.jpg", False),
])
def test_is_mask_name(name, expected):
    assert is_mask_name(name) is expected
