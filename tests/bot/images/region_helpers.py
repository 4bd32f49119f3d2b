"""Pictures and cell boxes for the tests of regions and masks."""

import io

from PIL import Image


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
