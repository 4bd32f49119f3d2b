"""Reading an SVG document safely: parsed with expat, refusing entities and any DOCTYPE but SVG's own standard one,
reading nothing external; its size in pixels as resvg reads it; and the references a preview may follow.

Used by bot/images/imaging.py (`inspect`, `svg_preview`); the SVG itself is never changed, only a copy that is
rendered.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import NoReturn
from xml.parsers import expat

from bot.errors import AttachmentError
from bot.images.formats import ACCEPTED_TEXT, MAX_INPUT_BYTES, MAX_PIXELS

SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# The only references an SVG preview may follow: a fragment of the same document, or a raster picture inlined
# as a data: URI. resvg reads any other href (`<image>`, `<feImage>`) as a local file path (relative ones from
# the working directory), so every other reference is dropped before rendering.
_INLINE_PICTURE = re.compile(r"data:image/(png|jpeg|jpg|gif|webp)[;,]", re.IGNORECASE)
_NUMBER = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z%]*)\s*")
# CSS units at 96 px per inch; an em is resvg's default font size.
_UNITS = {"": 1.0, "px": 1.0, "pt": 96 / 72, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54, "in": 96.0,
          "em": 16.0, "ex": 8.0}


class _Declaration(Exception):
    """An SVG declared a DOCTYPE or an entity: refused before anything in it is used."""


def parse_svg(data: bytes) -> ET.Element:
    """The document's root, parsed with expat directly. Any DOCTYPE refuses the file except the plain
    `<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG …" …>` line SVG editors write, without declarations of its own
    (expat never loads the DTD it names); any entity declaration or external entity reference refuses it too.
    So no entity is ever expanded and nothing outside is read. The root must be an SVG `<svg>` element."""
    if len(data) > MAX_INPUT_BYTES:
        raise AttachmentError(f"That SVG is over 50 MB. Send {ACCEPTED_TEXT}.")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse(*_args: object) -> NoReturn:
        raise _Declaration

    def doctype(_name: str, _system: str | None, public: str | None, internal_subset: int) -> None:
        if internal_subset or not (public or "").startswith("-//W3C//DTD SVG "):
            raise _Declaration

    def name(raw: str) -> str:
        return "{" + raw if "}" in raw else raw

    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = lambda tag, attrs: builder.start(name(tag), {name(k): v for k, v in attrs.items()})
    parser.EndElementHandler = lambda tag: builder.end(name(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        root = builder.close()
    except _Declaration as exc:
        raise AttachmentError(f"That SVG has a DOCTYPE or entities, which I do not read. "
                              f"Send {ACCEPTED_TEXT}.") from exc
    except (expat.ExpatError, ValueError) as exc:  # expat refuses a document without a root element
        raise AttachmentError(f"That file is not an image I can read. Send {ACCEPTED_TEXT}.") from exc
    if root.tag != f"{{{SVG_NS}}}svg":
        raise AttachmentError(f"That file is XML but not an SVG drawing. Send {ACCEPTED_TEXT}.")
    return root


def svg_size(root: ET.Element) -> tuple[int, int]:
    """Width and height in pixels, as resvg reads them: width/height (missing means 100%), percentages of the
    viewBox (or of 100 without one), one missing edge from the viewBox's aspect ratio."""
    view_box = _view_box(root.get("viewBox"))
    width, height = (_length(root.get(edge), view_box[i] if view_box else 100.0)
                     for i, edge in enumerate(("width", "height")))
    if view_box and root.get("width") is None and root.get("height") is not None:
        width = height * view_box[0] / view_box[1]
    elif view_box and root.get("height") is None and root.get("width") is not None:
        height = width * view_box[1] / view_box[0]
    if not (math.isfinite(width) and math.isfinite(height)) or width <= 0 or height <= 0:
        raise AttachmentError(f"That SVG has no size I can read. Send {ACCEPTED_TEXT}.")
    pixels = max(1, int(width + 0.5)), max(1, int(height + 0.5))
    if pixels[0] * pixels[1] > MAX_PIXELS:
        raise AttachmentError(f"That SVG is {pixels[0]}x{pixels[1]}: too large to open safely "
                              f"(over {MAX_PIXELS:,} pixels). Send {ACCEPTED_TEXT}.")
    return pixels


def _length(value: str | None, whole: float) -> float:
    if value is None:
        return whole
    match = _NUMBER.fullmatch(value)
    if match is None or (match[2] != "%" and match[2].lower() not in _UNITS):
        return math.nan
    number = float(match[1])
    return number * whole / 100 if match[2] == "%" else number * _UNITS[match[2].lower()]


def _view_box(value: str | None) -> tuple[float, float] | None:
    """The viewBox's width and height, or None when there is none (or it is not four numbers, or is empty)."""
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.replace(",", " ").split()]
    except ValueError:
        return None
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers) or numbers[2] <= 0 or numbers[3] <= 0:
        return None
    return numbers[2], numbers[3]


def drop_outside_references(root: ET.Element) -> None:
    """Remove, in place, every reference that is not a fragment (`#id`) or an inlined raster picture."""
    for element in root.iter():
        for name in ("href", _XLINK_HREF):
            value = element.get(name)
            if value is not None and not _allowed_reference(value):
                del element.attrib[name]


def _allowed_reference(value: str) -> bool:
    value = value.strip()
    return value.startswith("#") or bool(_INLINE_PICTURE.match(value))
