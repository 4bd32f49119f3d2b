"""The image API client over a real socket, against the image API stand-in (OpenAI and Azure routes)."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from bot import errors
from bot.image_api import AzureTarget, ImageAPI, OpenAITarget, error_from_response
from bot.models import EditRequest, GenerateRequest, ImageOptions, InputImage
from standins.images_api import ImageAPIStandIn
from tests.conftest import Sleeps
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio


def png(size: tuple[int, int] = (64, 64), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 20, 30, 0) if mode == "RGBA" else (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def input_image(data: bytes, size: tuple[int, int] = (64, 64)) -> InputImage:
    return InputImage(data=data, format="png", width=size[0], height=size[1])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), trust_env=False) as client:
        yield client


@pytest.fixture
def openai(http: httpx.AsyncClient, image_api: ImageAPIStandIn, sleeps: Sleeps) -> ImageAPI:
    return ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps)


OPTIONS = ImageOptions(model="gpt-image-1")


async def test_generation_request_matches_the_openapi_description(openai: ImageAPI,
                                                                  image_api: ImageAPIStandIn) -> None:
    result = await openai.generate(GenerateRequest("a fox", ImageOptions(model="gpt-image-1-mini", quality="low"),
                                                   user="slack-abc"))
    [request] = image_api.requests
    assert request.headers["authorization"] == f"Bearer {image_api.api_key}"
    assert request.json == {"model": "gpt-image-1-mini", "prompt": "a fox", "n": 1, "size": "1024x1024",
                            "quality": "low", "output_format": "png", "user": "slack-abc"}
    openapi_validator("CreateImageRequest").validate(request.json)
    assert result.usage is not None and result.usage.output_image_tokens == 272
    assert result.request_id and result.provider == "openai"
    with Image.open(io.BytesIO(result.images[0].data)) as image:
        assert image.size == (1024, 1024)


async def test_edit_sends_every_input_as_image_array_and_the_mask(openai: ImageAPI,
                                                                  image_api: ImageAPIStandIn) -> None:
    base, reference = png((64, 64)), png((32, 48))
    mask = png((64, 64), mode="RGBA")
    request = EditRequest("add a hat", OPTIONS, images=(input_image(base), input_image(reference, (32, 48))), mask=mask)
    result = await openai.edit(request)
    [sent] = image_api.requests
    assert sent.content_type == "multipart/form-data"
    assert [data for _, _, data in sent.files["image[]"]] == [base, reference]
    assert [ctype for _, ctype, _ in sent.files["image[]"]] == ["image/png", "image/png"]
    assert sent.files["mask"][0][2] == mask
    params = sent.params()
    assert params["model"] == "gpt-image-1" and params["prompt"] == "add a hat" and params["n"] == 1
    view = {**params, "image": ["<binary>", "<binary>"], "mask": "<binary>"}
    openapi_validator("CreateImageEditRequest").validate(view)
    assert result.usage is not None and result.usage.input_image_tokens > 0


async def test_azure_uses_deployment_path_api_version_and_api_key(http: httpx.AsyncClient,
                                                                  image_api: ImageAPIStandIn) -> None:
    azure = ImageAPI(http, AzureTarget(image_api.azure_endpoint, image_api.azure_api_key, "gpt-image-1",
                                       "2025-04-01-preview"))
    await azure.generate(GenerateRequest("a fox", OPTIONS))
    [request] = image_api.requests
    assert request.path == "/openai/deployments/gpt-image-1/images/generations"
    assert request.query == {"api-version": "2025-04-01-preview"}
    assert request.headers["api-key"] == image_api.azure_api_key
    assert "authorization" not in request.headers and "model" not in request.json


async def test_retries_429_and_5xx_then_gives_up_with_the_last_error(openai: ImageAPI, image_api: ImageAPIStandIn,
                                                                     sleeps: Sleeps) -> None:
    image_api.server_error(times=3)
    with pytest.raises(errors.ServerError):
        await openai.generate(GenerateRequest("a fox", OPTIONS))
    assert [r.status for r in image_api.requests] == [500, 500, 500]
    assert len(sleeps.delays) == 2 and all(0 < d <= 20 for d in sleeps.delays)


async def test_retry_after_beyond_the_cap_is_not_waited_for(openai: ImageAPI, image_api: ImageAPIStandIn,
                                                            sleeps: Sleeps) -> None:
    image_api.rate_limit(retry_after=600)
    with pytest.raises(errors.RateLimited) as caught:
        await openai.generate(GenerateRequest("a fox", OPTIONS))
    assert caught.value.retry_after == 600 and len(image_api.requests) == 1 and not sleeps.delays


async def test_quota_and_moderation_are_not_retried(openai: ImageAPI, image_api: ImageAPIStandIn) -> None:
    image_api.quota_exhausted()
    with pytest.raises(errors.QuotaExhausted):
        await openai.generate(GenerateRequest("a fox", OPTIONS))
    image_api.moderation_blocked(stage="output", categories=("sexual",))
    with pytest.raises(errors.ModerationBlocked) as caught:
        await openai.generate(GenerateRequest("a fox", OPTIONS))
    assert caught.value.stage == "output" and caught.value.categories == ("sexual",)
    assert len(image_api.requests) == 2


async def test_a_request_that_never_answers_times_out(image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    image_api.hang(times=2)
    async with httpx.AsyncClient(timeout=httpx.Timeout(0.2), trust_env=False) as http:
        api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps,
                       max_attempts=2)
        with pytest.raises(errors.ServerError, match="did not answer in time"):
            await api.generate(GenerateRequest("a fox", OPTIONS))
    assert len(sleeps.delays) == 1


@pytest.mark.parametrize(("body", "message"), [
    ({"created": 1, "data": []}, "without any image"),
    ({"created": 1, "data": [{"b64_json": "not base64!!"}]}, "not valid base64"),
    ({"created": 1, "data": [{"url": "https://example.com/x.png"}]}, "without image data"),
])
async def test_malformed_answers_are_failures_not_crashes(openai: ImageAPI, image_api: ImageAPIStandIn,
                                                          body: dict, message: str) -> None:
    image_api.queue_error(200, body)
    with pytest.raises(errors.ServerError, match=message):
        await openai.generate(GenerateRequest("a fox", OPTIONS))


async def test_missing_usage_leaves_cost_unknown(openai: ImageAPI, image_api: ImageAPIStandIn) -> None:
    image_api.queue_error(200, {"created": 1, "data": [{"b64_json": base64.b64encode(png()).decode()}]})
    result = await openai.generate(GenerateRequest("a fox", OPTIONS))
    assert result.usage is None and len(result.images) == 1


def _response(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("POST", "https://x/images"))


@pytest.mark.parametrize(("status", "body", "kind", "check"), [
    (400, {"error": {"code": "content_filter", "message": "filtered", "param": "prompt",
                     "innererror": {"code": "ResponsibleAIPolicyViolation",
                                    "content_filter_result": {"violence": {"filtered": True, "severity": "high"},
                                                              "hate": {"filtered": False}}}}},
     errors.ModerationBlocked, lambda e: e.categories == ("violence",)),
    (400, {"error": {"code": "contentFilter", "message": "Your task failed as a result of our safety system."}},
     errors.ModerationBlocked, lambda e: True),
    (400, {"error": {"type": "image_generation_user_error", "code": "moderation_blocked", "param": None,
                     "message": "Your request was rejected by the safety system. safety_violations=[sexual, hate]."}},
     errors.ModerationBlocked, lambda e: e.categories == ("sexual", "hate")),
    (400, {"error": {"type": "invalid_request_error", "code": "billing_hard_limit_reached", "param": None,
                     "message": "Billing hard limit has been reached"}}, errors.QuotaExhausted, lambda e: True),
    (400, {"error": {"type": "invalid_request_error", "code": "unknown_parameter", "param": "response_format",
                     "message": "Unknown parameter: 'response_format'."}},
     errors.InvalidRequest, lambda e: e.param == "response_format" and e.api_code == "unknown_parameter"),
    (403, {"error": {"code": "Forbidden", "message": "Your resource has been temporarily blocked"}},
     errors.PermissionDenied, lambda e: True),
    (429, {"error": {"message": "Rate limit reached. Please try again in 850ms.", "type": "requests"}},
     errors.RateLimited, lambda e: e.retry_after == 0.85),
    (503, {"error": {"message": "engine overloaded"}}, errors.ServerError, lambda e: e.status == 503),
])
def test_error_shapes_map_to_the_error_tree(status: int, body: dict, kind: type, check: object) -> None:
    error = error_from_response(_response(status, body, {"x-request-id": "req_1"}))
    assert type(error) is kind and error.request_id == "req_1"
    assert check(error)  # type: ignore[operator]
