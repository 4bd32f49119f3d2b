"""Edit regions: where in the image a thread reply asks for a change, and the mask that tells the API.

A reply can start with a cell of a 4 × 4 grid, or two corners of a rectangle of cells:

    C2: add a red balloon          columns A–D left to right, rows 1–4 top to bottom
    C2-D3 add a red balloon        any two corners, either order; the colon may be left out before a space
    --region top-left make it snow quadrants, halves (top, bottom, left, right) or center (the middle half)

`draw_grid` shows users the grid on their image; bot/images/masks.py turns a region into the mask the edit
endpoint takes.

Pixel boundaries: an edge at fraction f of a side n pixels long is at floor(f × n + 0.5) (half rounds up), and a
region covers the pixels from its left/top edge up to, not including, its right/bottom edge. Neighbouring cells
share edges, so the 16 cells tile any image with no gap and no overlap; cell C2 of a 1024 × 1024 image is
x 512..767, y 256..511.

Pure functions, bytes in and bytes out, Pillow only; the image functions are CPU work: call them off the event
loop.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from bot.errors import AttachmentError, InvalidOption
from bot.images.formats import DECODE_ERRORS, MAX_PIXELS, OPEN_FORMATS, clean_png

GRID = 4
COLUMNS = "ABCD"
# left, top, right, bottom as fractions of the image.
NAMED_REGIONS: dict[str, tuple[float, float, float, float]] = {
    "top-left": (0.0, 0.0, 0.5, 0.5),
    "top-right": (0.5, 0.0, 1.0, 0.5),
    "bottom-left": (0.0, 0.5, 0.5, 1.0),
    "bottom-right": (0.5, 0.5, 1.0, 1.0),
    "top": (0.0, 0.0, 1.0, 0.5),
    "bottom": (0.0, 0.5, 1.0, 1.0),
    "left": (0.0, 0.0, 0.5, 1.0),
    "right": (0.5, 0.0, 1.0, 1.0),
    "center": (0.25, 0.25, 0.75, 0.75),
}
_NAME_ALIASES = {"centre": "center", "middle": "center"}
REGION_FORMS = (
    "Start the reply with a grid cell from A1 to D4 (columns A–D left to right, rows 1–4 top to bottom), "
    "as `C2: add a red balloon`, or with two corners of a rectangle of cells, as `C2-D3: …`; "
    f"or use `--region` with {', '.join(list(NAMED_REGIONS)[:-1])} or center."
)
# A cell token: a letter and ASCII digits. Wider than the grid on purpose, so that "E5:" is refused by name.
_CELL = r"[A-Za-z][0-9]+"
_GRID_PREFIX_RE = re.compile(rf"\s*(?P<first>{_CELL})(?:\s*[-–—]\s*(?P<second>{_CELL}))?(?P<end>\s*:|(?=\s)|\Z)")
_CELLS_VALUE_RE = re.compile(rf"(?P<first>{_CELL})(?:[-–—](?P<second>{_CELL}))?")
# Slack on macOS and phones turns a typed "--" into "—" (or "–"); bot/rules/options.py reads those as "--" too.
_REGION_OPTION_RE = re.compile(r"(?:--|—|–)region(?:=(?P<value>.*))?", re.IGNORECASE)
_ANY_OPTION_RE = re.compile(r"(?:--|—|–)[A-Za-z]")


@dataclass(frozen=True)
class Region:
    """A rectangle of the image in fractions 0..1; `name` is what users see ("C2", "C2–D3", "top-left")."""

    name: str
    left: float
    top: float
    right: float
    bottom: float

    def __post_init__(self) -> None:
        if not (0 <= self.left < self.right <= 1 and 0 <= self.top < self.bottom <= 1):
            raise ValueError(f"region {self.name!r} is not a rectangle inside the image")

    def pixel_box(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) in pixels; right and bottom are exclusive, as in Pillow's boxes."""
        return (edge(self.left, width), edge(self.top, height), edge(self.right, width),
                edge(self.bottom, height))


def edge(fraction: float, size: int) -> int:
    """Where the edge at `fraction` of a side `size` pixels long falls: floor(fraction × size + 0.5)."""
    return min(size, max(0, math.floor(fraction * size + 0.5)))


# parsing ---------------------------------------------------------------------------------------------------


def parse_region_reply(text: str) -> tuple[Region | None, str]:
    """Split an edit reply into its region and the rest of the text (the prompt, options included).

    A grid cell or rectangle counts only at the very start. `--region NAME` may stand anywhere before a lone
    `--` (options may stand anywhere in /image text, bot/rules/options.py), and "--region top left" reads as
    top-left. Without a region the text comes back unchanged. Raises InvalidOption (option "region"), naming
    the valid forms, for a cell outside A1–D4 written as a region ("E5: …", "A1-E5 …"), an unknown name, a
    missing value, or two regions. A bare cell-like word outside the grid ("F1 cars racing") is prompt.
    """
    region: Region | None = None
    rest = text
    match = _GRID_PREFIX_RE.match(text)
    if match:
        explicit = match["second"] is not None or match["end"].endswith(":")
        region = _cells_region(match["first"], match["second"], strict=explicit)
        if region is not None:
            rest = text[match.end():].strip()
    option = _find_region_option(rest)
    if option is None:
        return (region, rest) if region is not None else (None, text)
    start, end, value = option
    if region is not None:
        raise InvalidOption(f"The reply names two regions ({region.name} and `--region {value}`): keep one. "
                            f"{REGION_FORMS}", option="region")
    return _named_region(value), _join(rest[:start], rest[end:])


def _cells_region(first: str, second: str | None, *, strict: bool) -> Region | None:
    one = _cell(first)
    other = _cell(second) if second is not None else one
    if one is None or other is None:
        if not strict:
            return None
        bad = first if one is None else second
        raise InvalidOption(f"`{bad}` is not a grid cell: the grid has columns A–D and rows 1–4. {REGION_FORMS}",
                            option="region")
    (col_a, row_a), (col_b, row_b) = one, other
    left, right = sorted((col_a, col_b))
    top, bottom = sorted((row_a, row_b))
    first_name, last_name = f"{COLUMNS[left]}{top + 1}", f"{COLUMNS[right]}{bottom + 1}"
    name = first_name if first_name == last_name else f"{first_name}–{last_name}"
    return Region(name, left / GRID, top / GRID, (right + 1) / GRID, (bottom + 1) / GRID)


def _cell(token: str) -> tuple[int, int] | None:
    """(column, row) counted from 0, or None when the token is not a cell of the grid."""
    column, row = token[0].upper(), token[1:]
    if column not in COLUMNS or row not in {str(n) for n in range(1, GRID + 1)}:
        return None
    return COLUMNS.index(column), int(row) - 1


def _find_region_option(text: str) -> tuple[int, int, str] | None:
    """The span of `--region VALUE` in `text` and its value (two words for "top left"), or None."""
    tokens = list(re.finditer(r"\S+", text))
    found: tuple[int, int, str] | None = None
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if token[0] == "--":
            break
        option = _REGION_OPTION_RE.fullmatch(token[0])
        if not option:
            continue
        if found is not None:
            raise InvalidOption(f"`--region` is given twice. {REGION_FORMS}", option="region")
        start, end, value = token.start(), token.end(), option["value"]
        if value is None:
            if index >= len(tokens) or _ANY_OPTION_RE.match(tokens[index][0]):
                raise InvalidOption(f"`--region` needs a value. {REGION_FORMS}", option="region")
            value, end = tokens[index][0], tokens[index].end()
            index += 1
        if not value:
            raise InvalidOption(f"`--region` needs a value. {REGION_FORMS}", option="region")
        if value.lower() in ("top", "bottom") and index < len(tokens) and tokens[index][0].lower() in (
                "left", "right"):
            value, end = f"{value}-{tokens[index][0]}", tokens[index].end()
            index += 1
        found = (start, end, value)
    return found


def _named_region(value: str) -> Region:
    key = value.strip().lower().replace("_", "-")
    key = _NAME_ALIASES.get(key, key)
    if key in NAMED_REGIONS:
        return Region(key, *NAMED_REGIONS[key])
    cells = _CELLS_VALUE_RE.fullmatch(value.strip())
    if cells:
        region = _cells_region(cells["first"], cells["second"], strict=True)
        assert region is not None  # strict: a bad cell raised
        return region
    raise InvalidOption(f"`--region {value}` is not a region. {REGION_FORMS}", option="region")


def _join(before: str, after: str) -> str:
    before, after = before.rstrip(), after.lstrip()
    return f"{before} {after}".strip() if before and after else (before or after).strip()


# the grid picture ------------------------------------------------------------------------------------------

_LABEL_BACKGROUND = (0, 0, 0, 150)  # translucent: the picture stays visible under the labels
_LABEL_TEXT = (255, 255, 255, 255)


def draw_grid(image_bytes: bytes) -> bytes:
    """A PNG copy of the image with the 4 × 4 grid over it: lines, cell names, column letters and row numbers.

    Only the lines and the labels change pixels; everything else keeps the image's own values (RGB, or RGBA
    when the image has transparency). Drawn on the stored pixel grid (no EXIF rotation), the one masks use.
    Raises AttachmentError for bytes that are not an image.
    """
    image = _decode(image_bytes)
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or image.info.get("transparency") is not None
    base = image.convert("RGBA")
    width, height = base.size
    overlay = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)

    xs = [edge(k / GRID, width) for k in range(GRID + 1)]
    ys = [edge(k / GRID, height) for k in range(GRID + 1)]
    # A light line inside a dark one shows on any picture. Thickness grows with the image, slowly.
    thick = max(1, min(width, height) // 1024)
    for x in xs[1:-1]:
        draw.rectangle((x - 2 * thick, 0, x + 2 * thick - 1, height - 1), fill=(0, 0, 0, 255))
    for y in ys[1:-1]:
        draw.rectangle((0, y - 2 * thick, width - 1, y + 2 * thick - 1), fill=(0, 0, 0, 255))
    for x in xs[1:-1]:
        draw.rectangle((x - thick, 0, x + thick - 1, height - 1), fill=(255, 255, 255, 255))
    for y in ys[1:-1]:
        draw.rectangle((0, y - thick, width - 1, y + thick - 1), fill=(255, 255, 255, 255))

    cell_width = min(b - a for a, b in itertools.pairwise(xs))
    cell_height = min(b - a for a, b in itertools.pairwise(ys))
    font = ImageFont.load_default(size=max(8, round(min(cell_width, cell_height) / 8)))
    pad = max(1, round(min(cell_width, cell_height) / 60))
    gap = 2 * thick + 1  # clear of the line
    names = [f"{COLUMNS[column]}{row + 1}" for row in range(GRID) for column in range(GRID)]
    name_width = max(_label_size(draw, name, font, pad)[0] for name in names)
    name_height = max(_label_size(draw, name, font, pad)[1] for name in names)
    for column in range(GRID):
        for row in range(GRID):
            _label(draw, f"{COLUMNS[column]}{row + 1}", font, pad, (xs[column] + gap, ys[row] + gap))
    # Column letters along the top edge and row numbers down the left, centred on their column or row. They
    # repeat what the cell names say, so on small images, where they would cover a cell name, they are left out.
    edge_width, edge_height = _label_size(draw, "D", font, pad)
    if gap + name_width + pad < cell_width // 2 - edge_width // 2:
        for column in range(GRID):
            _label(draw, COLUMNS[column], font, pad, ((xs[column] + xs[column + 1]) // 2, gap), centre_x=True)
    if gap + name_height + pad < cell_height // 2 - edge_height // 2:
        for row in range(GRID):
            _label(draw, str(row + 1), font, pad, (gap, (ys[row] + ys[row + 1]) // 2), centre_y=True)

    # Where the overlay is fully transparent, alpha_composite copies the image's pixel unchanged.
    result = Image.alpha_composite(base, overlay)
    return clean_png(result if alpha else result.convert("RGB"))


_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont  # load_default gives the bitmap font without FreeType


def _label_size(draw: ImageDraw.ImageDraw, text: str, font: _Font, pad: int) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return int(right - left) + 2 * pad, int(bottom - top) + 2 * pad


def _label(draw: ImageDraw.ImageDraw, text: str, font: _Font, pad: int, at: tuple[int, int], *,
           centre_x: bool = False, centre_y: bool = False) -> None:
    """`text` in white on a translucent dark box whose top-left corner (or centre, per axis) is `at`."""
    left, top, _, _ = draw.textbbox((0, 0), text, font=font)
    box_width, box_height = _label_size(draw, text, font, pad)
    x = at[0] - box_width // 2 if centre_x else at[0]
    y = at[1] - box_height // 2 if centre_y else at[1]
    draw.rectangle((x, y, x + box_width - 1, y + box_height - 1), fill=_LABEL_BACKGROUND)
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=_LABEL_TEXT)


def _decode(data: bytes) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data), formats=OPEN_FORMATS) as image:
            if image.width * image.height > MAX_PIXELS:
                raise AttachmentError(f"The image is {image.width}×{image.height}: too large to open safely.")
            if getattr(image, "is_animated", False):
                image.seek(0)
            image.load()
            return image.copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AttachmentError("The image is too large to open safely.") from exc
    except AttachmentError:
        raise
    except DECODE_ERRORS as exc:
        raise AttachmentError("That file is not an image I can read (or it is damaged).") from exc
