"""The pictures: animated GIFs, SVG documents (with svg_usage), and photo-like images."""

from __future__ import annotations

import base64
import io
import xml.etree.ElementTree as ET

import httpx
import pytest
from PIL import Image

from standins.images_api import ImageAPIStandIn
from tests.standins.images_api.helpers import (
    CAPS,
    EDIT,
    GEN,
    KEY,
    MODEL,
    TODAY,
    assert_error,
    decode,
    gen_body,
    ok,
    out_tokens,
    png,
)
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


async def test_gif_is_an_animated_gif_of_the_requested_frames(api, client):
    result = ok(await client.post(GEN, json=gen_body(output_format="gif", frame_count=4, frame_duration_ms=123,
                                                     size="1536x1024", quality="low")))
    assert (result["output_format"], result["size"]) == ("gif", "1536x1024")
    gif = decode(result["data"][0]["b64_json"])
    assert (gif.format, gif.size, gif.n_frames, gif.is_animated) == ("GIF", (1536, 1024), 4, True)
    durations = []
    for number in range(gif.n_frames):
        gif.seek(number)
        durations.append(gif.info["duration"])
    assert durations == [120] * 4  # rounded to 10 ms
    # The frames share one render's budget; the catalogue bounds it by its gif factor.
    assert result["usage"]["output_tokens"] == out_tokens(MODEL, "1536x1024", "low", "gif") == 158 * 2
    assert api.requests[-1].frame_count == 4


async def test_gif_defaults_to_nine_frames_of_200_ms(client):
    result = ok(await client.post(GEN, json=gen_body(output_format="gif", quality="low")))
    gif = decode(result["data"][0]["b64_json"])
    assert (gif.n_frames, gif.info["duration"]) == (CAPS.gif.default_frames, CAPS.gif.default_frame_ms) == (9, 200)


async def test_svg_is_an_svg_document_with_its_usage(api, client):
    prompt = "a lighthouse & two  gulls"
    result = ok(await client.post(GEN, json=gen_body(prompt=prompt, output_format="svg", size="1536x1024",
                                                     svg={"model": "gpt-5.2-mini", "reasoning": {"effort": "low"}})))
    assert result["output_format"] == "svg"
    text = base64.b64decode(result["data"][0]["b64_json"]).decode("utf-8")
    root = ET.fromstring(text)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("1536", "1024", "0 0 1536 1024")
    assert root.find(f"{ns}title").text == "a lighthouse & two gulls"
    assert len([e for e in root if e.tag in (f"{ns}rect", f"{ns}ellipse")]) >= 4
    usage = result["svg_usage"]
    openapi_validator("SvgUsage").validate(usage)
    assert usage["model"] == "gpt-5.2-mini" and usage["reasoning_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert result["usage"]["output_tokens"] == out_tokens(MODEL, "1536x1024", "auto", "svg")
    assert api.requests[-1].svg == {"model": "gpt-5.2-mini", "reasoning": {"effort": "low"}}


async def test_an_svg_stays_well_formed_whatever_the_prompt_holds(client):
    result = ok(await client.post(GEN, json=gen_body(prompt="a fox \x01\x0b <&> at dusk", output_format="svg")))
    root = ET.fromstring(base64.b64decode(result["data"][0]["b64_json"]))  # raises on a character XML cannot hold
    assert " ".join(root.find("{http://www.w3.org/2000/svg}title").text.split()) == "a fox <&> at dusk"


async def test_svg_model_defaults_unless_the_world_requires_it(api, client):
    result = ok(await client.post(GEN, json=gen_body(output_format="svg")))
    assert result["svg_usage"]["model"] == "gpt-5.2"
    api.svg_model_required = True
    error = assert_error(await client.post(GEN, json=gen_body(output_format="svg")), 400, param="svg.model")
    assert error["message"] == "SVG generation requires 'svg.model'"
    ok(await client.post(GEN, json=gen_body(output_format="svg", svg={"model": "gpt-5.2"})))


async def test_svg_and_gif_edits_take_bracketed_fields(api, client):
    files = {"image": ("a.png", png((1024, 1024)))}
    response = await client.post(EDIT, data={"model": MODEL, "prompt": "trace it", "output_format": "svg",
                                             "svg[model]": "gpt-5.2", "svg[reasoning][effort]": "high"}, files=files)
    result = ok(response)
    assert ET.fromstring(base64.b64decode(result["data"][0]["b64_json"])).get("width") == "1024"
    assert result["svg_usage"]["reasoning_tokens"] == 2048
    assert api.requests[-1].svg == {"model": "gpt-5.2", "reasoning": {"effort": "high"}}
    gif = ok(await client.post(EDIT, data={"model": MODEL, "prompt": "wave", "output_format": "gif",
                                           "frame_count": "3"}, files=files))
    assert decode(gif["data"][0]["b64_json"]).n_frames == 3
    mask = png((1024, 1024), "RGBA", (0, 0, 0, 0))
    masked = await client.post(EDIT, data={"model": MODEL, "prompt": "wave", "output_format": "gif"},
                               files=[("image", ("a.png", png((1024, 1024)))), ("mask", ("m.png", mask))])
    assert_error(masked, 400, param="mask", code="unsupported_parameter")
    unknown = await client.post(EDIT, data={"model": MODEL, "prompt": "p", "output_format": "svg",
                                            "svg[colour]": "red"}, files=files)
    assert_error(unknown, 400, param="svg.colour", code="unknown_parameter")


async def test_photo_images_weigh_like_photos():
    async with ImageAPIStandIn(image_kind="photo", today=TODAY) as api, httpx.AsyncClient(
        base_url=api.openai_base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=30
    ) as http:
        result = (await http.post(GEN, json=gen_body(size="1536x1024"))).json()
    data = base64.b64decode(result["data"][0]["b64_json"])
    assert 2_000_000 <= len(data) <= 3_200_000
    assert Image.open(io.BytesIO(data)).size == (1536, 1024)


def test_image_kind_is_checked():
    with pytest.raises(ValueError):
        ImageAPIStandIn(image_kind="vector")
