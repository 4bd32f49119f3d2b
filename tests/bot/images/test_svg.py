"""bot/images/svg.py, through imaging's `inspect` and `svg_preview`: an SVG's size is read as resvg reads it;
entities, DOCTYPEs and XML that is not SVG are refused; a preview never reads what the document refers to."""

import base64

import pytest
from PIL import Image

from bot.errors import AttachmentError
from bot.images import imaging
from bot.images.imaging import inspect, svg_preview
from tests.bot.images.pictures import (
    encode,
    picture,
)
from tests.slack_views import decoded

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
