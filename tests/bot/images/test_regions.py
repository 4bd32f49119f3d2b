"""bot/images/regions.py: replies name a region, and the grid picture shows the cells."""


import pytest
from PIL import ImageChops

from bot.errors import AttachmentError, InvalidOption
from bot.images.regions import NAMED_REGIONS, Region, draw_grid, parse_region_reply
from tests.bot.images.region_helpers import cell_box, encode, picture
from tests.slack_views import decoded

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
