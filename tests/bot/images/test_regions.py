"""bot/images/regions.py: replies name a region, the region becomes an exact mask, the grid shows the cells, user masks
are held to the API's mask rules."""

import io
import os
import struct
import zlib

import pytest
from PIL import Image, ImageChops

from bot.errors import AttachmentError, InvalidOption
from bot.images.regions import (
    MAX_MASK_BYTES,
    NAMED_REGIONS,
    Region,
    build_mask,
    check_user_mask,
    draw_grid,
    is_mask_name,
    parse_region_reply,
)
from tests.slack_views import decoded


def encode(image: Image.Image, fmt: str = "PNG", **params) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **params)
    return out.getvalue()


def picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Smooth colour gradients with no black or white, so lines and translucent labels always show."""
    across = Image.linear_gradient("L").rotate(90).resize(size).point(lambda v: 40 + v * 170 // 255)
    down = Image.linear_gradient("L").resize(size).point(lambda v: 40 + v * 170 // 255)
    image = Image.merge("RGB", (across, down, Image.new("L", size, 120)))
    if mode == "RGBA":
        image = image.convert("RGBA")
        image.putalpha(Image.linear_gradient("L").resize(size))  # alpha 0 at the top, 255 at the bottom
    elif mode == "LA":
        image = image.convert("LA")
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    elif mode != "RGB":
        image = image.convert(mode)
    return image


def cell_box(column: int, row: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The rule in bot/images/regions.py, written out: an edge at k/4 of n pixels is at floor(k·n/4 + 0.5)."""
    def edge(k: int, n: int) -> int:
        return (2 * k * n + 4) // 8  # floor(k*n/4 + 1/2) in integers
    return edge(column, width), edge(row, height), edge(column + 1, width), edge(row + 1, height)


# parsing: grid cells -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "name", "box", "prompt"), [
    ("C2: add a red balloon", "C2", (0.5, 0.25, 0.75, 0.5), "add a red balloon"),
    ("c2 add a red balloon", "C2", (0.5, 0.25, 0.75, 0.5), "add a red balloon"),
    ("C2:add a red balloon", "C2", (0.5, 0.25, 0.75, 0.5), "add a red balloon"),
    ("  C2 :  add a red balloon  ", "C2", (0.5, 0.25, 0.75, 0.5), "add a red balloon"),
    ("A1: sky", "A1", (0.0, 0.0, 0.25, 0.25), "sky"),
    ("D4: a dog", "D4", (0.75, 0.75, 1.0, 1.0), "a dog"),
    ("b3\nmake it\nnight", "B3", (0.25, 0.5, 0.5, 0.75), "make it\nnight"),
    ("C2-D3: add a balloon", "C2–D3", (0.5, 0.25, 1.0, 0.75), "add a balloon"),
    ("D3-C2: add a balloon", "C2–D3", (0.5, 0.25, 1.0, 0.75), "add a balloon"),
    ("D2-C3 add a balloon", "C2–D3", (0.5, 0.25, 1.0, 0.75), "add a balloon"),
    ("c3 - d2 add a balloon", "C2–D3", (0.5, 0.25, 1.0, 0.75), "add a balloon"),
    ("C2 -D3: add a balloon", "C2–D3", (0.5, 0.25, 1.0, 0.75), "add a balloon"),
    ("A1–D4: everything", "A1–D4", (0.0, 0.0, 1.0, 1.0), "everything"),
    ("B2-B2: one cell", "B2", (0.25, 0.25, 0.5, 0.5), "one cell"),
    ("A4-A1 the left column", "A1–A4", (0.0, 0.0, 0.25, 1.0), "the left column"),
    ("C2: --quality high add a kite", "C2", (0.5, 0.25, 0.75, 0.5), "--quality high add a kite"),
    ("C2", "C2", (0.5, 0.25, 0.75, 0.5), ""),
])
def test_grid_cells_at_the_start(text, name, box, prompt):
    region, rest = parse_region_reply(text)
    assert region == Region(name, *box)
    assert rest == prompt


@pytest.mark.parametrize("text", [
    "E5: add a balloon", "A0: add a balloon", "C12: add a balloon", "z9: x", "A1-E5: x", "E5-A1 x", "A0-B2 x",
    "C2 - D0 add",
])
def test_cells_outside_the_grid_are_refused_naming_the_valid_forms(text):
    with pytest.raises(InvalidOption) as caught:
        parse_region_reply(text)
    message = str(caught.value)
    assert "is not a grid cell" in message
    assert "A1 to D4" in message and "`C2-D3: …`" in message and "--region" in message and "top-left" in message
    assert caught.value.option == "region"


@pytest.mark.parametrize("text", [
    "add a red balloon", "A cat on a mat", "a2b testing", "B2B sales chart", "3D render of C2", "A4-sized poster",
    "F1 cars racing past",  # a cell-like word outside the grid, with no colon: prompt, not a region
    "E5 conference room", "", "   ", "make C2: red",
])
def test_replies_without_a_region_come_back_unchanged(text):
    region, rest = parse_region_reply(text)
    assert region is None
    assert rest is text


# parsing: --region ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(NAMED_REGIONS))
def test_every_named_region(name):
    region, rest = parse_region_reply(f"--region {name} add a sun")
    assert region == Region(name, *NAMED_REGIONS[name])
    assert rest == "add a sun"


def test_named_regions_cover_what_their_names_say():
    assert NAMED_REGIONS["top-left"] == (0, 0, 0.5, 0.5)
    assert NAMED_REGIONS["bottom-right"] == (0.5, 0.5, 1, 1)
    assert NAMED_REGIONS["left"] == (0, 0, 0.5, 1)
    assert NAMED_REGIONS["bottom"] == (0, 0.5, 1, 1)
    assert NAMED_REGIONS["center"] == (0.25, 0.25, 0.75, 0.75)


@pytest.mark.parametrize(("text", "name", "prompt"), [
    ("--region=top-left add a sun", "top-left", "add a sun"),
    ("--REGION Top-Right add a sun", "top-right", "add a sun"),
    ("—region bottom_left add a sun", "bottom-left", "add a sun"),  # Slack's "—" for a typed "--"
    ("--region top left add a sun", "top-left", "add a sun"),
    ("--region bottom Right add a sun", "bottom-right", "add a sun"),
    ("--region centre add a sun", "center", "add a sun"),
    ("--region top leftovers on a plate", "top", "leftovers on a plate"),
    ("--quality high --region right add a sun", "right", "--quality high add a sun"),
    ("add a sun --region left in the sky", "left", "add a sun in the sky"),
    ("add a sun\n--region bottom", "bottom", "add a sun"),
])
def test_region_option_forms(text, name, prompt):
    region, rest = parse_region_reply(text)
    assert region == Region(name, *NAMED_REGIONS[name])
    assert rest == prompt


def test_region_option_takes_cells_too():
    assert parse_region_reply("--region D3-C2 add a kite") == (Region("C2–D3", 0.5, 0.25, 1.0, 0.75), "add a kite")
    assert parse_region_reply("--region b1 add a kite") == (Region("B1", 0.25, 0.0, 0.5, 0.25), "add a kite")


def test_region_after_a_lone_double_dash_is_prompt():
    text = "draw a flag reading -- --region top"
    assert parse_region_reply(text) == (None, text)


@pytest.mark.parametrize(("text", "problem"), [
    ("--region diagonal add a sun", "`--region diagonal` is not a region"),
    ("--region upper-left add a sun", "`--region upper-left` is not a region"),
    ("--region", "`--region` needs a value"),
    ("--region= add a sun", "`--region` needs a value"),
    ("--region --quality high add a sun", "`--region` needs a value"),
    ("--region top --region left add a sun", "`--region` is given twice"),
    ("C2: --region top add a sun", "two regions"),
    ("--region E5 add a sun", "`E5` is not a grid cell"),
])
def test_region_option_mistakes(text, problem):
    with pytest.raises(InvalidOption) as caught:
        parse_region_reply(text)
    assert problem in str(caught.value)
    assert "top-left, top-right, bottom-left, bottom-right, top, bottom, left, right or center" in str(caught.value)


def test_region_rejects_boxes_outside_the_image():
    with pytest.raises(ValueError):
        Region("bad", 0.5, 0.0, 0.5, 1.0)
    with pytest.raises(ValueError):
        Region("bad", 0.0, 0.0, 1.0, 1.5)


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


# the grid picture ----------------------------------------------------------------------------------------------


def grid_edges(width: int, height: int) -> tuple[list[int], list[int]]:
    return ([cell_box(k, 0, width, height)[0] for k in range(4)] + [width],
            [cell_box(0, k, width, height)[1] for k in range(4)] + [height])


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P"])
@pytest.mark.parametrize("size", [(512, 512), (768, 512), (300, 700)])
def test_grid_keeps_every_pixel_away_from_lines_and_labels(mode, size):
    original = picture(size, mode)
    data = encode(original)
    grid = decoded(draw_grid(data))
    has_alpha = mode in ("RGBA", "LA")
    assert (grid.format, grid.size, grid.mode) == ("PNG", size, "RGBA" if has_alpha else "RGB")
    expected = original.convert(grid.mode)
    xs, ys = grid_edges(*size)
    for column in range(4):
        for row in range(4):
            middle_x, middle_y = (xs[column] + xs[column + 1]) // 2, (ys[row] + ys[row + 1]) // 2
            box = (middle_x - 8, middle_y - 8, middle_x + 8, middle_y + 8)
            assert grid.crop(box).tobytes() == expected.crop(box).tobytes(), (column, row)


@pytest.mark.parametrize("size", [(1024, 1024), (1536, 1024), (300, 700)])
def test_grid_draws_lines_cell_names_and_edge_labels(size):
    original = picture(size)
    grid = decoded(draw_grid(encode(original)))
    assert grid != original
    xs, ys = grid_edges(*size)
    # Each inner line is white on its boundary (with a dark edge beside it), from one side to the other.
    for x in xs[1:4]:
        for y in (ys[1] + (ys[2] - ys[1]) // 2, size[1] - 1):
            assert grid.getpixel((x, y)) == (255, 255, 255)
            assert grid.getpixel((x - 2, y)) == (0, 0, 0)
    for y in ys[1:4]:
        assert grid.getpixel((size[0] - 1, y)) == (255, 255, 255)
    # Every cell has its name in the top-left corner: the corner changes, darker under the translucent box.
    for column in range(4):
        for row in range(4):
            corner = (xs[column] + 4, ys[row] + 4, xs[column] + 12, ys[row] + 10)
            darker = ImageChops.subtract(original.crop(corner), grid.crop(corner)).convert("L")
            assert darker.getextrema()[1] > 20, (column, row)
    # Column letters along the top, centred on each column; row numbers down the left, centred on each row.
    for column in range(4):
        middle = (xs[column] + xs[column + 1]) // 2
        assert grid.getpixel((middle, 6)) != original.getpixel((middle, 6)), column
        assert grid.getpixel((middle, 60)) == original.getpixel((middle, 60))  # only a small label
    for row in range(4):
        middle = (ys[row] + ys[row + 1]) // 2
        assert grid.getpixel((6, middle)) != original.getpixel((6, middle)), row


def test_grid_output_is_a_new_png_not_the_input():
    data = encode(picture((256, 256)))
    out = draw_grid(data)
    assert out != data
    assert out.startswith(b"\x89PNG\r\n\x1a\n")
    assert decoded(data) == picture((256, 256))  # the input bytes still hold the untouched picture


@pytest.mark.parametrize(("image", "fmt", "mode"), [
    (picture((64, 64)), "PNG", "RGB"),
    (picture((64, 200), "L"), "PNG", "RGB"),
    (picture((200, 64), "RGBA"), "PNG", "RGBA"),
    (picture((64, 64), "P"), "GIF", "RGB"),
    (picture((96, 80)), "JPEG", "RGB"),
    (picture((640, 360)), "WEBP", "RGB"),
])
def test_grid_works_for_small_images_and_other_formats(image, fmt, mode):
    grid = decoded(draw_grid(encode(image, fmt)))
    assert (grid.format, grid.size, grid.mode) == ("PNG", image.size, mode)
    assert grid != image.convert(mode)


def test_grid_keeps_palette_transparency():
    image = picture((256, 256), "P")
    image.info["transparency"] = image.getpixel((160, 160))  # the colour in the middle of cell C3 becomes clear
    grid = decoded(draw_grid(encode(image, transparency=image.info["transparency"])))
    assert grid.mode == "RGBA"
    assert grid.getpixel((160, 160))[3] == 0
    assert grid.getpixel((160, 160)) == image.convert("RGBA").getpixel((160, 160))


def test_grid_refuses_what_is_not_an_image():
    with pytest.raises(AttachmentError, match="not an image I can read"):
        draw_grid(b"not an image at all")


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
