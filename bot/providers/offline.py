"""The offline provider: draws a deterministic picture with Pillow instead of calling an image API.

It lets imagebot run (demo, first try-out, a workspace without a key) with no network and no money. It answers
through the same interface as `ImageAPI` (bot/providers/base.py `ImageProvider`) and reports `usage` the way the real
API would (estimated from the model's capabilities in the catalogue: bot/money/tokens.py), so footnotes and ledgers
look exactly as they will with a real key, but every result is labelled "offline": nothing was billed.

Formats as the API returns them: PNG, JPEG and WEBP pictures; an animated, looping GIF (`frames` frames of
`frame_ms` each, the model's defaults otherwise) whose shapes move; an SVG document drawn as vector shapes,
with `svg_usage` for the model that would have written it (token counts estimated from its length).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import re
import textwrap
from collections.abc import Callable
from functools import partial
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageOps

from bot.errors import InvalidRequest
from bot.models import EditRequest, GenerateRequest, ImageOptions, ImageResult, InputImage, OutputImage
from bot.money.catalogue import Catalogue
from bot.money.catalogue_records import Capabilities
from bot.money.pricing import SvgUsage, Usage
from bot.money.tokens import (
    input_image_tokens,
    output_image_tokens,
    prompt_text_tokens,
    reads_high_fidelity,
    resolve_quality,
)
from bot.providers.base import OnAnswer, OnLost, OnPartial

_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
#: svg_usage.model when the request names no SVG author: plainly not a real model, so never priced.
OFFLINE_SVG_AUTHOR = "offline-svg-author"
_LABEL = "imagebot · offline"
# Characters XML 1.0 cannot carry at all, even escaped (control characters other than tab and newlines).
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MOSAIC = 12  # an edit's SVG shows its base image as a grid of this many cells a side


class OfflineImageAPI:
    """Deterministic for a fresh instance; within one instance each call draws new variants, as a real model
    would, so "Retry" and "Variations" show different pictures.

    `catalogue` says what each model can do and how the API counts its tokens; without one, the built-in
    catalogue is loaded here (not at import), without the operator's IMAGEBOT_MODELS."""

    provider = "offline"

    def __init__(self, *, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue if catalogue is not None else Catalogue.load()
        self._calls = 0

    def _next_seed(self) -> int:
        seed, self._calls = self._calls * 16, self._calls + 1
        return seed

    async def generate(self, request: GenerateRequest, on_partial: OnPartial | None = None,
                       on_lost: OnLost | None = None, on_answer: OnAnswer | None = None) -> ImageResult:
        # offline: the final image at once, no previews (so no partial-image tokens either), no answer ever lost
        if on_answer is not None:
            await on_answer()
        return await asyncio.to_thread(self._generate, request, self._next_seed())

    async def edit(self, request: EditRequest, on_partial: OnPartial | None = None,
                   on_lost: OnLost | None = None, on_answer: OnAnswer | None = None) -> ImageResult:
        if on_answer is not None:
            await on_answer()
        return await asyncio.to_thread(self._edit, request, self._next_seed())

    def _capabilities(self, options: ImageOptions) -> Capabilities:
        """The model's capabilities, refusing what the API would refuse with a 400."""
        caps = self.catalogue.capabilities(options.model, self.provider)
        if caps is None:
            raise InvalidRequest(f"The model '{options.model}' does not exist.", param="model",
                                 api_code="model_not_found")
        fmt = options.output_format
        if fmt not in caps.formats or fmt not in (*_PIL_FORMAT, "gif", "svg"):
            raise InvalidRequest(f"output_format '{fmt}' is not supported by {options.model}; it takes "
                                 f"{', '.join(caps.formats)}.", param="output_format", api_code="invalid_value")
        if fmt == "gif" and caps.gif is not None and options.frames is not None \
                and not caps.gif.min_frames <= options.frames <= caps.gif.max_frames:
            raise InvalidRequest(f"frame_count must be {caps.gif.min_frames} to {caps.gif.max_frames}, not "
                                 f"{options.frames}.", param="frame_count", api_code="invalid_value")
        if fmt == "gif" and caps.gif is not None and options.frame_ms is not None \
                and not 0 < options.frame_ms <= caps.gif.max_frame_ms:
            raise InvalidRequest(f"frame_duration_ms must be 1 to {caps.gif.max_frame_ms}, not {options.frame_ms}.",
                                 param="frame_duration_ms", api_code="invalid_value")
        return caps

    def _generate(self, request: GenerateRequest, seed: int = 0) -> ImageResult:
        options = request.options
        caps = self._capabilities(options)
        size = _resolve_size(options.size, None)
        images = tuple(
            _output(caps, options,
                    still=partial(draw_scene, request.prompt, size, variant=seed + i, transparent=options.transparent),
                    vector=partial(svg_scene, request.prompt, size, variant=seed + i, transparent=options.transparent))
            for i in range(options.n)
        )
        usage = Usage(
            input_text_tokens=prompt_text_tokens(request.prompt),
            output_image_tokens=output_image_tokens(caps, size, options.quality, options.output_format) * options.n,
        )
        return _result(images, usage, options, size, self._svg_usage(request.prompt, images, options, size))

    def _edit(self, request: EditRequest, seed: int = 0) -> ImageResult:
        options = request.options
        caps = self._capabilities(options)
        if not request.images:
            raise InvalidRequest(f"An edit takes 1 to {caps.max_inputs} input images.", param="image")
        base = request.images[0]
        size = _resolve_size(options.size, base)
        references = request.images[1:]

        def still(variant: int) -> Image.Image:
            return draw_edit(base, references, request.prompt, size, variant=variant, mask=request.mask,
                             markup=request.markup)

        images = tuple(
            _output(caps, options, still=partial(still, seed + i),
                    vector=partial(svg_edit, base, request.prompt, size, variant=seed + i))
            for i in range(options.n)
        )
        high = reads_high_fidelity(caps, options.input_fidelity)
        usage = Usage(
            input_text_tokens=prompt_text_tokens(request.prompt, input_images=len(request.images)),
            input_image_tokens=sum(input_image_tokens(self.catalogue.inputs, img.width, img.height, high_fidelity=high)
                                   for img in request.images),
            output_image_tokens=output_image_tokens(caps, size, options.quality, options.output_format) * options.n,
        )
        return _result(images, usage, options, size, self._svg_usage(request.prompt, images, options, size))

    def _svg_usage(self, prompt: str, images: tuple[OutputImage, ...], options: ImageOptions,
                   size: str) -> SvgUsage | None:
        """What the SVG author would report: it reads the prompt and the rendered reference image and writes
        the SVG (~4 characters a token). An estimate, like all offline usage, and never billed."""
        if options.output_format != "svg":
            return None
        width, height = (int(v) for v in size.split("x"))
        reads = prompt_text_tokens(prompt) + input_image_tokens(self.catalogue.inputs, width, height,
                                                                high_fidelity=False)
        return SvgUsage(model=options.svg_model or OFFLINE_SVG_AUTHOR, input_tokens=reads * len(images),
                        output_tokens=sum(math.ceil(len(image.data) / 4) for image in images), reasoning_tokens=0)


def _output(caps: Capabilities, options: ImageOptions, *, still: Callable[[], Image.Image],
            vector: Callable[[], str]) -> OutputImage:
    """One output image in the requested format: `vector` is called for an SVG, `still` for everything else."""
    fmt = options.output_format
    if fmt == "svg":
        return OutputImage(data=vector().encode("utf-8"), format="svg")
    if fmt == "gif":
        rule = caps.gif
        frames = options.frames or (rule.default_frames if rule else 9)
        frame_ms = options.frame_ms or (rule.default_frame_ms if rule else 200)
        return OutputImage(data=animate(still(), frames=frames, frame_ms=frame_ms,
                                        transparent=options.transparent), format="gif")
    return _encode(still(), options)


def _result(images: tuple[OutputImage, ...], usage: Usage, options: ImageOptions, size: str,
            svg_usage: SvgUsage | None) -> ImageResult:
    return ImageResult(
        images=images,
        usage=usage,
        model=options.model,
        size=size,
        quality=resolve_quality(options.quality),
        output_format=options.output_format,
        background="transparent" if options.transparent else "opaque",
        provider="offline",
        request_id=None,
        svg_usage=svg_usage,
    )


def _resolve_size(size: str, base: InputImage | None) -> str:
    if size != "auto":
        return size
    if base is None or base.width == base.height:
        return "1024x1024"
    return "1536x1024" if base.width > base.height else "1024x1536"


def _palette(text: str, variant: int) -> list[tuple[int, int, int]]:
    digest = hashlib.sha256(f"{variant}:{text}".encode()).digest()
    return [(digest[i], digest[i + 1], digest[i + 2]) for i in range(0, 30, 3)]


def draw_scene(prompt: str, size: str, *, variant: int = 0, transparent: bool = False) -> Image.Image:
    """A picture that is always the same for the same prompt and variant, and different otherwise."""
    width, height = (int(v) for v in size.split("x"))
    colors = _palette(prompt, variant)
    gradient = Image.linear_gradient("L").resize((width, height))
    if transparent:
        image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    else:
        image = ImageOps.colorize(gradient, colors[0], colors[1])  # RGB: an opaque result has no alpha at all
    draw = ImageDraw.Draw(image, "RGBA")  # "RGBA" blends the translucent caption band instead of copying alpha
    unit = min(width, height)
    for i, color in enumerate(colors[2:8]):
        x = (color[0] * width) // 256
        y = (color[1] * height) // 256
        r = unit // 12 + (color[2] * unit) // 1536
        box = (x - r, y - r, x + r, y + r)
        (draw.ellipse if i % 2 else draw.rectangle)(box, fill=(*color, 255), outline=(255, 255, 255, 255),
                                                    width=max(2, unit // 256))
    _caption(draw, prompt, width, height, top=False)
    return image


def draw_edit(base: InputImage, references: tuple[InputImage, ...], prompt: str, size: str, *,
              variant: int = 0, mask: bytes | None = None, markup: bytes | None = None) -> Image.Image:
    """The base image, visibly changed by the prompt (only where a mask is transparent, when there is one);
    reference images shown along the bottom edge; the marks of a markup image drawn over it, as seen."""
    width, height = (int(v) for v in size.split("x"))
    with Image.open(io.BytesIO(base.data)) as opened:
        source = ImageOps.fit(opened.convert("RGB"), (width, height))
    tint = _palette(prompt, variant)[0]
    image = Image.blend(source, Image.new("RGB", (width, height), tint), 0.35)
    draw = ImageDraw.Draw(image, "RGBA")
    thumb = min(width, height) // 5
    for i, ref in enumerate(references[:6]):
        with Image.open(io.BytesIO(ref.data)) as opened:
            small = ImageOps.fit(opened.convert("RGB"), (thumb, thumb))
        x = 16 + i * (thumb + 12)
        image.paste(small, (x, height - thumb - 16))
        draw.rectangle((x, height - thumb - 16, x + thumb, height - 16), outline=(255, 255, 255, 255), width=3)
    if markup is not None:
        with Image.open(io.BytesIO(markup)) as opened:
            marks = opened.convert("RGBA").resize((width, height))
        image.paste(marks, (0, 0), marks)
    _caption(draw, prompt, width, height, top=True)
    if mask is not None:
        with Image.open(io.BytesIO(mask)) as opened:
            alpha = opened.convert("RGBA").getchannel("A").resize((width, height))
        # Like the API: change only where the mask is fully transparent, keep the rest of the base.
        image = Image.composite(image, source, alpha.point(lambda a: 255 if a == 0 else 0))
    return image


def _caption(draw: ImageDraw.ImageDraw, prompt: str, width: int, height: int, *, top: bool) -> None:
    font_size = max(14, min(width, height) // 28)
    lines = textwrap.wrap(prompt, width=max(16, width // (font_size // 2 + 1)))[:3]
    text = "\n".join([*lines, "imagebot · offline"])
    box_height = font_size * (len(lines) + 1) + font_size * 2
    y0 = 0 if top else height - box_height
    draw.rectangle((0, y0, width, y0 + box_height), fill=(0, 0, 0, 150))
    draw.multiline_text((font_size, y0 + font_size), text, fill=(255, 255, 255, 255), font_size=font_size)


def _encode(image: Image.Image, options: ImageOptions) -> OutputImage:
    out = io.BytesIO()
    fmt = options.output_format
    if fmt == "jpeg":
        image = image.convert("RGB")
    image.save(out, format=_PIL_FORMAT[fmt])
    return OutputImage(data=out.getvalue(), format=fmt)


def animate(image: Image.Image, *, frames: int, frame_ms: int, transparent: bool = False) -> bytes:
    """A looping animated GIF of `frames` frames, `frame_ms` each: the picture (caption included) with a white
    disc circling its centre, one turn per loop. GIF counts time in hundredths of a second, so a `frame_ms`
    that is not a multiple of 10 is rounded down to one (at least 10). Quantised once, so all frames share a palette:
    index 254 is the disc's white, 255 the transparent colour of a transparent picture."""
    width, height = image.size
    rgba = image.convert("RGBA")
    base = rgba.convert("RGB").quantize(colors=254)
    palette = (base.getpalette() or [])[: 254 * 3]
    base.putpalette([*palette, *[0] * (254 * 3 - len(palette)), 255, 255, 255, 0, 0, 0])
    if transparent:
        base.paste(255, mask=rgba.getchannel("A").point(lambda a: 255 if a < 128 else 0))
    unit = min(width, height)
    radius, orbit = max(3, unit // 14), unit // 4
    drawn = []
    for index in range(frames):
        frame = base.copy()
        angle = 2 * math.pi * index / frames
        x, y = width // 2 + round(orbit * math.cos(angle)), height // 2 + round(orbit * math.sin(angle))
        ImageDraw.Draw(frame).ellipse((x - radius, y - radius, x + radius, y + radius), fill=254)
        drawn.append(frame)
    out = io.BytesIO()
    extra = {"transparency": 255, "disposal": 2} if transparent else {}
    drawn[0].save(out, format="GIF", save_all=True, append_images=drawn[1:], duration=max(10, frame_ms),
                  loop=0, optimize=False, **extra)
    return out.getvalue()


def svg_scene(prompt: str, size: str, *, variant: int = 0, transparent: bool = False) -> str:
    """`draw_scene` as an SVG document: the same gradient and shapes as vector elements, the prompt as its
    <title> and as visible text, labelled offline."""
    width, height = (int(v) for v in size.split("x"))
    colors = _palette(prompt, variant)
    unit = min(width, height)
    parts = [_svg_open(prompt, width, height)]
    if not transparent:
        parts.append(f'<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">'
                     f'<stop offset="0" stop-color="{_hex(colors[0])}"/><stop offset="1" '
                     f'stop-color="{_hex(colors[1])}"/></linearGradient></defs>')
        parts.append(f'<rect width="{width}" height="{height}" fill="url(#sky)"/>')
    stroke = max(2, unit // 256)
    for i, color in enumerate(colors[2:8]):
        x, y = (color[0] * width) // 256, (color[1] * height) // 256
        r = unit // 12 + (color[2] * unit) // 1536
        shape = (f'<circle cx="{x}" cy="{y}" r="{r}"' if i % 2
                 else f'<rect x="{x - r}" y="{y - r}" width="{2 * r}" height="{2 * r}"')
        parts.append(f'{shape} fill="{_hex(color)}" stroke="#ffffff" stroke-width="{stroke}"/>')
    parts.extend(_svg_caption(prompt, width, height, top=False))
    parts.append("</svg>\n")
    return "\n".join(parts)


def svg_edit(base: InputImage, prompt: str, size: str, *, variant: int = 0) -> str:
    """An edit as an SVG: the base image as a tinted mosaic of squares (an SVG author redraws a picture, it
    does not embed it), the prompt on top, labelled offline."""
    width, height = (int(v) for v in size.split("x"))
    cols = _MOSAIC
    rows = max(1, round(_MOSAIC * height / width))
    with Image.open(io.BytesIO(base.data)) as opened:
        small = ImageOps.fit(opened.convert("RGB"), (cols, rows))
    tint = _palette(prompt, variant)[0]
    small = Image.blend(small, Image.new("RGB", small.size, tint), 0.35)
    parts = [_svg_open(prompt, width, height), '<g shape-rendering="crispEdges">']
    for row in range(rows):
        y0, y1 = row * height // rows, (row + 1) * height // rows
        for col in range(cols):
            x0, x1 = col * width // cols, (col + 1) * width // cols
            pixel = small.getpixel((col, row))
            parts.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" '
                         f'fill="{_hex(pixel)}"/>')  # type: ignore[arg-type]
    parts.append("</g>")
    parts.extend(_svg_caption(prompt, width, height, top=True))
    parts.append("</svg>\n")
    return "\n".join(parts)


def _svg_open(prompt: str, width: int, height: int) -> str:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">\n<title>{escape(xml_text(prompt))}</title>')


def _svg_caption(prompt: str, width: int, height: int, *, top: bool) -> list[str]:
    """`_caption` in SVG: a translucent band with the prompt's first lines and the offline label."""
    font_size = max(14, min(width, height) // 28)
    lines = textwrap.wrap(xml_text(prompt), width=max(16, width // (font_size // 2 + 1)))[:3]
    box_height = font_size * (len(lines) + 1) + font_size * 2
    y0 = 0 if top else height - box_height
    parts = [f'<rect x="0" y="{y0}" width="{width}" height="{box_height}" fill="#000000" fill-opacity="0.59"/>',
             f'<g font-family="sans-serif" font-size="{font_size}" fill="#ffffff">']
    for index, line in enumerate([*lines, _LABEL]):
        parts.append(f'<text x="{font_size}" y="{y0 + font_size * (index + 2)}" '
                     f'xml:space="preserve">{escape(line)}</text>')
    parts.append("</g>")
    return parts


def xml_text(text: str) -> str:
    """`text` without the characters XML cannot hold at all (escape() handles the rest)."""
    return _NOT_XML.sub("", text)


def _hex(color: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color[:3])
