"""The offline provider: draws a deterministic picture with Pillow instead of calling an image API.

It lets imagebot run (demo, first try-out, a workspace without a key) with no network and no money. It
answers through the same interface as `ImageAPI` and reports `usage` the way the real API would (from
OpenAI's published token tables), so footnotes and ledgers look exactly as they will with a real key,
but every result is labelled "offline": nothing was billed.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import textwrap

from PIL import Image, ImageDraw, ImageOps

from bot.image_api import OnPartial
from bot.models import EditRequest, GenerateRequest, ImageOptions, ImageResult, InputImage, OutputImage
from bot.pricing import Usage
from bot.tokens import input_image_tokens, output_image_tokens, prompt_text_tokens, resolve_quality

_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


class OfflineImageAPI:
    """Deterministic for a fresh instance; within one instance each call draws new variants, as a real model
    would, so "Retry" and "Variations" show different pictures."""

    provider = "offline"

    def __init__(self) -> None:
        self._calls = 0

    def _next_seed(self) -> int:
        seed, self._calls = self._calls * 16, self._calls + 1
        return seed

    async def generate(self, request: GenerateRequest, on_partial: OnPartial | None = None) -> ImageResult:
        # offline: the final image at once, no previews
        return await asyncio.to_thread(self._generate, request, self._next_seed())

    async def edit(self, request: EditRequest, on_partial: OnPartial | None = None) -> ImageResult:
        return await asyncio.to_thread(self._edit, request, self._next_seed())

    def _generate(self, request: GenerateRequest, seed: int = 0) -> ImageResult:
        size = _resolve_size(request.options.size, None)
        images = tuple(
            _encode(draw_scene(request.prompt, size, variant=seed + i, transparent=request.options.transparent),
                    request.options)
            for i in range(request.options.n)
        )
        usage = Usage(
            input_text_tokens=prompt_text_tokens(request.prompt),
            output_image_tokens=output_image_tokens(request.options.model, size, request.options.quality)
            * request.options.n,
        )
        return _result(images, usage, request.options, size)

    def _edit(self, request: EditRequest, seed: int = 0) -> ImageResult:
        base = request.images[0]
        size = _resolve_size(request.options.size, base)
        references = request.images[1:]
        images = tuple(
            _encode(draw_edit(base, references, request.prompt, size, variant=seed + i, mask=request.mask),
                    request.options)
            for i in range(request.options.n)
        )
        usage = Usage(
            input_text_tokens=prompt_text_tokens(request.prompt, input_images=len(request.images)),
            input_image_tokens=sum(
                input_image_tokens(img.width, img.height, fidelity=request.options.input_fidelity or "low",
                                   model=request.options.model) for img in request.images
            ),
            output_image_tokens=output_image_tokens(request.options.model, size, request.options.quality)
            * request.options.n,
        )
        return _result(images, usage, request.options, size)


def _result(images: tuple[OutputImage, ...], usage: Usage, options: ImageOptions, size: str) -> ImageResult:
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
              variant: int = 0, mask: bytes | None = None) -> Image.Image:
    """The base image, visibly changed by the prompt (only where a mask is transparent, when there is one);
    reference images shown along the bottom edge."""
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
