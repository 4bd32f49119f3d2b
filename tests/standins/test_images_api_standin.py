"""The Images API stand-in, tested over real loopback HTTP with httpx, and its token functions.

Responses are checked against OpenAI's own OpenAPI description (shared/schemas) so the stand-in can't
drift from the real wire format; figures come from the fact sheet (shared/reference/openai-images.md).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Awaitable, Callable

import anyio
import httpx
import pytest
from PIL import Image

from standins.images_api import (
    DALLE_ONLY_PARAMS,
    GENERATION_PARAMS,
    GPT_IMAGE_MODELS,
    JSON_EDIT_PARAMS,
    MULTIPART_EDIT_PARAMS,
    ImageAPIStandIn,
    RecordedRequest,
    closest_standard_size,
    gpt_image_2_size_problem,
    input_image_tokens,
    input_text_tokens,
    output_image_tokens,
)
from tests.standins.openapi import openapi_document, openapi_validator

KEY = "sk-standin"
AZURE_KEY = "azure-standin-key"
AZURE_VERSION = "2025-04-01-preview"
pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop
GEN = "/images/generations"
EDIT = "/images/edits"


def azure_path(operation: str, deployment: str = "gpt-image-1", version: str | None = AZURE_VERSION) -> str:
    query = f"?api-version={version}" if version else ""
    return f"/openai/deployments/{deployment}/images/{operation}{query}"


# -- fixtures and helpers ------------------------------------------------------------------------------------


@pytest.fixture
async def api():
    async with ImageAPIStandIn() as standin:
        yield standin


@pytest.fixture
async def client(api):
    async with httpx.AsyncClient(base_url=api.openai_base_url, headers={"Authorization": f"Bearer {KEY}"},
                                 timeout=20) as http:
        yield http


@pytest.fixture
async def azure(api):
    async with httpx.AsyncClient(base_url=api.azure_endpoint, headers={"api-key": AZURE_KEY}, timeout=20) as http:
        yield http


def png(size=(64, 64), mode="RGB", colour=(255, 0, 0), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    colour = colour[: len(mode)] if isinstance(colour, tuple) else colour
    Image.new(mode, size, colour).save(buffer, fmt)
    return buffer.getvalue()


def decode(b64: str) -> Image.Image:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def gen_body(**overrides) -> dict:
    return {"model": "gpt-image-1", "prompt": "a sea otter in a beret", **overrides}


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


# -- token accounting (pure) ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5", "chatgpt-image-latest", "gpt-image-1-mini"])
@pytest.mark.parametrize(
    ("quality", "square", "portrait", "landscape"),
    [("low", 272, 408, 400), ("medium", 1056, 1584, 1568), ("high", 4160, 6240, 6208)],
)
def test_output_tokens_follow_the_table_for_models_before_gpt_image_2(model, quality, square, portrait, landscape):
    assert output_image_tokens(model, "1024x1024", quality) == square
    assert output_image_tokens(model, "1024x1536", quality) == portrait
    assert output_image_tokens(model, "1536x1024", quality) == landscape


@pytest.mark.parametrize("model", ["gpt-image-2", "gpt-image-2-2026-04-21"])
@pytest.mark.parametrize(
    ("size", "figures"),
    [
        ("1024x1024", (196, 1756, 7024)),
        ("1536x1024", (158, 1372, 5488)),
        ("1024x1536", (158, 1372, 5488)),
        ("2048x2048", (397, 3568, 14272)),
        ("2048x1152", (157, 1413, 5650)),
        ("3840x2160", (371, 3336, 13342)),
    ],
)
def test_output_tokens_follow_the_formula_for_gpt_image_2(model, size, figures):
    assert tuple(output_image_tokens(model, size, q) for q in ("low", "medium", "high")) == figures


def test_output_tokens_refuse_unresolved_or_impossible_requests():
    with pytest.raises(ValueError):
        output_image_tokens("gpt-image-1", "1024x1024", "auto")
    with pytest.raises(ValueError):
        output_image_tokens("gpt-image-1", "2048x2048", "high")
    with pytest.raises(ValueError):
        output_image_tokens("dall-e-3", "1024x1024", "high")


@pytest.mark.parametrize(
    ("width", "height", "fidelity", "model", "tokens"),
    [
        (1024, 1024, "low", "gpt-image-1", 194),  # the observed bill: 65 + 129 × 1 tile
        (256, 256, "low", "gpt-image-1", 194),  # scaled up to 512: still one tile
        (1536, 1024, "low", "gpt-image-1", 323),  # 768x512: two tiles
        (1024, 4096, "low", "gpt-image-1", 65 + 129 * 4),
        (1024, 1024, "high", "gpt-image-1", 194 + 4160),
        (1024, 1536, "high", "gpt-image-1.5", 323 + 6240),
        (1536, 1024, "low", "gpt-image-2", 323 + 6240),  # gpt-image-2 inputs are always high fidelity
        (1000, 1024, "high", "gpt-image-1", 65 + 129 * 2 + 4160),  # closest to square
    ],
)
def test_input_image_tokens(width, height, fidelity, model, tokens):
    assert input_image_tokens(width, height, fidelity, model) == tokens


def test_input_text_tokens_estimate():
    assert input_text_tokens("abcd") == 1 + 6
    assert input_text_tokens("abcde") == 2 + 6
    assert input_text_tokens("abcde", input_images=2) == 2 + 6 + 64


def test_size_helpers():
    assert closest_standard_size(1920, 1080) == "1536x1024"
    assert closest_standard_size(1080, 1920) == "1024x1536"
    assert closest_standard_size(1100, 1000) == "1024x1024"
    assert gpt_image_2_size_problem(2048, 1152) is None
    assert gpt_image_2_size_problem(3840, 2160) is None
    assert "16" in gpt_image_2_size_problem(1000, 1000)
    assert "3840" in gpt_image_2_size_problem(4096, 2048)
    assert "3:1" in gpt_image_2_size_problem(2560, 768)
    assert "655,360" in gpt_image_2_size_problem(512, 512)


def test_allowed_fields_are_the_schemas_properties():
    schemas = openapi_document()["components"]["schemas"]
    assert set(schemas["CreateImageRequest"]["properties"]) - DALLE_ONLY_PARAMS == GENERATION_PARAMS
    assert set(schemas["CreateImageEditRequest"]["properties"]) - {"response_format"} == MULTIPART_EDIT_PARAMS
    assert set(schemas["EditImageBodyJsonParam"]["properties"]) == JSON_EDIT_PARAMS
    for name in ("CreateImageRequest", "CreateImageEditRequest", "EditImageBodyJsonParam"):
        enums = [a.get("enum", []) for a in schemas[name]["properties"]["model"]["anyOf"]]
        assert {m for e in enums for m in e if not m.startswith("dall-e")} <= GPT_IMAGE_MODELS


def test_recorded_request_params_flatten_multipart_fields():
    record = RecordedRequest(
        flavor="openai", operation="edits", path="/v1/images/edits", content_type="multipart/form-data",
        fields={"prompt": ["x"], "n": ["2"], "output_compression": ["80"], "user": ["a", "b"], "stream": ["true"]},
    )
    assert record.params() == {"prompt": "x", "n": 2, "output_compression": 80, "user": ["a", "b"], "stream": "true"}
    assert RecordedRequest("openai", "generations", "/", json={"n": 1}).params() == {"n": 1}


# -- generations ---------------------------------------------------------------------------------------------


async def test_generation_answers_like_the_real_api(api, client):
    body = gen_body(quality="high")
    response = await client.post(GEN, json=body)

    assert response.status_code == 200
    assert response.headers["x-request-id"].startswith("req_")
    assert int(response.headers["openai-processing-ms"]) >= 0
    result = response.json()
    openapi_validator("ImagesResponse").validate(result)
    openapi_validator("CreateImageRequest").validate(body)
    assert (result["size"], result["quality"], result["background"], result["output_format"]) == (
        "1024x1024", "high", "opaque", "png")
    text = input_text_tokens(body["prompt"])
    assert result["usage"] == {
        "input_tokens": text, "output_tokens": 4160, "total_tokens": text + 4160,
        "input_tokens_details": {"text_tokens": text, "image_tokens": 0},
        "output_tokens_details": {"image_tokens": 4160, "text_tokens": 0},
    }
    image = decode(result["data"][0]["b64_json"])
    assert (image.format, image.size) == ("PNG", (1024, 1024))

    [record] = api.requests
    assert (record.flavor, record.operation, record.path, record.status) == ("openai", "generations",
                                                                             "/v1/images/generations", 200)
    assert record.content_type == "application/json"
    assert record.json == body and record.params() == body
    assert record.headers["authorization"] == f"Bearer {KEY}"


async def test_generation_resolves_auto_and_is_deterministic(client):
    first = (await client.post(GEN, json=gen_body())).json()
    second = (await client.post(GEN, json=gen_body())).json()
    other = (await client.post(GEN, json=gen_body(prompt="a different prompt"))).json()
    assert (first["size"], first["quality"]) == ("1024x1024", "medium")
    assert first["usage"]["output_tokens"] == 1056
    assert first["data"] == second["data"]
    assert first["data"] != other["data"]


async def test_generation_of_several_jpegs(client):
    result = (await client.post(GEN, json=gen_body(
        n=2, size="1536x1024", quality="low", output_format="jpeg", output_compression=60))).json()
    openapi_validator("ImagesResponse").validate(result)
    assert len(result["data"]) == 2
    assert result["data"][0] != result["data"][1]
    for item in result["data"]:
        image = decode(item["b64_json"])
        assert (image.format, image.size) == ("JPEG", (1536, 1024))
    assert result["usage"]["output_tokens"] == 2 * 400


async def test_transparent_generation_has_an_alpha_background(client):
    result = (await client.post(GEN, json=gen_body(background="transparent", output_format="webp"))).json()
    assert result["background"] == "transparent"
    image = decode(result["data"][0]["b64_json"])
    assert image.format == "WEBP" and image.mode == "RGBA"
    assert image.getchannel("A").getextrema()[0] == 0


async def test_gpt_image_2_takes_free_sizes(client):
    result = (await client.post(GEN, json=gen_body(model="gpt-image-2", size="2048x1152", quality="low"))).json()
    assert result["size"] == "2048x1152"
    assert decode(result["data"][0]["b64_json"]).size == (2048, 1152)
    assert result["usage"]["output_tokens"] == 157


@pytest.mark.parametrize(
    ("overrides", "status", "param", "code"),
    [
        ({"response_format": "b64_json"}, 400, "response_format", "unknown_parameter"),
        ({"style": "vivid"}, 400, "style", "unknown_parameter"),
        ({"input_fidelity": "high"}, 400, "input_fidelity", "unknown_parameter"),
        ({"image": "x"}, 400, "image", "unknown_parameter"),
        ({"prompt": ""}, 400, "prompt", "empty_string"),
        ({"prompt": "x" * 32001}, 400, "prompt", "string_above_max_length"),
        ({"prompt": 5}, 400, "prompt", "invalid_type"),
        ({"n": 11}, 400, "n", "integer_above_max_value"),
        ({"n": 0}, 400, "n", "integer_below_min_value"),
        ({"n": "2"}, 400, "n", "invalid_type"),
        ({"size": "512x512"}, 400, "size", "invalid_value"),
        ({"size": "2048x2048"}, 400, "size", "invalid_value"),
        ({"model": "gpt-image-2", "size": "1000x1000"}, 400, "size", "invalid_value"),
        ({"model": "gpt-image-2", "size": "4096x2160"}, 400, "size", "invalid_value"),
        ({"quality": "hd"}, 400, "quality", "invalid_value"),
        ({"background": "transparent", "output_format": "jpeg"}, 400, "background", "invalid_value"),
        ({"model": "gpt-image-2", "background": "transparent"}, 400, "background", "unsupported_value"),
        ({"output_format": "gif"}, 400, "output_format", "invalid_value"),
        ({"output_compression": 80}, 400, "output_compression", "unsupported_parameter"),
        ({"output_format": "jpeg", "output_compression": 101}, 400, "output_compression",
         "integer_above_max_value"),
        ({"partial_images": 4}, 400, "partial_images", "integer_above_max_value"),
        ({"stream": "yes"}, 400, "stream", "invalid_type"),
        ({"moderation": "none"}, 400, "moderation", "invalid_value"),
        ({"model": "gpt-image-9"}, 404, None, "model_not_found"),
        ({"model": "dall-e-3"}, 404, None, "model_not_found"),
    ],
)
async def test_generation_validation(api, client, overrides, status, param, code):
    response = await client.post(GEN, json=gen_body(**overrides))
    error = assert_error(response, status, param=param, code=code, type="invalid_request_error")
    assert api.requests[-1].status == status
    if code == "unknown_parameter":
        assert error["message"] == f"Unknown parameter: '{param}'."


async def test_generation_messages_name_the_problem(client):
    error = assert_error(await client.post(GEN, json={"model": "gpt-image-1"}), 400, param="prompt",
                         code="missing_required_parameter")
    assert error["message"] == "Missing required parameter: 'prompt'."
    error = assert_error(await client.post(GEN, json=gen_body(quality="ultra")), 400)
    assert error["message"] == "Invalid value: 'ultra'. Supported values are: 'low', 'medium', 'high', and 'auto'."
    error = assert_error(await client.post(GEN, json=gen_body(model="x-1")), 404)
    assert error["message"] == "The model `x-1` does not exist or you do not have access to it."
    # No model means dall-e-2 (§0), which is retired here: always send the model.
    assert_error(await client.post(GEN, json={"prompt": "x"}), 404, code="model_not_found")


async def test_generation_rejects_bodies_that_are_not_json(client):
    error = assert_error(await client.post(GEN, content=b"{not json", headers={"Content-Type": "application/json"}),
                         400, param=None, code=None)
    assert "could not parse the JSON body" in error["message"]
    assert_error(await client.post(GEN, data={"prompt": "x"}, files={"f": ("a", b"b")}), 400)


async def test_unknown_paths_get_openai_404(client):
    error = assert_error(await client.post("/images/variations", json={}), 404)
    assert error["message"] == "Invalid URL (POST /v1/images/variations)"


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
    assert "Rate limit reached for gpt-image-1" in error["message"] and "Please try again in 3s" in error["message"]
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
    edit = await client.post(EDIT, data={"model": "gpt-image-1", "prompt": "x"}, files={"image": ("a.png", png())})
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
    api = ImageAPIStandIn()
    await api.start()
    api.hang()
    assert_error(await answered_when_stopped(api, lambda: api.wait_for_requests(1)), 503, type="server_error")
    assert api.requests[0].status == 503


async def test_latency_is_cut_short_by_stop():
    api = ImageAPIStandIn(latency=600)
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
    # Events echo the requested settings, so "auto" shows (§3b); each partial costs 100 output tokens.
    assert (completed["size"], completed["quality"], completed["background"]) == ("auto", "auto", "auto")
    assert completed["usage"]["output_tokens"] == 1056 + 200
    assert "output_tokens_details" not in completed["usage"]
    assert decode(completed["b64_json"]).size == (1024, 1024)
    assert decode(events[0][1]["b64_json"]).tobytes() != decode(completed["b64_json"]).tobytes()


async def test_streaming_without_partials_sends_one_event(client):
    events = parse_sse((await client.post(GEN, json=gen_body(stream=True, quality="low"))).text)
    assert [name for name, _ in events] == ["image_generation.completed"]
    assert events[0][1]["usage"]["output_tokens"] == 272


async def test_streaming_edit_uses_image_edit_events(client):
    response = await client.post(EDIT, data={"model": "gpt-image-1", "prompt": "x", "stream": "true",
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
        data={"model": "gpt-image-1", "prompt": prompt, "n": "1", "quality": "low"},
        files=[("image[]", ("red.png", first, "image/png")), ("image[]", ("blue.png", second, "image/png")),
               ("mask", ("mask.png", mask_buffer.getvalue(), "image/png"))],
    )

    assert response.status_code == 200, response.text
    result = response.json()
    openapi_validator("ImagesResponse").validate(result)
    assert result["size"] == "1536x1024"  # auto → the standard size closest to the first image
    text = input_text_tokens(prompt, input_images=2)
    assert result["usage"]["input_tokens_details"] == {"text_tokens": text, "image_tokens": 2 * 323}  # no mask
    assert result["usage"]["output_tokens"] == 400
    image = decode(result["data"][0]["b64_json"]).convert("RGB")
    assert image.size == (1536, 1024)
    assert image.getpixel((10, 10)) == (255, 0, 0)  # outside the mask's transparent area: the first image
    r, g, b = image.getpixel((10, 1000))  # inside it: the first image, tinted
    assert (r, g, b) != (255, 0, 0) and r > 150 and g < 100 and b < 100

    record = api.requests[-1]
    assert (record.operation, record.content_type, record.json) == ("edits", "multipart/form-data", None)
    assert record.params() == {"model": "gpt-image-1", "prompt": prompt, "n": 1, "quality": "low"}
    assert [(name, kind, data) for name, kind, data in record.files["image[]"]] == [
        ("red.png", "image/png", first), ("blue.png", "image/png", second)]
    assert record.files["mask"][0][0] == "mask.png"


async def test_edit_differs_from_a_generation(client):
    edit = (await client.post(EDIT, data={"model": "gpt-image-1", "prompt": "p"},
                              files={"image": ("a.png", png((1024, 1024)))})).json()
    generation = (await client.post(GEN, json=gen_body(prompt="p"))).json()
    assert edit["data"] != generation["data"]
    assert decode(edit["data"][0]["b64_json"]).convert("RGB").getpixel((5, 5))[0] > 150


async def test_edit_fidelity_changes_the_input_bill(client):
    files = {"image": ("a.png", png((1024, 1024)))}
    high = (await client.post(EDIT, data={"model": "gpt-image-1", "prompt": "p", "input_fidelity": "high"},
                              files=files)).json()
    assert high["usage"]["input_tokens_details"]["image_tokens"] == 194 + 4160
    gpt2 = (await client.post(EDIT, data={"model": "gpt-image-2", "prompt": "p"}, files=files)).json()
    assert gpt2["usage"]["input_tokens_details"]["image_tokens"] == 194 + 4160


async def test_image_type_is_sniffed_from_the_bytes(client):
    data = {"model": "gpt-image-1", "prompt": "p"}
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
    response = await client.post(EDIT, data={"model": "gpt-image-1", "prompt": "p"},
                                 files=[("image[]", ("a.png", png((64, 64)))), ("mask", ("m.png", mask))])
    assert_error(response, 400, param="mask")


ONE_IMAGE = [("image[]", ("a.png", png((8, 8))))]
NO_FILES = [("model", (None, "gpt-image-1"))]  # a text part sent as multipart, so httpx sends no file


@pytest.mark.parametrize(
    ("data", "files", "param", "code"),
    [
        ({"model": "gpt-image-1-mini", "input_fidelity": "high"}, ONE_IMAGE, "input_fidelity",
         "unsupported_parameter"),
        ({"moderation": "low"}, ONE_IMAGE, "moderation", "unknown_parameter"),
        ({"response_format": "b64_json"}, ONE_IMAGE, "response_format", "unknown_parameter"),
        ({"quality": "standard"}, ONE_IMAGE, "quality", "invalid_value"),
        ({"n": "many"}, ONE_IMAGE, "n", "invalid_type"),
        ({"n": "11"}, ONE_IMAGE, "n", "integer_above_max_value"),
        ({}, NO_FILES, "image", "missing_required_parameter"),
        ({}, ONE_IMAGE * 17, "image", "array_above_max_length"),
        ({}, [("images[]", ("a.png", png((8, 8))))], "images[]", "unknown_parameter"),
        ({"image": "not a file"}, ONE_IMAGE, "image", "invalid_type"),
    ],
)
async def test_edit_validation(client, data, files, param, code):
    response = await client.post(EDIT, data={"model": "gpt-image-1", "prompt": "p", **data}, files=files)
    assert_error(response, 400, param=param, code=code)


async def test_edit_file_size_limit(api, client):
    api.max_image_bytes = 1000
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).convert("RGB").save(buffer, "PNG")
    assert len(buffer.getvalue()) > 1000
    response = await client.post(EDIT, data={"model": "gpt-image-1", "prompt": "p"},
                                 files={"image": ("a.png", buffer.getvalue())})
    assert_error(response, 400, param="image", code="image_too_large")


async def test_json_edit_with_data_urls(client):
    image_url = "data:image/png;base64," + base64.b64encode(png((1024, 1536))).decode()
    mask_url = "data:image/png;base64," + base64.b64encode(png((1024, 1536), "RGBA", (0, 0, 0, 0))).decode()
    body = {"model": "gpt-image-1.5", "prompt": "p", "images": [{"image_url": image_url}],
            "mask": {"image_url": mask_url}, "moderation": "low", "output_format": "jpeg"}
    openapi_validator("EditImageBodyJsonParam").validate(body)
    response = await client.post(EDIT, json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    openapi_validator("ImagesResponse").validate(result)
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
    ],
)
async def test_json_edit_rejections(client, images, param):
    response = await client.post(EDIT, json={"model": "gpt-image-1", "prompt": "p", "images": images})
    assert_error(response, 400, param=param)


# -- Azure ---------------------------------------------------------------------------------------------------


async def test_azure_generation(api, azure):
    response = await azure.post(azure_path("generations"), json={"prompt": "p", "model": "ignored-by-azure"})
    assert response.status_code == 200, response.text
    assert response.headers["apim-request-id"]
    result = response.json()
    openapi_validator("ImagesResponse").validate(result)
    assert result["quality"] == "high"  # Azure's default for gpt-image-1 (§6c)
    assert result["data"][0]["content_filter_results"]["sexual"] == {"filtered": False, "severity": "safe"}
    record = api.requests[-1]
    assert (record.flavor, record.query, record.headers["api-key"]) == ("azure", {"api-version": AZURE_VERSION},
                                                                         AZURE_KEY)


async def test_azure_mini_defaults_to_medium(azure):
    result = (await azure.post(azure_path("generations", "gpt-image-1-mini"), json={"prompt": "p"})).json()
    assert (result["quality"], result["usage"]["output_tokens"]) == ("medium", 1056)


async def test_azure_custom_deployments():
    async with ImageAPIStandIn(azure_deployments={"prod-images": "gpt-image-1.5"}) as api, httpx.AsyncClient(
        base_url=api.azure_endpoint, headers={"api-key": AZURE_KEY}
    ) as http:
        ok = await http.post(azure_path("generations", "prod-images"), json={"prompt": "p", "quality": "low"})
        missing = await http.post(azure_path("generations", "gpt-image-1"), json={"prompt": "p"})
    assert ok.json()["usage"]["output_tokens"] == 272
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "DeploymentNotFound"


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
    assert [r.status for r in api.requests] == [401, 401, 404, 400, 404]


async def test_azure_rejects_webp(azure):
    response = await azure.post(azure_path("generations"), json={"prompt": "p", "output_format": "webp"})
    error = assert_error(response, 400, param="output_format", code="invalid_value")
    assert error["message"] == "Invalid value: 'webp'. Supported values are: 'png' and 'jpeg'."


async def test_azure_multipart_edit(api, azure):
    response = await azure.post(azure_path("edits"), data={"prompt": "p"},
                                files=[("image[]", ("a.png", png((1024, 1024))))])
    assert response.status_code == 200, response.text
    openapi_validator("ImagesResponse").validate(response.json())
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
    async with ImageAPIStandIn(image_kind="photo") as api, httpx.AsyncClient(
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
        responses.append(await client.post(EDIT, data={"model": "gpt-image-1", "prompt": "p"},
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
    api = ImageAPIStandIn()
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
