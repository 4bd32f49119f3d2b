"""What the image API stand-in's tests share: the day they live on, the model they use, and helpers to build
requests and check answers against OpenAI's OpenAPI description."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Awaitable, Callable
from datetime import date

import anyio
import httpx
from PIL import Image

from bot.money import tokens
from bot.money.catalogue import Catalogue
from standins.images_api import ImageAPIStandIn
from tests.standins.openapi import openapi_validator

KEY = "sk-standin"
AZURE_KEY = "azure-standin-key"
AZURE_VERSION = "2025-04-01-preview"
GEN = "/images/generations"
EDIT = "/images/edits"
TODAY = date(2026, 12, 8)  # after the 2026-12-01 shutdowns, before Azure retires gpt-image-1.5 (2026-12-16)
CATALOGUE = Catalogue.load()
MODEL = "gpt-image-2.6-sunburst"  # live, with everything: markup, complexity, xhigh/max, GIF, SVG
CAPS = CATALOGUE.capabilities(MODEL, "openai")
SHUT_DOWN_ON_OPENAI = ("gpt-image-1", "gpt-image-1.5", "gpt-image-1.5-2025-12-16", "gpt-image-1-mini",
                       "chatgpt-image-latest", "dall-e-2", "dall-e-3")


def azure_path(operation: str, deployment: str = "gpt-image-1", version: str | None = AZURE_VERSION) -> str:
    query = f"?api-version={version}" if version else ""
    return f"/openai/deployments/{deployment}/images/{operation}{query}"


def png(size=(64, 64), mode="RGB", colour=(255, 0, 0), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    colour = colour[: len(mode)] if isinstance(colour, tuple) else colour
    Image.new(mode, size, colour).save(buffer, fmt)
    return buffer.getvalue()


def marks(size=(64, 64)) -> bytes:
    """A markup PNG: a red stroke on a transparent canvas."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, size[1] // 2, size[0], size[1] // 2 + 2))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def gen_body(**overrides) -> dict:
    return {"model": MODEL, "prompt": "a sea otter in a beret", **overrides}


def ok(response: httpx.Response) -> dict:
    """A 200 whose body is a valid ImagesResponse."""
    assert response.status_code == 200, response.text
    result = response.json()
    openapi_validator("ImagesResponse").validate(result)
    return result


def assert_error(response: httpx.Response, status: int, *, param=..., code=..., type=...) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    openapi_validator("ErrorResponse").validate(body)
    error = body["error"]
    if param is not ...:
        assert error["param"] == param
    if code is not ...:
        assert error["code"] == code
    if type is not ...:
        assert error["type"] == type
    return error


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def out_tokens(model: str, size: str, quality: str, output_format: str = "png") -> int:
    return tokens.output_image_tokens(CATALOGUE.capabilities(model, "openai"), size, quality, output_format)


async def answered_when_stopped(api: ImageAPIStandIn, arrived: Callable[[], Awaitable[object]]) -> httpx.Response:
    """Post one generation, wait until `arrived()` says the stand-in has it, stop the stand-in: the answer."""
    responses: list[httpx.Response] = []
    async with httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=30) as http:

        async def call() -> None:
            responses.append(await http.post(GEN, json=gen_body()))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(call)
            await arrived()
            await api.stop()
    return responses[0]
