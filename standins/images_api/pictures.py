"""The pictures: deterministic drawings seeded by the prompt (run in worker threads), encoded as asked."""

from __future__ import annotations

import hashlib
import io
import random
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw, ImageOps

from bot.providers.offline import xml_text
from standins.images_api.facts import parse_size
from standins.images_api.jobs import Job


def render_all(job: Job, kind: str) -> list[bytes]:
    if job.output_format == "gif":
        return [_render_gif(job, index) for index in range(job.n)]
    if job.output_format == "svg":
        return [_render_svg(job, index) for index in range(job.n)]
    return [render_one(job, index, kind, None) for index in range(job.n)]


def _seed(job: Job, index: int) -> bytes:
    return hashlib.sha256(f"{job.prompt}\x00{index}".encode()).digest()


def _picture(job: Job, seed: bytes, size: tuple[int, int], transparent: bool) -> Image.Image:
    if job.operation == "edits":
        return _edit_picture(job, seed, size, transparent)
    return _generation_picture(seed, size, transparent)


def render_one(job: Job, index: int, kind: str, partial: int | None) -> bytes:
    """One encoded still picture. `partial` k of P renders the final picture faded toward grey by (P-k)/(P+1)."""
    width, height = parse_size(job.resolved_size) or (1024, 1024)
    transparent = job.resolved_background == "transparent"
    seed = _seed(job, index)
    picture = _picture(job, seed, (width, height), transparent)
    if kind == "photo":
        picture = _add_noise(picture, seed)
    if partial is not None:
        grey = Image.new(picture.mode, picture.size, (128, 128, 128, 255)[: len(picture.getbands())])
        picture = Image.blend(grey, picture, (partial + 1) / (job.partial_images + 1))
    return _encode(picture, job.output_format, job.output_compression, kind)


def _render_gif(job: Job, index: int) -> bytes:
    """An animated GIF: the still picture with a disc crossing it, `frame_count` frames of `frame_duration_ms`
    each, looping. Every frame differs (Pillow would merge identical ones)."""
    width, height = parse_size(job.resolved_size) or (1024, 1024)
    seed = _seed(job, index)
    still = _picture(job, seed, (width, height), False).convert("RGB").quantize(colors=255)
    palette = (still.getpalette() or [])[: 255 * 3]
    palette += [0] * (255 * 3 - len(palette))
    palette += list(_colour(random.Random(seed + b"gif")))  # index 255: the disc
    still.putpalette(palette)
    radius = max(4, min(width, height) // 10)
    frames = []
    for number in range(job.frame_count):
        frame = still.copy()
        x = radius + (width - 2 * radius) * number // max(job.frame_count - 1, 1)
        y = height // 2
        ImageDraw.Draw(frame).ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=job.frame_duration_ms, loop=0,
                   optimize=False)
    return buffer.getvalue()


def _render_svg(job: Job, index: int) -> bytes:
    """An SVG document (UTF-8) of the resolved size: a gradient background and a few shapes seeded by the prompt,
    with the prompt's words as its <title>."""
    width, height = parse_size(job.resolved_size) or (1024, 1024)
    rng = random.Random(_seed(job, index))
    if job.operation == "edits":  # the first input's average colour, so an edit looks like its input
        left, right = _average_colour(job.images[0].data), _colour(rng)
    else:
        left, right = _colour(rng), _colour(rng)
    words = " ".join(job.prompt.split())
    shapes = []
    for _ in range(3 + rng.randrange(3)):
        x, y = rng.randrange(width * 3 // 4), rng.randrange(height * 3 // 4)
        w, h = width // 8 + rng.randrange(width // 4), height // 8 + rng.randrange(height // 4)
        fill = _hex(_colour(rng))
        if rng.random() < 0.5:
            shapes.append(f'  <ellipse cx="{x + w // 2}" cy="{y + h // 2}" rx="{w // 2}" ry="{h // 2}" fill="{fill}"/>')
        else:
            shapes.append(f'  <rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}"/>')
    hex_left, hex_right = (_hex(c) for c in (left, right))
    document = "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"  <title>{escape(xml_text(words))}</title>",  # a prompt may hold characters XML cannot
        '  <defs><linearGradient id="background" x1="0" y1="0" x2="1" y2="0">'
        f'<stop offset="0" stop-color="{hex_left}"/><stop offset="1" stop-color="{hex_right}"/>'
        "</linearGradient></defs>",
        f'  <rect x="0" y="0" width="{width}" height="{height}" fill="url(#background)"/>',
        *shapes,
        "</svg>",
        "",
    ])
    return document.encode("utf-8")


def _average_colour(data: bytes) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(data)) as source:
        pixel = source.convert("RGB").resize((1, 1)).getpixel((0, 0))
    assert isinstance(pixel, tuple)  # an RGB image's pixel is (r, g, b)
    return int(pixel[0]), int(pixel[1]), int(pixel[2])


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def _generation_picture(seed: bytes, size: tuple[int, int], transparent: bool) -> Image.Image:
    """A horizontal gradient between two colours plus a few shapes, all seeded by the prompt. Rows are
    identical under the shapes, so PNG encoding is quick and small."""
    width, height = size
    rng = random.Random(seed)
    left, right = _colour(rng), _colour(rng)
    row = bytearray()
    for x in range(width):
        t = x / max(width - 1, 1)
        row += bytes(round(a + (b - a) * t) for a, b in zip(left, right, strict=True))
    picture = Image.frombytes("RGB", (width, 1), bytes(row)).resize((width, height), Image.Resampling.NEAREST)
    if transparent:
        picture = picture.convert("RGBA")
        picture.putalpha(0)  # the background is fully transparent; only the shapes are opaque
    draw = ImageDraw.Draw(picture)
    for _ in range(3 + rng.randrange(3)):
        x0, y0 = rng.randrange(width * 3 // 4), rng.randrange(height * 3 // 4)
        x1, y1 = x0 + width // 8 + rng.randrange(width // 4), y0 + height // 8 + rng.randrange(height // 4)
        fill = (*_colour(rng), 255) if transparent else _colour(rng)
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=fill)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=fill)
    return picture


def _edit_picture(job: Job, seed: bytes, size: tuple[int, int], transparent: bool) -> Image.Image:
    """The first input image, fitted to the output size, tinted 35% toward a prompt-seeded colour, with a
    band across its middle. With a mask, only the mask's fully transparent area is changed."""
    rng = random.Random(seed)
    with Image.open(io.BytesIO(job.images[0].data)) as source:
        original = ImageOps.fit(source.convert("RGBA"), size, Image.Resampling.BILINEAR)
    tint = Image.new("RGBA", size, (*_colour(rng), 255))
    edited = Image.blend(original, tint, 0.35)
    edited.putalpha(original.getchannel("A"))
    width, height = size
    band = (0, height * 2 // 5, width, height // 2)
    ImageDraw.Draw(edited).rectangle(band, fill=(*_colour(rng), 0 if transparent else 255))
    if job.mask is not None:
        with Image.open(io.BytesIO(job.mask.data)) as mask_image:
            alpha = ImageOps.fit(mask_image.convert("RGBA"), size, Image.Resampling.NEAREST).getchannel("A")
        edit_area = alpha.point(lambda a: 255 if a == 0 else 0)
        edited = Image.composite(edited, original, edit_area)
    return edited if transparent else edited.convert("RGB")


def _add_noise(picture: Image.Image, seed: bytes) -> Image.Image:
    """Blend in 3% of seeded random noise: a 1536x1024 PNG then weighs ~2.6 MB, like a real photo."""
    noise = Image.frombytes("RGB", picture.size, random.Random(seed).randbytes(picture.width * picture.height * 3))
    rgb = Image.blend(picture.convert("RGB"), noise, 0.03)
    if picture.mode == "RGBA":
        rgb.putalpha(picture.getchannel("A"))
    return rgb


def _encode(picture: Image.Image, fmt: str, compression: int, kind: str) -> bytes:
    buffer = io.BytesIO()
    if fmt == "png":
        # Flat pictures compress best and fastest at the default level; noisy ones only get slower.
        picture.save(buffer, "PNG", compress_level=1 if kind == "photo" else 6)
    elif fmt == "jpeg":
        picture.convert("RGB").save(buffer, "JPEG", quality=max(1, min(compression, 95)))
    else:
        picture.save(buffer, "WEBP", quality=compression, method=0)
    return buffer.getvalue()
