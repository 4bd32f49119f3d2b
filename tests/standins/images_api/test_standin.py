"""The Images API stand-in, tested over real loopback HTTP with httpx.

Requests and responses are checked against OpenAI's own OpenAPI description (shipped in standins/schemas/, read by
tests/standins/openapi.py) so the stand-in cannot drift from the real wire format; what each model can do and what
it is billed come from imagebot's catalogue (bot/money/catalogue.json), which the stand-in reads too.
Every test lives on
a fixed day (TODAY), so the outcome never depends on the calendar.
"""

from __future__ import annotations

import base64
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date

import anyio
import httpx
import pytest
from PIL import Image

from bot.money import tokens
from bot.money.catalogue import Catalogue
from bot.money.catalogue_reader import merge
from standins.images_api import (
    DALLE_ONLY_PARAMS,
    FILE_FIELDS,
    ImageAPIStandIn,
    RecordedRequest,
    closest_standard_size,
    form_object,
    request_schema,
)
from tests.standins.openapi import openapi_document, openapi_validator

KEY = "sk-standin"
AZURE_KEY = "azure-standin-key"
AZURE_VERSION = "2025-04-01-preview"
pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop
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


# -- fixtures and helpers ------------------------------------------------------------------------------------


def assert_accepted_requests_match_the_schema(api: ImageAPIStandIn) -> None:
    """Whatever the stand-in answered with 200 is a request OpenAI's schema accepts (multipart as its object)."""
    for record in api.requests:
        if record.status == 200 and record.operation != "models":
            kind = "json" if record.json is not None else "multipart"
            openapi_validator(request_schema(record.operation, kind)).validate(record.body())


@pytest.fixture
async def api() -> AsyncIterator[ImageAPIStandIn]:
    async with ImageAPIStandIn(today=TODAY) as standin:
        yield standin
    assert_accepted_requests_match_the_schema(standin)


@pytest.fixture
async def client(api):
    async with httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=30) as http:
        yield http


@pytest.fixture
async def azure(api):
    async with httpx.AsyncClient(base_url=api.azure_endpoint, headers={"api-key": AZURE_KEY}, timeout=30) as http:
        yield http


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


# -- the schema and the catalogue (pure) ----------------------------------------------------------------------


def test_the_schema_ships_with_the_stand_in_package():
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    assert {"CreateImageRequest", "CreateImageEditRequest", "ImagesResponse", "SvgUsage"} <= set(
        document["components"]["schemas"])
    assert "f85dbe223d40e1a31cba812ab2d755c7e98a92a3" in json.dumps(document["info"])


def test_file_fields_are_the_schemas_binary_properties():
    properties = openapi_document()["components"]["schemas"]["CreateImageEditRequest"]["properties"]
    binary = {name for name, node in properties.items() if '"binary"' in json.dumps(node)}
    assert binary == {"image", "mask", "markup"}
    assert set(FILE_FIELDS) == binary | {"image[]"}
    assert set(openapi_document()["components"]["schemas"]["CreateImageRequest"]["properties"]) >= DALLE_ONLY_PARAMS


def test_every_model_the_schema_names_is_in_the_catalogue():
    named = set(openapi_document()["components"]["schemas"]["ImageModel"]["enum"])
    assert {m for m in named if CATALOGUE.get(m) is None and CATALOGUE.gone(m) is None} == set()


def test_size_helper():
    assert closest_standard_size(1920, 1080) == "1536x1024"
    assert closest_standard_size(1080, 1920) == "1024x1536"
    assert closest_standard_size(1100, 1000) == "1024x1024"


def test_recorded_request_params_flatten_multipart_fields():
    record = RecordedRequest(
        flavor="openai", operation="edits", path="/v1/images/edits", content_type="multipart/form-data",
        fields={"prompt": ["x"], "n": ["2"], "output_compression": ["80"], "user": ["a", "b"], "stream": ["true"],
                "frame_count": ["4"], "svg[model]": ["gpt-5.2"], "svg[reasoning][effort]": ["low"]},
        files={"image[]": [("a.png", "image/png", b"a"), ("b.png", "image/png", b"b")],
               "markup": [("m.png", "image/png", b"m")]},
    )
    assert record.params() == {"prompt": "x", "n": 2, "output_compression": 80, "user": ["a", "b"], "stream": "true",
                               "frame_count": 4, "svg[model]": "gpt-5.2", "svg[reasoning][effort]": "low"}
    assert record.body() == {"prompt": "x", "n": 2, "output_compression": 80, "user": "b", "stream": True,
                             "frame_count": 4, "svg": {"model": "gpt-5.2", "reasoning": {"effort": "low"}},
                             "image": ["<binary>", "<binary>"], "markup": "<binary>"}
    assert (record.svg, record.markup, record.frame_count, record.user) == (
        {"model": "gpt-5.2", "reasoning": {"effort": "low"}}, b"m", 4, "b")
    assert RecordedRequest("openai", "generations", "/", json={"n": 1}).params() == {"n": 1}


def test_a_form_is_the_schemas_object():
    one = form_object({"prompt": ["p"], "partial_images": ["2"], "stream": ["False"]}, {"image": [("a", "b", b"")]})
    assert one == {"prompt": "p", "partial_images": 2, "stream": False, "image": "<binary>"}
    openapi_validator("CreateImageEditRequest").validate(one)
    # What the API would refuse stays refusable: text where a number belongs is not coerced.
    assert form_object({"n": ["many"]}, {})["n"] == "many"


# -- generations ---------------------------------------------------------------------------------------------


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


# -- which models the provider serves ----------------------------------------------------------------------------


async def test_a_shut_down_model_is_a_404(client):
    response = await client.post(GEN, json=gen_body(model="gpt-image-1"))
    assert response.status_code == 404
    assert response.json() == {"error": {
        "type": "invalid_request_error", "code": "model_not_found", "param": "model",
        "message": "The model `gpt-image-1` has been deprecated, learn more here: "
                   "https://platform.openai.com/docs/deprecations"}}
    openapi_validator("ErrorResponse").validate(response.json())


@pytest.mark.parametrize("model", SHUT_DOWN_ON_OPENAI)
async def test_every_model_shut_down_by_today_is_a_404(client, model):
    error = assert_error(await client.post(GEN, json=gen_body(model=model)), 404, param="model",
                         code="model_not_found")
    assert error["message"].startswith(f"The model `{model}` has been deprecated")
    edit = await client.post(EDIT, data={"model": model, "prompt": "p"}, files={"image": ("a.png", png())})
    assert_error(edit, 404, code="model_not_found")


async def test_an_unknown_model_is_a_400(client):
    response = await client.post(GEN, json=gen_body(model="gpt-image-9"))
    assert response.status_code == 400
    assert response.json() == {"error": {"type": "invalid_request_error", "code": "invalid_value", "param": "model",
                                         "message": "The model 'gpt-image-9' does not exist."}}
    openapi_validator("ErrorResponse").validate(response.json())


async def test_no_model_means_the_specs_default_which_is_shut_down(client):
    # Generations default to dall-e-2 (shut down 2026-05-12), edits to gpt-image-1.5 (2026-12-01): send the model.
    assert "dall-e-2" in assert_error(await client.post(GEN, json={"prompt": "x"}), 404, code="model_not_found")[
        "message"]
    edit = await client.post(EDIT, data={"prompt": "x"}, files={"image": ("a.png", png())})
    assert "gpt-image-1.5" in assert_error(edit, 404, code="model_not_found")["message"]


async def test_every_live_model_is_served(client):
    live = CATALOGUE.live("openai", TODAY)
    assert MODEL in live and "gpt-image-1" not in live
    for model in live:
        ok(await client.post(GEN, json=gen_body(model=model, quality="low")))


async def test_the_world_can_shut_a_live_model_down(api, client):
    """The API says the model is gone although the catalogue says it is live."""
    api.shut_down.add(MODEL)
    assert_error(await client.post(GEN, json=gen_body()), 404, param="model", code="model_not_found")
    assert_error(await client.get(f"/models/{MODEL}"), 404, code="model_not_found")
    api.shut_down.clear()
    ok(await client.post(GEN, json=gen_body()))
    api.shutdown_dates[MODEL] = "2026-12-08"  # from today on
    assert_error(await client.post(GEN, json=gen_body()), 404, code="model_not_found")
    api.shutdown_dates[MODEL] = date(2026, 12, 9)
    ok(await client.post(GEN, json=gen_body()))


async def test_the_day_decides(api, client):
    api.today = date(2026, 11, 30)  # before the 2026-12-01 shutdowns
    result = ok(await client.post(GEN, json=gen_body(model="gpt-image-1.5", quality="low")))
    assert result["usage"]["output_tokens"] == 272  # the table of the models before gpt-image-2
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-1.5", size="2048x2048")), 400, param="size",
                 code="invalid_value")
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-1")), 404)  # gone since 2026-10-23
    api.today = date(2026, 11, 1)  # before gpt-image-2.6 was released
    assert_error(await client.post(GEN, json=gen_body()), 400, param="model", code="invalid_value")


async def test_added_models_are_served_with_anothers_capabilities(api, client):
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-3")), 400, code="invalid_value")
    api.add_model("gpt-image-3", like="gpt-image-2")
    result = ok(await client.post(GEN, json=gen_body(model="gpt-image-3", quality="low")))
    assert result["usage"]["output_tokens"] == 196
    assert_error(await client.post(GEN, json=gen_body(model="gpt-image-3", quality="max")), 400, param="quality")
    with pytest.raises(ValueError):
        api.add_model("gpt-image-4", like="gpt-image-0")


async def test_a_catalogue_of_the_tests_own():
    data = merge(Catalogue.builtin_data(), {"models": {"gpt-image-2": {
        "status": {"openai": {"state": "deprecated", "shutdown": "2026-12-05"}}}}})
    own = Catalogue.from_data(data, source="this test")
    async with ImageAPIStandIn(catalogue=own, today=TODAY) as api, httpx.AsyncClient(
            base_url=api.openai_base_url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        assert_error(await http.post(GEN, json=gen_body(model="gpt-image-2")), 404, code="model_not_found")
        assert (await http.post(GEN, json=gen_body(quality="low"))).status_code == 200


# -- GET /v1/models --------------------------------------------------------------------------------------------


async def test_the_model_list_has_what_is_served_with_shutdown_dates(api, client):
    response = await client.get("/models")
    assert response.status_code == 200 and response.headers["x-request-id"].startswith("req_")
    body = response.json()
    assert body["object"] == "list"
    for item in body["data"]:
        assert set(item) == {"id", "object", "created", "owned_by", "shutdown_date"}
        assert item["object"] == "model" and isinstance(item["created"], int) and isinstance(item["owned_by"], str)
    listed = {item["id"]: item["shutdown_date"] for item in body["data"]}
    assert set(listed) == {*CATALOGUE.live("openai", TODAY), "gpt-5.2", "text-embedding-3-small"}
    assert not set(listed) & set(SHUT_DOWN_ON_OPENAI)
    assert listed[MODEL] is None
    assert not api.requests  # the list is recorded apart from the image calls
    assert [(r.operation, r.path, r.status) for r in api.model_requests] == [("models", "/v1/models", 200)]

    api.today = date(2026, 11, 20)  # deprecated but still served: listed with the date
    listed = {item["id"]: item["shutdown_date"] for item in (await client.get("/models")).json()["data"]}
    assert listed["gpt-image-1.5"] == listed["gpt-image-1-mini"] == "2026-12-01"
    assert "gpt-image-1" not in listed and listed[MODEL] is None


async def test_the_world_sets_the_model_list(api, client):
    api.shutdown_dates["gpt-image-2"] = date(2027, 3, 1)
    api.add_model("gpt-image-3", like=MODEL)
    listed = {item["id"]: item["shutdown_date"] for item in (await client.get("/models")).json()["data"]}
    assert listed["gpt-image-2"] == "2027-03-01" and listed["gpt-image-3"] is None
    api.shut_down.add("gpt-image-2")
    assert "gpt-image-2" not in {item["id"] for item in (await client.get("/models")).json()["data"]}

    api.model_list_empty = True
    assert (await client.get("/models")).json() == {"object": "list", "data": []}
    api.model_list_status = 500
    assert_error(await client.get("/models"), 500, type="server_error")
    api.model_list_status = None
    api.model_list_empty = False
    api.server_error(503, operation="models")  # queued faults apply to the list too
    assert_error(await client.get("/models"), 503)
    assert (await client.get("/models")).status_code == 200


async def test_retrieving_a_model(api, client):
    live = await client.get(f"/models/{MODEL}")
    assert live.status_code == 200
    assert live.json() == {"id": MODEL, "object": "model", "created": live.json()["created"], "owned_by": "system",
                           "shutdown_date": None}
    assert (await client.get("/models/gpt-5.2")).status_code == 200
    assert [(r.operation, r.path, r.status) for r in api.requests] == [
        ("models", f"/v1/models/{MODEL}", 200), ("models", "/v1/models/gpt-5.2", 200)]
    gone = assert_error(await client.get("/models/gpt-image-1"), 404, param="model", code="model_not_found")
    assert "has been deprecated" in gone["message"]
    unknown = assert_error(await client.get("/models/gpt-image-9"), 404, code="model_not_found")
    assert unknown["message"] == "The model `gpt-image-9` does not exist or you do not have access to it."
    async with httpx.AsyncClient(base_url=str(client.base_url)) as anonymous:
        assert_error(await anonymous.get("/models"), 401)


# -- GIF and SVG -------------------------------------------------------------------------------------------------


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


# -- safety_identifier and user ----------------------------------------------------------------------------------


async def test_safety_identifier_is_echoed_and_wins_over_user(api, client):
    result = ok(await client.post(GEN, json=gen_body(safety_identifier="u-" + "a" * 62, user="slack-U1")))
    assert result["safety_identifier"] == "u-" + "a" * 62
    assert (api.requests[-1].safety_identifier, api.requests[-1].user) == ("u-" + "a" * 62, "slack-U1")
    assert ok(await client.post(GEN, json=gen_body(user="slack-U1")))["safety_identifier"] == "slack-U1"
    assert ok(await client.post(GEN, json=gen_body(safety_identifier="", user="slack-U1")))[
        "safety_identifier"] == "slack-U1"
    edit = ok(await client.post(EDIT, data={"model": MODEL, "prompt": "p", "safety_identifier": "h1"},
                                files={"image": ("a.png", png())}))
    assert edit["safety_identifier"] == "h1"
    too_long = await client.post(EDIT, data={"model": MODEL, "prompt": "p", "safety_identifier": "h" * 65},
                                 files={"image": ("a.png", png())})
    assert_error(too_long, 400, param="safety_identifier", code="string_above_max_length")


async def test_streamed_completions_carry_the_safety_identifier(client):
    events = parse_sse((await client.post(GEN, json=gen_body(stream=True, safety_identifier="h1"))).text)
    openapi_validator("ImageGenCompletedEvent").validate(events[-1][1])
    assert events[-1][1]["safety_identifier"] == "h1"


async def test_azure_knows_user_but_not_safety_identifier(api, azure):
    refused = await azure.post(azure_path("generations"), json={"prompt": "p", "safety_identifier": "h1"})
    error = assert_error(refused, 400, param="safety_identifier", code="unknown_parameter")
    assert error["message"] == "Unknown parameter: 'safety_identifier'."
    edit = await azure.post(azure_path("edits"), data={"prompt": "p", "safety_identifier": "h1"},
                            files={"image": ("a.png", png())})
    assert_error(edit, 400, param="safety_identifier", code="unknown_parameter")
    result = ok(await azure.post(azure_path("generations"), json={"prompt": "p", "user": "slack-U1"}))
    assert "safety_identifier" not in result and api.requests[-1].user == "slack-U1"


# -- auth ----------------------------------------------------------------------------------------------------


async def test_wrong_or_missing_key_is_401(api):
    async with httpx.AsyncClient(base_url=api.openai_base_url) as http:
        wrong = await http.post(GEN, json=gen_body(), headers={"Authorization": "Bearer sk-proj-wrongkey1234567890"})
        missing = await http.post(GEN, json=gen_body())
    error = assert_error(wrong, 401, param=None, code="invalid_api_key", type="invalid_request_error")
    assert error["message"].startswith("Incorrect API key provided: sk-proj-")
    assert "wrongkey" not in error["message"] and "7890" in error["message"]
    assert "You didn't provide an API key" in assert_error(missing, 401)["message"]
    assert [r.status for r in api.requests] == [401, 401]


async def test_auth_is_checked_before_queued_faults(api, client):
    api.rate_limit()
    response = await client.post(GEN, json=gen_body(), headers={"Authorization": "Bearer sk-wrong"})
    assert_error(response, 401, code="invalid_api_key")
    assert (await client.post(GEN, json=gen_body())).status_code == 429
    assert (await client.post(GEN, json=gen_body())).status_code == 200


# -- faults --------------------------------------------------------------------------------------------------


async def assert_consumed_once(client, path=GEN, **kwargs):
    """The next request (same kind) gets a 200 again."""
    kwargs = kwargs or {"json": gen_body()}
    response = await client.post(path, **kwargs)
    assert response.status_code == 200, response.text


async def test_rate_limit(api, client):
    api.rate_limit(3)
    response = await client.post(GEN, json=gen_body())
    error = assert_error(response, 429, param=None, code="rate_limit_exceeded", type="requests")
    assert response.headers["Retry-After"] == "3"
    assert f"Rate limit reached for {MODEL}" in error["message"] and "Please try again in 3s" in error["message"]
    await assert_consumed_once(client)


async def test_rate_limit_without_retry_after(api, client):
    api.rate_limit(None)
    response = await client.post(GEN, json=gen_body())
    assert_error(response, 429, code="rate_limit_exceeded")
    assert "Retry-After" not in response.headers


async def test_quota_exhausted(api, client):
    api.quota_exhausted()
    response = await client.post(GEN, json=gen_body())
    error = assert_error(response, 429, code="insufficient_quota", type="insufficient_quota")
    assert "Retry-After" not in response.headers
    assert error["message"].startswith("You exceeded your current quota")
    await assert_consumed_once(client)


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error(api, client, status):
    api.server_error(status)
    response = await client.post(GEN, json=gen_body())
    error = assert_error(response, status, type="server_error", code=None)
    assert error["message"].startswith("The server had an error while processing your request")
    assert response.headers["x-request-id"] in error["message"]
    await assert_consumed_once(client)


async def test_moderation_blocked(api, client):
    api.moderation_blocked(stage="output", categories=("violence", "sexual"))
    response = await client.post(GEN, json=gen_body())
    error = assert_error(response, 400, param=None, code="moderation_blocked", type="image_generation_user_error")
    assert error["moderation_details"] == {"moderation_stage": "output", "categories": ["violence", "sexual"]}
    assert "safety_violations=[violence, sexual]" in error["message"]
    assert response.headers["x-request-id"] in error["message"]
    await assert_consumed_once(client)


async def test_forced_auth_error(api, client):
    api.auth_error()
    error = assert_error(await client.post(GEN, json=gen_body()), 401, code="invalid_api_key")
    assert error["message"].startswith(f"Incorrect API key provided: {KEY}.")
    await assert_consumed_once(client)


async def test_org_not_verified(api, client):
    api.org_not_verified()
    error = assert_error(await client.post(GEN, json=gen_body(model="gpt-image-1.5")), 403, param=None, code=None,
                         type="invalid_request_error")
    assert error["message"].startswith("Your organization must be verified to use the model `gpt-image-1.5`.")
    await assert_consumed_once(client)


async def test_garbage(api, client):
    api.garbage()
    response = await client.post(GEN, json=gen_body())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<html>upstream error</html>"
    await assert_consumed_once(client)


async def test_queue_error_is_sent_verbatim_times_over(api, client):
    body = {"error": {"message": "teapot", "type": "x", "param": None, "code": "teapot"}}
    api.queue_error(418, body, headers={"x-extra": "1"}, times=2)
    for _ in range(2):
        response = await client.post(GEN, json=gen_body())
        assert (response.status_code, response.json(), response.headers["x-extra"]) == (418, body, "1")
    await assert_consumed_once(client)


async def test_faults_are_consumed_in_order_and_by_operation(api, client):
    api.server_error(operation="edits")
    api.rate_limit()
    api.quota_exhausted(operation="generations")
    assert (await client.post(GEN, json=gen_body())).status_code == 429  # the edits fault is skipped
    assert (await client.post(GEN, json=gen_body())).json()["error"]["code"] == "insufficient_quota"
    assert (await client.post(GEN, json=gen_body())).status_code == 200
    edit = await client.post(EDIT, data={"model": MODEL, "prompt": "x"}, files={"image": ("a.png", png())})
    assert edit.status_code == 500


async def test_fault_helpers_refuse_nonsense(api):
    with pytest.raises(ValueError):
        api.rate_limit(operation="variations")
    with pytest.raises(ValueError):
        api.azure_content_filter(spelling="inner-error")
    with pytest.raises(ValueError):
        api.moderation_blocked(stage="middle")


async def test_hang_makes_the_client_time_out(api):
    api.hang()
    # Only the wait for the answer is short (it never comes); connecting and sending are given all the time a busy
    # machine needs, or a slow connect would end in ConnectTimeout before the request reached the stand-in.
    async with httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=httpx.Timeout(30.0, read=0.1)) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.post(GEN, json=gen_body())
    assert api.requests[-1].status == 0  # still unanswered; the fixture's stop() releases it


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


async def test_hang_is_released_by_stop():
    api = ImageAPIStandIn(today=TODAY)
    await api.start()
    api.hang()
    assert_error(await answered_when_stopped(api, lambda: api.wait_for_requests(1)), 503, type="server_error")
    assert api.requests[0].status == 503


async def test_latency_is_cut_short_by_stop():
    api = ImageAPIStandIn(latency=600, today=TODAY)
    await api.start()
    assert (await answered_when_stopped(api, lambda: api.wait_for_requests(1))).status_code == 200



# -- streaming -----------------------------------------------------------------------------------------------


async def test_streaming_generation_sends_partials_then_completed(client):
    body = gen_body(stream=True, partial_images=2)
    response = await client.post(GEN, json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    for name, data in events[:2]:
        openapi_validator("ImageGenPartialImageEvent").validate(data)
        assert data["type"] == name
    assert [data["partial_image_index"] for _, data in events[:2]] == [0, 1]
    completed = events[-1][1]
    openapi_validator("ImageGenCompletedEvent").validate(completed)
    # Events echo the requested settings, so "auto" shows; each partial costs the catalogue's partial-image tokens.
    assert (completed["size"], completed["quality"], completed["background"]) == ("auto", "auto", "auto")
    assert completed["usage"]["output_tokens"] == 1756 + 2 * CATALOGUE.inputs.partial_image_tokens == 1756 + 200
    assert "output_tokens_details" not in completed["usage"] and "safety_identifier" not in completed
    assert decode(completed["b64_json"]).size == (1024, 1024)
    assert decode(events[0][1]["b64_json"]).tobytes() != decode(completed["b64_json"]).tobytes()


async def test_streaming_without_partials_sends_one_event(client):
    events = parse_sse((await client.post(GEN, json=gen_body(stream=True, quality="low"))).text)
    assert [name for name, _ in events] == ["image_generation.completed"]
    assert events[0][1]["usage"]["output_tokens"] == 196


async def test_streaming_edit_uses_image_edit_events(client):
    response = await client.post(EDIT, data={"model": MODEL, "prompt": "x", "stream": "true",
                                             "partial_images": "1"}, files={"image[]": ("a.png", png())})
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["image_edit.partial_image", "image_edit.completed"]
    openapi_validator("ImageEditPartialImageEvent").validate(events[0][1])
    openapi_validator("ImageEditCompletedEvent").validate(events[1][1])


# -- edits ---------------------------------------------------------------------------------------------------


async def test_multipart_edit_with_two_images_and_a_mask(api, client):
    first, second = png((1536, 1024), colour=(255, 0, 0)), png((1536, 1024), colour=(0, 0, 255))
    mask = Image.new("RGBA", (1536, 1024), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 512, 1536, 1024))  # edit only the bottom half
    mask_buffer = io.BytesIO()
    mask.save(mask_buffer, "PNG")
    prompt = "make it look like a watercolour"
    response = await client.post(
        EDIT,
        data={"model": MODEL, "prompt": prompt, "n": "1", "quality": "low"},
        files=[("image[]", ("red.png", first, "image/png")), ("image[]", ("blue.png", second, "image/png")),
               ("mask", ("mask.png", mask_buffer.getvalue(), "image/png"))],
    )

    result = ok(response)
    assert result["size"] == "1536x1024"  # auto → the standard size closest to the first image
    text = tokens.prompt_text_tokens(prompt, input_images=2)
    # 2.x models read every input at high fidelity: 65 + 129 × 2 tiles + 6240 each; the mask is not billed.
    assert result["usage"]["input_tokens_details"] == {"text_tokens": text, "image_tokens": 2 * (323 + 6240)}
    assert result["usage"]["output_tokens"] == 158
    image = decode(result["data"][0]["b64_json"]).convert("RGB")
    assert image.size == (1536, 1024)
    assert image.getpixel((10, 10)) == (255, 0, 0)  # outside the mask's transparent area: the first image
    r, g, b = image.getpixel((10, 1000))  # inside it: the first image, tinted
    assert (r, g, b) != (255, 0, 0) and r > 150 and g < 100 and b < 100

    record = api.requests[-1]
    assert (record.operation, record.content_type, record.json) == ("edits", "multipart/form-data", None)
    assert record.params() == {"model": MODEL, "prompt": prompt, "n": 1, "quality": "low"}
    assert [(name, kind, data) for name, kind, data in record.files["image[]"]] == [
        ("red.png", "image/png", first), ("blue.png", "image/png", second)]
    assert record.files["mask"][0][0] == "mask.png"
    assert record.markup is None


async def test_edit_differs_from_a_generation(client):
    edit = ok(await client.post(EDIT, data={"model": MODEL, "prompt": "p"},
                                files={"image": ("a.png", png((1024, 1024)))}))
    generation = ok(await client.post(GEN, json=gen_body(prompt="p")))
    assert edit["data"] != generation["data"]
    assert decode(edit["data"][0]["b64_json"]).convert("RGB").getpixel((5, 5))[0] > 150


async def test_input_fidelity_is_ignored_where_the_model_takes_none(client):
    files = {"image": ("a.png", png((1024, 1024)))}
    for fidelity in ("low", "high"):  # gpt-image-2 and later: always high fidelity (the SDK: omit it)
        result = ok(await client.post(EDIT, data={"model": "gpt-image-2", "prompt": "p", "input_fidelity": fidelity},
                                      files=files))
        assert result["usage"]["input_tokens_details"]["image_tokens"] == 194 + 4160


async def test_markup_guides_an_edit(api, client):
    base = png((64, 64))
    result = ok(await client.post(EDIT, data={"model": MODEL, "prompt": "put a hat where I drew"},
                                  files=[("image", ("a.png", base)), ("markup", ("marks.png", marks((64, 64))))]))
    assert result["usage"]["input_tokens_details"]["image_tokens"] == tokens.input_image_tokens(
        CATALOGUE.inputs, 64, 64, high_fidelity=True)  # the markup is not billed as an input
    assert api.requests[-1].markup == marks((64, 64))


def rotated_jpeg(size=(64, 32)) -> bytes:
    """A JPEG whose EXIF orientation (6: rotate 90°) makes it size[1] × size[0] once turned."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.new("RGB", size, (0, 128, 0)).save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


async def test_markup_matches_the_first_image_after_orientation(client):
    files = [("image", ("a.jpg", rotated_jpeg((64, 32))))]
    ok(await client.post(EDIT, data={"model": MODEL, "prompt": "p"}, files=[*files, ("markup", ("m.png", marks((32,
                                                                                                              64))))]))
    wrong = await client.post(EDIT, data={"model": MODEL, "prompt": "p"}, files=[*files, ("markup", ("m.png", marks(
        (64, 32))))])
    assert_error(wrong, 400, param="markup", code="invalid_value")


@pytest.mark.parametrize(
    ("model", "markup", "mask", "code"),
    [
        ("gpt-image-2", marks(), None, "unsupported_parameter"),  # no markup on gpt-image-2
        (MODEL, marks(), png((64, 64), "RGBA", (0, 0, 0, 0)), "unsupported_parameter"),  # never with a mask
        (MODEL, png((64, 64), fmt="JPEG"), None, "invalid_image_file"),  # not a PNG
        (MODEL, marks((32, 32)), None, "invalid_value"),  # not the first image's size
        (MODEL, png((64, 64), "RGBA", (255, 0, 0, 255)), None, "invalid_value"),  # no transparent pixel
        (MODEL, png((64, 64), "RGB"), None, "invalid_value"),  # no alpha at all
    ],
    ids=["model-without-markup", "with-a-mask", "jpeg", "wrong-size", "opaque", "no-alpha"],
)
async def test_bad_markup_is_400_on_markup(client, model, markup, mask, code):
    files = [("image", ("a.png", png((64, 64)))), ("markup", ("m.png", markup))]
    if mask is not None:
        files.append(("mask", ("mask.png", mask)))
    assert_error(await client.post(EDIT, data={"model": model, "prompt": "p"}, files=files), 400, param="markup",
                 code=code)


async def test_image_type_is_sniffed_from_the_bytes(client):
    data = {"model": MODEL, "prompt": "p"}
    text = await client.post(EDIT, data=data, files={"image[]": ("notes.png", b"just some text\n", "image/png")})
    error = assert_error(text, 400, param="image", type="invalid_request_error")
    assert error["message"] == "Invalid image file or mode for image 1, please check your image file."
    second = await client.post(EDIT, data=data, files=[("image[]", ("a.png", png())),
                                                       ("image[]", ("b.gif", png(fmt="GIF")))])
    assert "for image 2," in assert_error(second, 400, param="image")["message"]
    jpeg_labelled_text = await client.post(EDIT, data=data, files={"image": ("a.txt", png(fmt="JPEG"), "text/plain")})
    assert jpeg_labelled_text.status_code == 200


@pytest.mark.parametrize(
    "mask",
    [
        png((64, 64), mode="RGB"),  # no alpha channel
        png((32, 32), mode="RGBA", colour=(0, 0, 0, 0)),  # not the first image's size
        png((64, 64), mode="RGB", fmt="JPEG"),  # not a PNG
        b"GIF89a not a mask",
    ],
    ids=["no-alpha", "wrong-size", "jpeg", "garbage"],
)
async def test_bad_masks_are_400_on_mask(client, mask):
    response = await client.post(EDIT, data={"model": MODEL, "prompt": "p"},
                                 files=[("image[]", ("a.png", png((64, 64)))), ("mask", ("m.png", mask))])
    assert_error(response, 400, param="mask")


ONE_IMAGE = [("image[]", ("a.png", png((8, 8))))]
NO_FILES = [("model", (None, MODEL))]  # a text part sent as multipart, so httpx sends no file


@pytest.mark.parametrize(
    ("data", "files", "param", "code"),
    [
        ({"moderation": "low"}, ONE_IMAGE, "moderation", "unknown_parameter"),  # generations only
        ({"response_format": "b64_json"}, ONE_IMAGE, "response_format", "unknown_parameter"),
        ({"style": "vivid"}, ONE_IMAGE, "style", "unknown_parameter"),
        ({"colour[of]": "red"}, ONE_IMAGE, "colour[of]", "unknown_parameter"),
        ({"quality": "standard"}, ONE_IMAGE, "quality", "invalid_value"),
        ({"model": "gpt-image-2", "quality": "xhigh"}, ONE_IMAGE, "quality", "invalid_value"),
        ({"model": "gpt-image-2.5-flare", "complexity": "low"}, ONE_IMAGE, "complexity", "unsupported_value"),
        ({"n": "many"}, ONE_IMAGE, "n", "invalid_type"),
        ({"n": "11"}, ONE_IMAGE, "n", "integer_above_max_value"),
        ({"stream": "maybe"}, ONE_IMAGE, "stream", "invalid_type"),
        ({"size": "1000x1000"}, ONE_IMAGE, "size", "invalid_value"),
        ({}, NO_FILES, "image", "missing_required_parameter"),
        ({"prompt": ""}, ONE_IMAGE, "prompt", "empty_string"),
        ({}, ONE_IMAGE * 17, "image", "array_above_max_length"),
        ({}, [("images[]", ("a.png", png((8, 8))))], "images[]", "unknown_parameter"),
        ({"image": "not a file"}, ONE_IMAGE, "image", "invalid_type"),
        ({"markup": "not a file"}, ONE_IMAGE, "markup", "invalid_type"),
        ({"output_format": "gif", "output_compression": "10"}, ONE_IMAGE, "output_compression",
         "unsupported_parameter"),
        ({"output_format": "svg", "n": "2"}, ONE_IMAGE, "n", "unsupported_value"),
    ],
)
async def test_edit_validation(client, data, files, param, code):
    response = await client.post(EDIT, data={"model": MODEL, "prompt": "p", **data}, files=files)
    assert_error(response, 400, param=param, code=code)


async def test_edit_file_size_limit(api, client):
    api.max_image_bytes = 1000
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(buffer, "PNG")
    assert len(buffer.getvalue()) > 1000
    response = await client.post(EDIT, data={"model": MODEL, "prompt": "p"},
                                 files={"image": ("a.png", buffer.getvalue())})
    assert_error(response, 400, param="image", code="image_too_large")


async def test_json_edit_with_data_urls(client):
    image_url = "data:image/png;base64," + base64.b64encode(png((1024, 1536))).decode()
    mask_url = "data:image/png;base64," + base64.b64encode(png((1024, 1536), "RGBA", (0, 0, 0, 0))).decode()
    body = {"model": MODEL, "prompt": "p", "images": [{"image_url": image_url}],
            "mask": {"image_url": mask_url}, "moderation": "low", "output_format": "jpeg"}
    openapi_validator("EditImageBodyJsonParam").validate(body)
    result = ok(await client.post(EDIT, json=body))
    assert result["size"] == "1024x1536"
    assert decode(result["data"][0]["b64_json"]).format == "JPEG"


@pytest.mark.parametrize(
    ("images", "param"),
    [
        ([{"image_url": "https://example.com/a.png"}], "images[0].image_url"),
        ([{"file_id": "file-abc"}], "images[0].file_id"),
        ([{"image_url": "data:image/png;base64,aGVsbG8="}], "images[0]"),
        ([], "images"),
        ([{"image_url": "data:image/png;base64,xx", "detail": "high"}], "images[0].detail"),
        ([{"image_url": "data:,x", "file_id": "file-abc"}], "images[0]"),
        ([{}], "images[0].image_url"),
        ("data:image/png;base64,xx", "images"),
    ],
)
async def test_json_edit_rejections(client, images, param):
    response = await client.post(EDIT, json={"model": MODEL, "prompt": "p", "images": images})
    assert_error(response, 400, param=param)


async def test_json_edits_know_only_their_base_fields(client):
    image_url = "data:image/png;base64," + base64.b64encode(png()).decode()
    response = await client.post(EDIT, json={"model": MODEL, "prompt": "p", "images": [{"image_url": image_url}],
                                             "safety_identifier": "h1"})
    assert_error(response, 400, param="safety_identifier", code="unknown_parameter")


# -- Azure ---------------------------------------------------------------------------------------------------


async def test_azure_generation(api, azure):
    response = await azure.post(azure_path("generations"), json={"prompt": "p", "model": "ignored-by-azure"})
    result = ok(response)
    assert response.headers["apim-request-id"]
    assert result["quality"] == "high"  # Azure's default quality
    assert result["usage"]["output_tokens"] == 4160  # gpt-image-1, still served on Azure: the classic table
    assert result["data"][0]["content_filter_results"]["sexual"] == {"filtered": False, "severity": "safe"}
    record = api.requests[-1]
    assert (record.flavor, record.query, record.headers["api-key"]) == ("azure", {"api-version": AZURE_VERSION},
                                                                         AZURE_KEY)


async def test_azure_serves_gpt_image_2(azure):
    result = ok(await azure.post(azure_path("generations", "gpt-image-2"), json={"prompt": "p", "quality": "low",
                                                                                 "size": "2048x1152"}))
    assert result["usage"]["output_tokens"] == 157


async def test_azure_mini_defaults_to_medium(azure):
    result = ok(await azure.post(azure_path("generations", "gpt-image-1-mini"), json={"prompt": "p"}))
    assert (result["quality"], result["usage"]["output_tokens"]) == ("medium", 1056)


async def test_azure_input_fidelity_follows_the_model(azure):
    files = {"image": ("a.png", png((1024, 1024)))}
    high = ok(await azure.post(azure_path("edits"), data={"prompt": "p", "input_fidelity": "high"}, files=files))
    low = ok(await azure.post(azure_path("edits"), data={"prompt": "p"}, files=files))
    assert (high["usage"]["input_tokens_details"]["image_tokens"],
            low["usage"]["input_tokens_details"]["image_tokens"]) == (194 + 4160, 194)
    mini = await azure.post(azure_path("edits", "gpt-image-1-mini"), data={"prompt": "p", "input_fidelity": "high"},
                            files=files)
    assert_error(mini, 400, param="input_fidelity", code="unsupported_parameter")
    ok(await azure.post(azure_path("edits", "gpt-image-1-mini"), data={"prompt": "p", "input_fidelity": "low"},
                        files=files))


async def test_azure_custom_deployments():
    async with ImageAPIStandIn(azure_deployments={"prod-images": "gpt-image-1.5"}, today=TODAY) as api, \
            httpx.AsyncClient(base_url=api.azure_endpoint, headers={"api-key": AZURE_KEY}) as http:
        good = await http.post(azure_path("generations", "prod-images"), json={"prompt": "p", "quality": "low"})
        missing = await http.post(azure_path("generations", "gpt-image-1"), json={"prompt": "p"})
        api.today = date(2026, 12, 16)  # Azure retires gpt-image-1.5 on this day
        retired = await http.post(azure_path("generations", "prod-images"), json={"prompt": "p"})
    assert ok(good)["usage"]["output_tokens"] == 272
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "DeploymentNotFound"
    assert_error(retired, 404, param="model", code="model_not_found")


async def test_azure_routing_and_auth_errors(api, azure):
    wrong = await azure.post(azure_path("generations"), json={"prompt": "p"}, headers={"api-key": "nope"})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "401"
    assert wrong.json()["error"]["message"].startswith("Access denied due to invalid subscription key")
    bearer = await azure.post(azure_path("generations"), json={"prompt": "p"},
                              headers={"api-key": "", "Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 401
    no_version = await azure.post(azure_path("generations", version=None), json={"prompt": "p"})
    assert (no_version.status_code, no_version.json()) == (404, {"error": {"code": "404",
                                                                          "message": "Resource not found"}})
    old_version = await azure.post(azure_path("generations", version="2024-10-21"), json={"prompt": "p"})
    assert old_version.status_code == 400
    unknown = await azure.post(azure_path("generations", "nope"), json={"prompt": "p"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "DeploymentNotFound"
    no_prompt = await azure.post(azure_path("generations"), json={})  # what `imagebot doctor` sends
    assert_error(no_prompt, 400, param="prompt", code="missing_required_parameter")
    assert [r.status for r in api.requests] == [401, 401, 404, 400, 404, 400]


@pytest.mark.parametrize("fmt", ["webp", "gif", "svg"])
async def test_azure_answers_png_or_jpeg_only(azure, fmt):
    deployment = "gpt-image-2" if fmt == "webp" else "gpt-image-1"
    response = await azure.post(azure_path("generations", deployment), json={"prompt": "p", "output_format": fmt})
    error = assert_error(response, 400, param="output_format", code="invalid_value")
    assert error["message"] == f"Invalid value: '{fmt}'. Supported values are: 'png' and 'jpeg'."


async def test_azure_multipart_edit(api, azure):
    response = await azure.post(azure_path("edits"), data={"prompt": "p"},
                                files=[("image[]", ("a.png", png((1024, 1024))))])
    ok(response)
    assert api.requests[-1].files["image[]"][0][0] == "a.png"


async def test_azure_rate_limit_uses_azure_shape(api, azure):
    api.rate_limit(2)
    response = await azure.post(azure_path("edits"), data={"prompt": "p"}, files={"image[]": ("a.png", png())})
    assert response.status_code == 429
    assert (response.headers["Retry-After"], response.headers["retry-after-ms"]) == ("2", "2000")
    error = response.json()["error"]
    assert error["code"] == "429"
    assert "Images_Edits Operation" in error["message"] and "retry after 2 seconds" in error["message"]


async def test_azure_auth_error_fault_uses_azure_shape(api, azure):
    api.auth_error()
    response = await azure.post(azure_path("generations"), json={"prompt": "p"})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "401")


async def test_azure_content_filter_inner_error(api, azure):
    api.azure_content_filter(categories=("violence",))
    response = await azure.post(azure_path("generations"), json={"prompt": "p"})
    error = assert_error(response, 400, param="prompt", code="content_policy_violation")
    inner = error["inner_error"]
    assert inner["code"] == "ResponsibleAIPolicyViolation"
    assert inner["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}
    assert inner["content_filter_results"]["sexual"]["filtered"] is False
    assert (await azure.post(azure_path("generations"), json={"prompt": "p"})).status_code == 200


async def test_azure_content_filter_innererror_spelling(api, azure):
    api.azure_content_filter(spelling="innererror")
    response = await azure.post(azure_path("generations"), json={"prompt": "p"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("content_filter", "prompt")
    assert error["innererror"]["code"] == "ResponsibleAIPolicyViolation"
    assert error["innererror"]["content_filter_result"]["sexual"] == {"filtered": True, "severity": "high"}



# -- image kinds ---------------------------------------------------------------------------------------------


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


async def test_wait_for_requests(api, client):
    with pytest.raises(TimeoutError):
        await api.wait_for_requests(1, timeout=0.01)
    await client.post(GEN, json=gen_body())
    assert [r.status for r in await api.wait_for_requests(1)] == [200]


# -- the pause gate --------------------------------------------------------------------------------------------


async def test_pause_holds_successful_answers_until_resume(api, client):
    api.pause()
    assert api.paused and api.waiting == 0
    responses: list[httpx.Response] = []

    async def call(prompt: str) -> None:
        responses.append(await client.post(GEN, json=gen_body(prompt=prompt)))

    async with anyio.create_task_group() as tasks:
        for prompt in ("one", "two", "three"):
            tasks.start_soon(call, prompt)
        held = await api.wait_for_waiting(3)
        assert api.waiting == 3 and not responses
        assert sorted(r.json["prompt"] for r in held) == ["one", "three", "two"]
        assert [r.status for r in api.requests] == [0, 0, 0]  # recorded, not answered
        api.resume()
        assert api.waiting == 0 and not api.paused
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.status for r in api.requests] == [200, 200, 200]


async def test_pause_does_not_hold_errors(api, client):
    api.pause()
    api.rate_limit(retry_after=3)
    api.server_error()
    assert (await client.post(GEN, json=gen_body())).status_code == 429
    assert (await client.post(GEN, json=gen_body())).status_code == 500
    assert (await client.post(GEN, json=gen_body(model="dall-e-9"))).status_code in (400, 404)
    async with httpx.AsyncClient(base_url=api.openai_base_url, timeout=20) as anonymous:
        assert (await anonymous.post(GEN, json=gen_body())).status_code == 401
    assert api.waiting == 0 and api.paused
    api.resume()


async def test_resume_then_pause_lets_one_batch_through(api, client):
    api.pause()
    answered: list[str] = []
    first_answered = anyio.Event()

    async def call(prompt: str) -> None:
        response = await client.post(GEN, json=gen_body(prompt=prompt))
        assert response.status_code == 200
        answered.append(prompt)
        if prompt == "first":
            first_answered.set()

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(call, "first")
        await api.wait_for_waiting(1)
        api.resume()
        api.pause()  # "first" is already released; whatever comes next is held
        tasks.start_soon(call, "second")
        [held] = await api.wait_for_waiting(1)
        assert held.json["prompt"] == "second"
        with anyio.fail_after(10):
            await first_answered.wait()  # answered while "second" is still held
        assert answered == ["first"] and api.waiting == 1
        api.resume()
    assert answered == ["first", "second"]


async def test_pause_holds_edits_and_streams_too(api, client):
    api.pause()
    responses: list[httpx.Response] = []

    async def edit() -> None:
        responses.append(await client.post(EDIT, data={"model": MODEL, "prompt": "p"},
                                           files={"image": ("a.png", png())}))

    async def stream() -> None:
        responses.append(await client.post(GEN, json=gen_body(stream=True)))

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(edit)
        tasks.start_soon(stream)
        held = await api.wait_for_waiting(2)
        assert sorted(r.operation for r in held) == ["edits", "generations"] and not responses
        api.resume()
    assert sorted(r.status_code for r in responses) == [200, 200]
    assert any(r.headers["content-type"].startswith("text/event-stream") for r in responses)


async def test_held_requests_are_released_by_stop():
    api = ImageAPIStandIn(today=TODAY)
    await api.start()
    api.pause()
    response = await answered_when_stopped(api, lambda: api.wait_for_waiting(1))
    assert response.status_code == 200  # like latency: cut short, answered normally
    assert api.waiting == 0


async def test_wait_for_waiting_times_out_when_nothing_is_held(api, client):
    api.pause()
    with pytest.raises(TimeoutError):
        await api.wait_for_waiting(1, timeout=0.01)
    api.resume()
    assert (await client.post(GEN, json=gen_body())).status_code == 200  # not paused: answered at once
    assert api.waiting == 0

