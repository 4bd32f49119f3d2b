"""Generations answered as the real API answers them, or refused in its words: the schema first, then the catalogue."""

from __future__ import annotations

import pytest

from bot.money import tokens
from tests.standins.images_api.helpers import CAPS, GEN, KEY, MODEL, assert_error, decode, gen_body, ok, out_tokens
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


async def test_generation_answers_like_the_real_api(api, client):
    body = gen_body(quality="high")
    response = await client.post(GEN, json=body)

    result = ok(response)
    assert response.headers["x-request-id"].startswith("req_")
    assert int(response.headers["openai-processing-ms"]) >= 0
    openapi_validator("CreateImageRequest").validate(body)
    assert (result["size"], result["quality"], result["background"], result["output_format"]) == (
        "1024x1024", "high", "opaque", "png")
    text = tokens.prompt_text_tokens(body["prompt"])
    assert result["usage"] == {
        "input_tokens": text, "output_tokens": 7024, "total_tokens": text + 7024,
        "input_tokens_details": {"text_tokens": text, "image_tokens": 0},
        "output_tokens_details": {"image_tokens": 7024, "text_tokens": 0},
    }
    assert "safety_identifier" not in result and "svg_usage" not in result
    image = decode(result["data"][0]["b64_json"])
    assert (image.format, image.size) == ("PNG", (1024, 1024))

    [record] = api.requests
    assert (record.flavor, record.operation, record.path, record.status) == ("openai", "generations",
                                                                             "/v1/images/generations", 200)
    assert record.content_type == "application/json"
    assert record.json == body and record.params() == body
    assert record.headers["authorization"] == f"Bearer {KEY}"


async def test_generation_resolves_auto_and_is_deterministic(client):
    first = ok(await client.post(GEN, json=gen_body()))
    second = ok(await client.post(GEN, json=gen_body()))
    other = ok(await client.post(GEN, json=gen_body(prompt="a different prompt")))
    assert (first["size"], first["quality"]) == ("1024x1024", "medium")
    assert first["usage"]["output_tokens"] == 1756
    assert first["data"] == second["data"]
    assert first["data"] != other["data"]


async def test_generation_of_several_jpegs(client):
    result = ok(await client.post(GEN, json=gen_body(
        n=2, size="1536x1024", quality="low", output_format="jpeg", output_compression=60)))
    assert len(result["data"]) == 2
    assert result["data"][0] != result["data"][1]
    for item in result["data"]:
        image = decode(item["b64_json"])
        assert (image.format, image.size) == ("JPEG", (1536, 1024))
    assert result["usage"]["output_tokens"] == 2 * 158


async def test_transparent_generation_has_an_alpha_background(client):
    result = ok(await client.post(GEN, json=gen_body(background="transparent", output_format="webp")))
    assert result["background"] == "transparent"
    image = decode(result["data"][0]["b64_json"])
    assert image.format == "WEBP" and image.mode == "RGBA"
    assert image.getchannel("A").getextrema()[0] == 0


@pytest.mark.parametrize(("model", "size", "figures"), [
    ("gpt-image-2", "1024x1024", (196, 1756, 7024)),  # OpenAI's published calculator figures
    ("gpt-image-2-2026-04-21", "1536x1024", (158, 1372, 5488)),
    ("gpt-image-2.5-flare", "2048x1152", (157, 1413, 5650)),
])
async def test_usage_follows_the_catalogue(client, model, size, figures):
    for quality, figure in zip(("low", "medium", "high"), figures, strict=True):
        result = ok(await client.post(GEN, json=gen_body(model=model, size=size, quality=quality)))
        assert result["size"] == size
        assert result["usage"]["output_tokens"] == figure == out_tokens(model, size, quality)
    assert decode(result["data"][0]["b64_json"]).size == tuple(int(v) for v in size.split("x"))


@pytest.mark.parametrize("quality", ["xhigh", "max"])
async def test_xhigh_and_max_are_billed_at_the_catalogues_bounds(client, quality):
    result = ok(await client.post(GEN, json=gen_body(model="gpt-image-2.5-sunburst", quality=quality)))
    assert result["quality"] == quality
    of, factor = CAPS.estimate.bounds[quality]
    assert result["usage"]["output_tokens"] == out_tokens("gpt-image-2.5-sunburst", "1024x1024", of) * factor
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-2", quality=quality)), 400, param="quality",
                 code="invalid_value")


async def test_complexity_only_where_the_catalogue_has_it(api, client):
    ok(await client.post(GEN, json=gen_body(complexity="low", moderation="low")))
    assert (api.requests[-1].complexity, api.requests[-1].moderation) == ("low", "low")
    error = assert_error(await client.post(GEN, json=gen_body(model="gpt-image-2.5-sunburst", complexity="medium")),
                         400, param="complexity", type="invalid_request_error")
    assert error["message"] == "Complexity 'medium' is not supported for this image model"


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"response_format": "b64_json"}, "response_format", "unknown_parameter"),
        ({"style": "vivid"}, "style", "unknown_parameter"),
        ({"input_fidelity": "high"}, "input_fidelity", "unknown_parameter"),
        ({"image": "x"}, "image", "unknown_parameter"),
        ({"markup": "x"}, "markup", "unknown_parameter"),
        ({"svg": {"model": "gpt-5.2", "colour": "red"}, "output_format": "svg"}, "svg.colour", "unknown_parameter"),
        ({"prompt": ""}, "prompt", "empty_string"),
        ({"prompt": "x" * 32001}, "prompt", "string_above_max_length"),
        ({"prompt": 5}, "prompt", "invalid_type"),
        ({"model": 5}, "model", "invalid_type"),
        ({"n": 11}, "n", "integer_above_max_value"),
        ({"n": 0}, "n", "integer_below_min_value"),
        ({"n": "2"}, "n", "invalid_type"),
        ({"size": "big"}, "size", "invalid_value"),
        ({"size": "512x512"}, "size", "invalid_value"),  # below the pixel minimum
        ({"size": "1000x1000"}, "size", "invalid_value"),  # not multiples of 16
        ({"size": "4096x2160"}, "size", "invalid_value"),  # long edge over 3840
        ({"size": "2560x768"}, "size", "invalid_value"),  # beyond 3:1
        ({"quality": "hd"}, "quality", "invalid_value"),
        ({"quality": "ultra"}, "quality", "invalid_value"),
        ({"model": "gpt-image-2", "quality": "xhigh"}, "quality", "invalid_value"),
        ({"background": "transparent", "output_format": "jpeg"}, "background", "invalid_value"),
        ({"model": "gpt-image-2", "background": "transparent"}, "background", "unsupported_value"),
        ({"complexity": "extreme"}, "complexity", "invalid_value"),
        ({"output_format": "bmp"}, "output_format", "invalid_value"),
        ({"model": "gpt-image-2.5-flare", "output_format": "gif"}, "output_format", "invalid_value"),
        ({"model": "gpt-image-2", "output_format": "svg"}, "output_format", "invalid_value"),
        ({"output_compression": 80}, "output_compression", "unsupported_parameter"),
        ({"output_format": "jpeg", "output_compression": 101}, "output_compression", "integer_above_max_value"),
        ({"partial_images": 4}, "partial_images", "integer_above_max_value"),
        ({"stream": "yes"}, "stream", "invalid_type"),
        ({"moderation": "none"}, "moderation", "invalid_value"),
        ({"user": 42}, "user", "invalid_type"),
        ({"safety_identifier": 42}, "safety_identifier", "invalid_type"),
        ({"safety_identifier": "x" * 65}, "safety_identifier", "string_above_max_length"),
        # GIF: no streaming, partial images, compression; frames 2..16; GIF fields only with GIF.
        ({"output_format": "gif", "stream": True}, "stream", "unsupported_parameter"),
        ({"output_format": "gif", "partial_images": 1}, "partial_images", "unsupported_parameter"),
        ({"output_format": "gif", "output_compression": 50}, "output_compression", "unsupported_parameter"),
        ({"output_format": "gif", "frame_count": 17}, "frame_count", "integer_above_max_value"),
        ({"output_format": "gif", "frame_count": 1}, "frame_count", "integer_below_min_value"),
        ({"output_format": "gif", "frame_duration_ms": -10}, "frame_duration_ms", "integer_below_min_value"),
        ({"output_format": "gif", "frame_count": "4"}, "frame_count", "invalid_type"),
        ({"frame_count": 4}, "frame_count", "unsupported_parameter"),
        # SVG: n=1, no streaming or compression; svg options only with SVG, and of the schema's shape.
        ({"output_format": "svg", "n": 2}, "n", "unsupported_value"),
        ({"output_format": "svg", "stream": True}, "stream", "unsupported_parameter"),
        ({"output_format": "svg", "output_compression": 50}, "output_compression", "unsupported_parameter"),
        ({"svg": {"model": "gpt-5.2"}}, "svg", "unsupported_parameter"),
        ({"output_format": "svg", "svg": {"model": 5}}, "svg.model", "invalid_type"),
        ({"output_format": "svg", "svg": "gpt-5.2"}, "svg", "invalid_type"),
        ({"output_format": "svg", "svg": {"reasoning": {"effort": "huge"}}}, "svg.reasoning.effort",
         "invalid_value"),
    ],
)
async def test_generation_validation(api, client, overrides, param, code):
    response = await client.post(GEN, json=gen_body(**overrides))
    error = assert_error(response, 400, param=param, code=code, type="invalid_request_error")
    assert api.requests[-1].status == 400
    if code == "unknown_parameter":
        assert error["message"] == f"Unknown parameter: '{param}'."


async def test_the_schema_decides_before_the_catalogue(client):
    """A body the schema refuses is refused for that, whatever the model could do."""
    for body, param in (({"model": MODEL}, "prompt"), (gen_body(n=True), "n"), (gen_body(quality=None, n=None), None)):
        response = await client.post(GEN, json=body)
        if param is None:
            ok(response)  # explicit nulls are the defaults, as the schema's anyOf [..., null] says
        else:
            assert_error(response, 400, param=param)


async def test_generation_messages_name_the_problem(client):
    error = assert_error(await client.post(GEN, json={"model": MODEL}), 400, param="prompt",
                         code="missing_required_parameter")
    assert error["message"] == "Missing required parameter: 'prompt'."
    error = assert_error(await client.post(GEN, json=gen_body(quality="ultra")), 400)
    assert error["message"] == ("Invalid value: 'ultra'. Supported values are: 'low', 'medium', 'high', 'xhigh', "
                                "'max', 'auto', 'standard', and 'hd'.")
    error = assert_error(await client.post(GEN, json=gen_body(model="gpt-image-2", quality="max")), 400)
    assert error["message"] == "Invalid value: 'max'. Supported values are: 'low', 'medium', 'high', and 'auto'."
    error = assert_error(await client.post(GEN, json=gen_body(size="1000x1000")), 400)
    assert error["message"] == "Invalid size '1000x1000': both edges must be multiples of 16."
    error = assert_error(await client.post(GEN, json=gen_body(n=11)), 400)
    assert error["message"] == ("Invalid 'n': integer above maximum value. Expected a value <= 10, but got 11 "
                                "instead.")
    error = assert_error(await client.post(GEN, json=gen_body(n="2")), 400)
    assert error["message"] == "Invalid type for 'n': expected an integer, but got a string instead."


async def test_generation_rejects_bodies_that_are_not_json(client):
    error = assert_error(await client.post(GEN, content=b"{not json", headers={"Content-Type": "application/json"}),
                         400, param=None, code=None)
    assert "could not parse the JSON body" in error["message"]
    assert_error(await client.post(GEN, data={"prompt": "x"}, files={"f": ("a", b"b")}), 400)


async def test_unknown_paths_get_openai_404(client):
    error = assert_error(await client.post("/images/variations", json={}), 404)
    assert error["message"] == "Invalid URL (POST /v1/images/variations)"
