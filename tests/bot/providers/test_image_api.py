"""The image API client: over a real socket against the image API stand-in (OpenAI and Azure routes), and, for
what each request carries and how each answer is read, against handlers written here with httpx.MockTransport
(the far side of the wire, so those tests do not depend on the stand-in's own rules).

Models come from the catalogue by what they can do (tests/catalogue_helpers.py), never named here.
"""

from __future__ import annotations

import asyncio
import base64
import email.parser
import email.policy
import io
import json
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest
from PIL import Image

from bot import errors
from bot.models import EditRequest, GenerateRequest, ImageOptions, InputImage, LostAnswer, PartialImage
from bot.money import tokens
from bot.money.pricing import SvgUsage
from bot.providers.image_api import ImageAPI
from bot.providers.targets import AzureTarget, OpenAITarget
from bot.providers.wire import MAX_SAFETY_IDENTIFIER
from standins.images_api import ImageAPIStandIn
from tests.catalogue_helpers import TODAY, caps, catalogue, default_model, live, live_with, shut_down
from tests.conftest import Sleeps
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio


def _record(lost: list[LostAnswer]) -> Callable[[LostAnswer], Awaitable[None]]:
    """An on_lost callback that keeps what it is given."""
    async def on_lost(answer: LostAnswer) -> None:
        lost.append(answer)
    return on_lost


def png(size: tuple[int, int] = (64, 64), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 20, 30, 0) if mode == "RGBA" else (10, 20, 30)).save(out, format="PNG")
    return out.getvalue()


def input_image(data: bytes, size: tuple[int, int] = (64, 64)) -> InputImage:
    return InputImage(data=data, format="png", width=size[0], height=size[1])


def end_user_field(provider: str) -> str:
    return catalogue().provider(provider).end_user_field


def azure_model() -> str:
    """A model Azure serves today (live, not merely unconfirmed), for a deployment of the stand-in."""
    found = [m for m in live("azure") if catalogue().status(m, "azure").on(TODAY) == "live"]
    assert found, "the catalogue has no model live on Azure"
    return found[0]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0), trust_env=False) as client:
        yield client


@pytest.fixture
def openai(http: httpx.AsyncClient, image_api: ImageAPIStandIn, sleeps: Sleeps) -> ImageAPI:
    return ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps,
                    end_user_field=end_user_field("openai"))


@pytest.fixture
def azure_deployment(image_api: ImageAPIStandIn) -> str:
    """A deployment of the stand-in that serves `azure_model()`."""
    image_api.azure_deployments["imagebot-test"] = azure_model()
    return "imagebot-test"


OPTIONS = ImageOptions(model=default_model())


def low_tokens(model: str) -> int:
    """Output tokens of one low-quality 1024x1024 PNG: the stand-in bills the catalogue's figures (bot.money.tokens)."""
    return tokens.output_image_tokens(caps(model), "1024x1024", "low")


async def test_generation_request_matches_the_openapi_description(openai: ImageAPI,
                                                                  image_api: ImageAPIStandIn) -> None:
    options = ImageOptions(model=default_model(), quality="low")
    result = await openai.generate(GenerateRequest("a fox", options, user="slack-abc"))
    [request] = image_api.requests
    assert request.headers["authorization"] == f"Bearer {image_api.api_key}"
    assert request.json == {"model": default_model(), "prompt": "a fox", "n": 1, "size": "1024x1024",
                            "quality": "low", "output_format": "png", "safety_identifier": "slack-abc"}
    openapi_validator("CreateImageRequest").validate(request.json)
    assert result.usage is not None and result.usage.output_image_tokens == low_tokens(default_model())
    assert result.request_id and result.provider == "openai" and result.svg_usage is None
    with Image.open(io.BytesIO(result.images[0].data)) as image:
        assert image.size == (1024, 1024)


async def test_edit_sends_several_inputs_as_image_array_and_the_mask(openai: ImageAPI,
                                                                     image_api: ImageAPIStandIn) -> None:
    model = live_with(lambda c: c.mask)
    base, reference = png((64, 64)), png((32, 48))
    mask = png((64, 64), mode="RGBA")
    request = EditRequest("add a hat", replace(OPTIONS, model=model),
                          images=(input_image(base), input_image(reference, (32, 48))), mask=mask)
    result = await openai.edit(request)
    [sent] = image_api.requests
    assert sent.content_type == "multipart/form-data"
    assert "image" not in sent.files
    assert [data for _, _, data in sent.files["image[]"]] == [base, reference]
    assert [ctype for _, ctype, _ in sent.files["image[]"]] == ["image/png", "image/png"]
    assert sent.files["mask"][0][2] == mask
    params = sent.params()
    assert params["model"] == model and params["prompt"] == "add a hat" and params["n"] == 1
    assert "moderation" not in params  # generations only
    openapi_validator("CreateImageEditRequest").validate(sent.body())
    assert result.usage is not None and result.usage.input_image_tokens > 0


async def test_an_edit_of_one_image_sends_it_as_image(openai: ImageAPI, image_api: ImageAPIStandIn) -> None:
    base = png()
    await openai.edit(EditRequest("add a hat", OPTIONS, images=(input_image(base),)))
    [sent] = image_api.requests
    assert [data for _, _, data in sent.files["image"]] == [base] and "image[]" not in sent.files
    openapi_validator("CreateImageEditRequest").validate(sent.body())


async def test_azure_uses_deployment_path_api_version_api_key_and_user(http: httpx.AsyncClient,
                                                                       image_api: ImageAPIStandIn,
                                                                       azure_deployment: str) -> None:
    azure = ImageAPI(http, AzureTarget(image_api.azure_endpoint, image_api.azure_api_key, azure_deployment,
                                       "2025-04-01-preview"), end_user_field=end_user_field("azure"))
    await azure.generate(GenerateRequest("a fox", replace(OPTIONS, model=azure_model()), user="slack-abc"))
    [request] = image_api.requests
    assert request.status == 200
    assert request.path == f"/openai/deployments/{azure_deployment}/images/generations"
    assert request.query == {"api-version": "2025-04-01-preview"}
    assert request.headers["api-key"] == image_api.azure_api_key
    assert "authorization" not in request.headers and "model" not in request.json
    assert request.json["user"] == "slack-abc" and "safety_identifier" not in request.json


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


async def test_a_shut_down_model_is_model_unavailable_and_not_retried(openai: ImageAPI, image_api: ImageAPIStandIn,
                                                                      sleeps: Sleeps) -> None:
    gone = shut_down()[0]
    with pytest.raises(errors.ModelUnavailable) as caught:
        await openai.generate(GenerateRequest("a fox", ImageOptions(model=gone)))
    assert caught.value.model == gone and caught.value.status == 404 and caught.value.param == "model"
    assert len(image_api.requests) == 1 and not sleeps.delays


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


GONE = shut_down()[0]  # a model the catalogue says OpenAI has shut down
NOBODY = "no-such-image-model"  # an ID no provider serves (made up)


# -- what each request carries, against a far side written here (httpx.MockTransport) ----------------------


@dataclass
class FarSide:
    """The API's side of the wire: records each request and answers with `answer` (JSON) or `respond`."""

    answer: dict[str, Any] = field(default_factory=lambda: image_answer())
    status: int = 200
    respond: Callable[[httpx.Request], Awaitable[httpx.Response]] | None = None
    requests: list[httpx.Request] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        if self.respond is not None:
            return await self.respond(request)
        return httpx.Response(self.status, json=self.answer, headers={"x-request-id": "req_far"})

    def json(self, index: int = -1) -> dict[str, Any]:
        assert self.requests[index].headers["content-type"] == "application/json"
        body: dict[str, Any] = json.loads(self.requests[index].content)
        return body

    def form(self, index: int = -1) -> tuple[dict[str, str], dict[str, list[tuple[str, str, bytes]]]]:
        """A multipart request's text fields and files ({name: [(filename, content type, bytes)]})."""
        request = self.requests[index]
        assert request.headers["content-type"].startswith("multipart/form-data")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.content)
        fields: dict[str, str] = {}
        files: dict[str, list[tuple[str, str, bytes]]] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if part.get_filename():
                files.setdefault(name, []).append((part.get_filename(), part.get_content_type(), payload))
            else:
                assert name not in fields, f"{name} sent twice"
                fields[name] = payload.decode()
        return fields, files


def image_answer(**extra: Any) -> dict[str, Any]:
    return {"created": 1, "data": [{"b64_json": base64.b64encode(png()).decode()}],
            "usage": {"input_tokens": 10, "output_tokens": 272, "total_tokens": 282,
                      "input_tokens_details": {"text_tokens": 10, "image_tokens": 0}}, **extra}


def edit_schema_view(fields: dict[str, str], files: dict[str, list[tuple[str, str, bytes]]]) -> dict[str, Any]:
    """A multipart edit as the schema's object: bracketed names nested, integers parsed, files as "<binary>"."""
    view: dict[str, Any] = {}
    for name, value in fields.items():
        if name.startswith("svg["):
            view.setdefault("svg", {})[name[4:-1]] = value
        else:
            view[name] = int(value) if name in ("n", "partial_images", "frame_count", "frame_duration_ms") else value
    for name, parts in files.items():
        view[name.removesuffix("[]")] = ["<binary>"] * len(parts) if name.endswith("[]") else "<binary>"
    return view


@pytest.fixture
def far() -> FarSide:
    return FarSide()


@pytest.fixture
async def far_http(far: FarSide) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(far)) as client:
        yield client


def client_for(http: httpx.AsyncClient, provider: str, **kwargs: Any) -> ImageAPI:
    target = (OpenAITarget("https://api.example/v1", "sk-test") if provider == "openai"
              else AzureTarget("https://res.example", "azure-key", "imagebot-test", "2025-04-01-preview"))
    return ImageAPI(http, target, end_user_field=end_user_field(provider), **kwargs)


@pytest.mark.parametrize("provider", ["openai", "azure"])
async def test_the_end_user_goes_as_the_providers_field(far_http: httpx.AsyncClient, far: FarSide,
                                                        provider: str) -> None:
    api = client_for(far_http, provider)
    model = default_model() if provider == "openai" else azure_model()
    await api.generate(GenerateRequest("a fox", ImageOptions(model=model), user="slack-abc"))
    await api.edit(EditRequest("add a hat", ImageOptions(model=model), images=(input_image(png()),),
                               user="slack-abc"))
    body = far.json(0)
    fields, _ = far.form(1)
    wanted = {"openai": "safety_identifier", "azure": "user"}[provider]  # the published field of each API
    other = {"safety_identifier", "user"} - {wanted}
    for sent in (body, fields):
        assert sent[wanted] == "slack-abc" and not other & set(sent)
    assert ("model" in body) is (provider == "openai")
    openapi_validator("CreateImageRequest").validate(body)
    openapi_validator("CreateImageEditRequest").validate(edit_schema_view(*far.form(1)))


async def test_a_long_end_user_id_is_cut_to_64_characters(far_http: httpx.AsyncClient, far: FarSide) -> None:
    api = client_for(far_http, "openai")
    await api.generate(GenerateRequest("a fox", OPTIONS, user="u" * 100))
    await api.generate(GenerateRequest("a fox", OPTIONS))
    assert far.json(0)["safety_identifier"] == "u" * MAX_SAFETY_IDENTIFIER == "u" * 64
    assert {"safety_identifier", "user"}.isdisjoint(far.json(1))  # no end user, no field


async def test_complexity_and_moderation_are_sent_and_moderation_only_to_generations(
        far_http: httpx.AsyncClient, far: FarSide) -> None:
    model = live_with(lambda c: c.complexity and c.moderation)
    options = ImageOptions(model=model, complexity="low", moderation="low")
    api = client_for(far_http, "openai")
    await api.generate(GenerateRequest("a fox", options))
    await api.edit(EditRequest("add a hat", options, images=(input_image(png()),)))
    body = far.json(0)
    assert (body["complexity"], body["moderation"]) == ("low", "low")
    openapi_validator("CreateImageRequest").validate(body)
    fields, _ = far.form(1)
    assert fields["complexity"] == "low" and "moderation" not in fields  # the edits endpoint has no such field
    await api.generate(GenerateRequest("a fox", ImageOptions(model=model)))
    assert {"complexity", "moderation"}.isdisjoint(far.json(2))  # unset: left to the API's defaults


async def test_gif_frames_are_sent_for_gif_only(far_http: httpx.AsyncClient, far: FarSide) -> None:
    model = live_with(lambda c: c.gif is not None)
    gif = caps(model).gif
    assert gif is not None
    gif_options = ImageOptions(model=model, output_format="gif", frames=gif.min_frames, frame_ms=gif.default_frame_ms)
    api = client_for(far_http, "openai")
    far.answer = image_answer(output_format="gif")
    await api.generate(GenerateRequest("a dancing fox", gif_options))
    await api.edit(EditRequest("make it dance", gif_options, images=(input_image(png()),)))
    await api.generate(GenerateRequest("a fox", replace(gif_options, output_format="png")))
    body = far.json(0)
    assert (body["output_format"], body["frame_count"], body["frame_duration_ms"]) == (
        "gif", gif.min_frames, gif.default_frame_ms)
    openapi_validator("CreateImageRequest").validate(body)
    fields, files = far.form(1)
    assert (fields["frame_count"], fields["frame_duration_ms"]) == (str(gif.min_frames), str(gif.default_frame_ms))
    openapi_validator("CreateImageEditRequest").validate(edit_schema_view(fields, files))
    assert {"frame_count", "frame_duration_ms"}.isdisjoint(far.json(2))
    await api.generate(GenerateRequest("a fox", replace(gif_options, frames=None, frame_ms=None)))
    assert {"frame_count", "frame_duration_ms"}.isdisjoint(far.json(3))  # the API's defaults


SVG_AUTHOR = "svg-author-under-test"  # the model that writes the SVG: any ID, the client passes it through


async def test_svg_options_are_json_in_generations_and_brackets_in_edits(far_http: httpx.AsyncClient,
                                                                        far: FarSide) -> None:
    model = live_with(lambda c: c.svg)
    options = ImageOptions(model=model, output_format="svg", svg_model=SVG_AUTHOR)
    api = client_for(far_http, "openai")
    await api.generate(GenerateRequest("a fox logo", options))
    await api.edit(EditRequest("make it round", options, images=(input_image(png()),)))
    await api.generate(GenerateRequest("a fox", replace(options, output_format="png")))
    await api.generate(GenerateRequest("a fox logo", replace(options, svg_model=None)))
    body = far.json(0)
    assert body["svg"] == {"model": SVG_AUTHOR} and body["output_format"] == "svg"
    openapi_validator("CreateImageRequest").validate(body)
    fields, files = far.form(1)
    assert fields["svg[model]"] == SVG_AUTHOR and "svg" not in fields
    openapi_validator("CreateImageEditRequest").validate(edit_schema_view(fields, files))
    assert "svg" not in far.json(2)  # not an SVG: no SVG options
    assert "svg" not in far.json(3)  # no author chosen: the API's choice


async def test_svg_usage_is_read_apart_from_the_usage(far_http: httpx.AsyncClient, far: FarSide) -> None:
    model = live_with(lambda c: c.svg)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>'
    far.answer = {**image_answer(output_format="svg"), "data": [{"b64_json": base64.b64encode(svg).decode()}],
                  "svg_usage": {"model": SVG_AUTHOR, "input_tokens": 300, "output_tokens": 900,
                                "reasoning_tokens": 512, "total_tokens": 1200}}
    openapi_validator("ImagesResponse").validate(far.answer)
    api = client_for(far_http, "openai")
    result = await api.generate(GenerateRequest("a fox logo", ImageOptions(model=model, output_format="svg")))
    assert result.svg_usage == SvgUsage(model=SVG_AUTHOR, input_tokens=300, output_tokens=900, reasoning_tokens=512)
    assert result.usage is not None and result.usage.output_tokens == 272  # the render's own usage, apart
    assert result.images[0].data == svg and result.output_format == "svg"

    far.answer = {**far.answer, "svg_usage": {"input_tokens": "many"}}  # unreadable: its cost is unknown
    result = await api.generate(GenerateRequest("a fox logo", ImageOptions(model=model, output_format="svg")))
    assert result.svg_usage is None and result.images[0].data == svg


async def test_markup_goes_as_a_file_of_its_own_and_never_with_a_mask(far_http: httpx.AsyncClient,
                                                                      far: FarSide) -> None:
    model = live_with(lambda c: c.markup)
    base, marks = png(), png(mode="RGBA")
    api = client_for(far_http, "openai")
    await api.edit(EditRequest("put a hat where I drew", ImageOptions(model=model), images=(input_image(base),),
                               markup=marks))
    fields, files = far.form()
    assert files["markup"] == [("markup.png", "image/png", marks)]
    assert [data for _, _, data in files["image"]] == [base] and "mask" not in files
    openapi_validator("CreateImageEditRequest").validate(edit_schema_view(fields, files))
    with pytest.raises(errors.InvalidRequest) as caught:
        await api.edit(EditRequest("both", ImageOptions(model=model), images=(input_image(base),), mask=marks,
                                   markup=marks))
    assert caught.value.param == "markup" and len(far.requests) == 1  # refused before any call


@pytest.mark.parametrize("count", [1, 2, 16])
async def test_one_input_is_image_and_several_are_image_array(far_http: httpx.AsyncClient, far: FarSide,
                                                              count: int) -> None:
    images = tuple(input_image(png((8 + i, 8))) for i in range(count))
    await client_for(far_http, "openai").edit(EditRequest("blend them", OPTIONS, images=images))
    _, files = far.form()
    name = "image" if count == 1 else "image[]"
    assert list(files) == [name]
    assert [data for _, _, data in files[name]] == [i.data for i in images]


@pytest.mark.parametrize("count", [0, 17])
async def test_an_edit_takes_1_to_16_inputs(far_http: httpx.AsyncClient, far: FarSide, count: int) -> None:
    images = tuple(input_image(png()) for _ in range(count))
    with pytest.raises(errors.InvalidRequest, match="1 to 16"):
        await client_for(far_http, "openai").edit(EditRequest("blend them", OPTIONS, images=images))
    assert not far.requests


@pytest.mark.parametrize("answer", [
    {"error": {"message": f"The model `{GONE}` has been deprecated, learn more here: "
                          "https://platform.openai.com/docs/deprecations", "type": "invalid_request_error",
               "param": None, "code": "model_not_found"}, "status": 404},
    {"error": {"message": f"The model '{NOBODY}' does not exist.", "type": "invalid_request_error",
               "param": "model", "code": "invalid_value"}, "status": 400},
])
async def test_model_unavailable_is_raised_at_once_for_both_shapes(far_http: httpx.AsyncClient, far: FarSide,
                                                                   sleeps: Sleeps, answer: dict) -> None:
    far.status, far.answer = answer.pop("status"), answer
    api = client_for(far_http, "openai", sleep=sleeps)
    model = GONE if far.status == 404 else NOBODY
    with pytest.raises(errors.ModelUnavailable) as caught:
        await api.generate(GenerateRequest("a fox", ImageOptions(model=model)))
    assert caught.value.model == model and caught.value.request_id == "req_far"
    assert len(far.requests) == 1 and not sleeps.delays  # a refusal: not retried


# -- GET /v1/models ----------------------------------------------------------------------------------------


async def test_list_models_reads_ids_and_shutdown_dates(far_http: httpx.AsyncClient, far: FarSide) -> None:
    far.answer = {"object": "list", "data": [
        {"id": default_model(), "object": "model", "created": 1, "owned_by": "system"},
        {"id": GONE, "object": "model", "created": 1, "owned_by": "system", "shutdown_date": "2026-10-23"},
        {"id": "text-embedding-3-small", "object": "model", "shutdown_date": None},
        {"id": "blank-date", "shutdown_date": ""},
        {"object": "model"}, "not a model", {"id": 7},
    ]}
    listed = await client_for(far_http, "openai").list_models()
    assert listed == [(default_model(), None), (GONE, "2026-10-23"), ("text-embedding-3-small", None),
                      ("blank-date", None)]
    [request] = far.requests
    assert (request.method, str(request.url)) == ("GET", "https://api.example/v1/models")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert OpenAITarget("https://api.example/v1/", "k").models_url() == "https://api.example/v1/models"


async def test_list_models_on_azure_asks_nothing(far_http: httpx.AsyncClient, far: FarSide) -> None:
    assert await client_for(far_http, "azure").list_models() == []
    assert not far.requests


async def test_list_models_failures_are_image_api_errors(far_http: httpx.AsyncClient, far: FarSide) -> None:
    api = client_for(far_http, "openai")
    far.status, far.answer = 401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
    with pytest.raises(errors.AuthenticationFailed):
        await api.list_models()
    far.status, far.answer = 200, {"object": "list"}
    with pytest.raises(errors.ServerError, match="without a list"):
        await api.list_models()

    async def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>proxy</html>")

    far.respond = garbage
    with pytest.raises(errors.ServerError, match="not JSON"):
        await api.list_models()

    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    far.respond = refuse
    with pytest.raises(errors.ServerError, match="Could not list the models"):
        await api.list_models()
    assert len(far.requests) == 4  # one attempt each


# -- streaming (§3b) -------------------------------------------------------------------------------------------


class _Tap(httpx.AsyncBaseTransport):
    """The real transport to the stand-in, keeping a copy of each response body as the client reads it. With
    `cut_after_events`, the body is cut after that many complete events by a RemoteProtocolError, like a dropped
    connection. A recording seam: the server is still the stand-in, over a real socket."""

    def __init__(self, cut_after_events: int | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._cut_after = cut_after_events
        self.bodies: list[bytearray] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = bytearray()
        self.bodies.append(body)
        return httpx.Response(response.status_code, headers=response.headers, extensions=response.extensions,
                              stream=_TeeStream(response.stream, body, self._cut_after))  # type: ignore[arg-type]

    async def aclose(self) -> None:
        await self._inner.aclose()

    def events(self, index: int = -1) -> list[tuple[str, dict]]:
        """(event name, data) of each event in the index-th response body."""
        events = []
        for block in bytes(self.bodies[index]).decode().split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "data" in fields:
                events.append((fields.get("event", ""), json.loads(fields["data"])))
        return events


class _TeeStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, body: bytearray, cut_after: int | None) -> None:
        self._inner, self._body, self._cut_after = inner, body, cut_after

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            start = len(self._body)
            self._body.extend(chunk)
            if self._cut_after is not None and self._body.count(b"\n\n") >= self._cut_after:
                end = 0
                for _ in range(self._cut_after):
                    end = self._body.index(b"\n\n", end) + 2
                del self._body[end:]
                yield chunk[: end - start]
                raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


@pytest.fixture
async def tap() -> AsyncIterator[_Tap]:
    transport = _Tap()
    yield transport
    await transport.aclose()


@pytest.fixture
async def tapped(tap: _Tap, image_api: ImageAPIStandIn, sleeps: Sleeps) -> AsyncIterator[ImageAPI]:
    async with httpx.AsyncClient(transport=tap, timeout=httpx.Timeout(5.0)) as client:
        yield ImageAPI(client, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps,
                       end_user_field=end_user_field("openai"))


class _Previews:
    """An on_partial callback that records what it was given (and can fail on purpose)."""

    def __init__(self, fail: bool = False) -> None:
        self.received: list[PartialImage] = []
        self._fail = fail

    async def __call__(self, preview: PartialImage) -> None:
        self.received.append(preview)
        if self._fail:
            raise RuntimeError("Slack said no")


def _size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.size


STREAMING = ImageOptions(model=live_with(lambda c: c.streaming and c.max_partial_images >= 2), quality="low",
                         partial_images=2)


def _sse(*events: tuple[str, object]) -> str:
    return "".join(f"event: {name}\ndata: {data if isinstance(data, str) else json.dumps(data)}\n\n"
                   for name, data in events)


def _partial_event(index: int = 0) -> dict:
    return {"type": "image_generation.partial_image", "b64_json": base64.b64encode(png()).decode(),
            "created_at": 1, "size": "1024x1024", "quality": "low", "background": "auto", "output_format": "png",
            "partial_image_index": index}


async def test_streaming_generation_hands_over_previews_in_order_then_the_image(
        tapped: ImageAPI, tap: _Tap, image_api: ImageAPIStandIn) -> None:
    previews = _Previews()
    result = await tapped.generate(GenerateRequest("a fox", STREAMING, user="slack-abc"), on_partial=previews)
    [request] = image_api.requests
    assert request.json == {"model": STREAMING.model, "prompt": "a fox", "n": 1, "size": "1024x1024",
                            "quality": "low", "output_format": "png", "safety_identifier": "slack-abc",
                            "stream": True, "partial_images": 2}
    openapi_validator("CreateImageRequest").validate(request.json)
    assert request.headers["accept"] == "text/event-stream"
    events = tap.events()
    assert [name for name, _ in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    for name, event in events:
        schema = "ImageGenPartialImageEvent" if name.endswith("partial_image") else "ImageGenCompletedEvent"
        openapi_validator(schema).validate(event)
    assert [(p.index, p.format) for p in previews.received] == [(0, "png"), (1, "png")]
    assert [p.data for p in previews.received] == [base64.b64decode(e["b64_json"]) for _, e in events[:2]]
    assert all(_size_of(p.data) == (1024, 1024) for p in previews.received)
    [image] = result.images
    assert image.data == base64.b64decode(events[-1][1]["b64_json"]) and _size_of(image.data) == (1024, 1024)
    # The stand-in bills each preview as 100 image output tokens inside `usage`: priced as reported, once.
    assert result.partials == 2
    assert result.usage is not None and result.usage.output_image_tokens == low_tokens(STREAMING.model) + 2 * 100
    assert result.usage.output_tokens == events[-1][1]["usage"]["output_tokens"]
    assert (result.size, result.quality, result.output_format, result.background) == ("1024x1024", "low", "png", None)
    assert result.request_id is not None and result.request_id.startswith("req_") and result.provider == "openai"


async def test_streaming_edit_sends_stream_fields_and_reads_image_edit_events(
        tapped: ImageAPI, tap: _Tap, image_api: ImageAPIStandIn) -> None:
    previews = _Previews()
    options = replace(STREAMING, partial_images=1)
    result = await tapped.edit(EditRequest("add a hat", options, images=(input_image(png()),)), on_partial=previews)
    [sent] = image_api.requests
    params = sent.params()
    assert params["stream"] == "true" and params["partial_images"] == 1
    openapi_validator("CreateImageEditRequest").validate(sent.body())  # the text "true" read as the boolean
    events = tap.events()
    assert [name for name, _ in events] == ["image_edit.partial_image", "image_edit.completed"]
    openapi_validator("ImageEditPartialImageEvent").validate(events[0][1])
    openapi_validator("ImageEditCompletedEvent").validate(events[1][1])
    assert [p.index for p in previews.received] == [0] and _size_of(previews.received[0].data) == (1024, 1024)
    assert result.partials == 1 and len(result.images) == 1
    assert result.usage is not None and result.usage.output_image_tokens == low_tokens(options.model) + 100
    assert result.usage.input_image_tokens > 0


async def test_azure_streams_on_the_deployment_route(image_api: ImageAPIStandIn, azure_deployment: str) -> None:
    tap = _Tap()
    async with httpx.AsyncClient(transport=tap, timeout=httpx.Timeout(5.0)) as client:
        azure = ImageAPI(client, AzureTarget(image_api.azure_endpoint, image_api.azure_api_key, azure_deployment,
                                             "2025-04-01-preview"), end_user_field=end_user_field("azure"))
        previews = _Previews()
        options = ImageOptions(model=azure_model(), quality="low", partial_images=1)
        result = await azure.generate(GenerateRequest("a fox", options), on_partial=previews)
    [request] = image_api.requests
    assert request.path == f"/openai/deployments/{azure_deployment}/images/generations"
    assert request.query == {"api-version": "2025-04-01-preview"} and request.headers["api-key"]
    assert "model" not in request.json and request.json["stream"] is True and request.json["partial_images"] == 1
    openapi_validator("CreateImageRequest").validate(request.json)
    for name, event in tap.events():
        schema = "ImageGenPartialImageEvent" if name.endswith("partial_image") else "ImageGenCompletedEvent"
        openapi_validator(schema).validate(event)
    assert len(previews.received) == 1 and result.partials == 1 and result.provider == "azure"
    assert result.usage is not None and result.usage.output_image_tokens == low_tokens(azure_model()) + 100


async def test_429_before_the_stream_is_retried(openai: ImageAPI, image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    image_api.rate_limit(retry_after=2)
    previews = _Previews()
    result = await openai.generate(GenerateRequest("a fox", STREAMING), on_partial=previews)
    assert [r.status for r in image_api.requests] == [429, 200]
    assert len(sleeps.delays) == 1 and sleeps.delays[0] >= 2
    assert len(previews.received) == 2 and result.partials == 2 and len(result.images) == 1


async def test_a_connection_cut_after_a_preview_is_not_retried(image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    tap = _Tap(cut_after_events=1)
    async with httpx.AsyncClient(transport=tap, timeout=httpx.Timeout(5.0)) as client:
        api = ImageAPI(client, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps)
        previews = _Previews()
        with pytest.raises(errors.ServerError, match=r"broke off after 1 event .*not retried"):
            await api.generate(GenerateRequest("a fox", STREAMING), on_partial=previews)
    assert len(image_api.requests) == 1 and not sleeps.delays
    assert [p.index for p in previews.received] == [0]


async def test_a_connection_cut_before_any_event_is_retried_and_the_lost_attempt_reported(
        image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    # The 200 had arrived, so each attempt may be billed: the first goes to on_lost before the retry, the last is
    # the error itself (the caller's own ledger row), possibly billed.
    tap = _Tap(cut_after_events=0)
    lost: list[LostAnswer] = []
    async with httpx.AsyncClient(transport=tap, timeout=httpx.Timeout(5.0)) as client:
        api = ImageAPI(client, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps,
                       max_attempts=2)
        with pytest.raises(errors.AnswerLost, match="broke off") as caught:
            await api.generate(GenerateRequest("a fox", STREAMING), on_lost=_record(lost))
    assert len(image_api.requests) == 2 and len(sleeps.delays) == 1
    assert [(a.attempt, a.request_id is not None) for a in lost] == [(1, True)] and caught.value.possibly_billed


@pytest.mark.parametrize(("body", "message"), [
    (_sse(("image_generation.partial_image", _partial_event())), r"ended without a finished image \(after 1 preview\)"),
    (_sse(("image_generation.partial_image", "{not json")), "not JSON"),
    (_sse(("image_generation.partial_image", [1, 2])), "not a JSON object"),
    (_sse(("error", {"type": "error", "code": "image_generation_failed", "message": "boom"})),
     r"error during the stream: boom \(image_generation_failed\)"),
    (_sse(("image_generation.partial_image", _partial_event()), ("error", {"error": {"message": "gone"}})),
     "error during the stream: gone"),
    (_sse(("image_generation.completed", {"type": "image_generation.completed", "b64_json": "not base64!!"})),
     "without valid image data"),
])
async def test_broken_streams_are_server_errors_and_not_retried(openai: ImageAPI, image_api: ImageAPIStandIn,
                                                                sleeps: Sleeps, body: str, message: str) -> None:
    image_api.queue_error(200, body, headers={"Content-Type": "text/event-stream"})
    with pytest.raises(errors.ServerError, match=message):
        await openai.generate(GenerateRequest("a fox", STREAMING), on_partial=_Previews())
    assert len(image_api.requests) == 1 and not sleeps.delays


async def test_a_streaming_request_answered_without_an_event_stream_fails(openai: ImageAPI,
                                                                         image_api: ImageAPIStandIn) -> None:
    image_api.garbage()
    with pytest.raises(errors.ServerError, match=r"text/html.*not an event stream"):
        await openai.generate(GenerateRequest("a fox", STREAMING))


async def test_a_failing_preview_callback_does_not_lose_the_image(openai: ImageAPI,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    previews = _Previews(fail=True)
    with caplog.at_level("WARNING", logger="bot.providers.image_api"):
        result = await openai.generate(GenerateRequest("a fox", STREAMING), on_partial=previews)
    assert len(previews.received) == 2 and result.partials == 2 and _size_of(result.images[0].data) == (1024, 1024)
    assert sum("preview callback failed" in r.getMessage() for r in caplog.records) == 2


async def test_a_hanging_preview_callback_is_abandoned(http: httpx.AsyncClient, image_api: ImageAPIStandIn) -> None:
    api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), partial_timeout=0.05)

    async def hang(preview: PartialImage) -> None:
        await asyncio.Event().wait()

    result = await api.generate(GenerateRequest("a fox", STREAMING), on_partial=hang)
    assert result.partials == 2 and len(result.images) == 1


async def test_n_images_stream_with_the_usage_counted_once(openai: ImageAPI) -> None:
    options = replace(STREAMING, n=2, partial_images=1)
    result = await openai.generate(GenerateRequest("a fox", options))
    assert len(result.images) == 2 and result.partials == 2
    # Each completed event carries the whole call's usage: (image + 100) × 2 once, not twice.
    assert result.usage is not None and result.usage.output_image_tokens == (low_tokens(options.model) + 100) * 2


async def test_stream_size_is_capped(http: httpx.AsyncClient, image_api: ImageAPIStandIn) -> None:
    api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), max_stream_bytes=1000)
    with pytest.raises(errors.ServerError, match="passed 1,000 bytes"):
        await api.generate(GenerateRequest("a fox", STREAMING))
    assert len(image_api.requests) == 1


async def test_stream_event_count_is_capped(http: httpx.AsyncClient, image_api: ImageAPIStandIn) -> None:
    api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), max_stream_events=2)
    with pytest.raises(errors.ServerError, match="more than 2 events"):
        await api.generate(GenerateRequest("a fox", STREAMING))


async def test_partial_images_outside_0_to_3_are_refused_before_any_call(openai: ImageAPI,
                                                                        image_api: ImageAPIStandIn) -> None:
    with pytest.raises(errors.InvalidRequest) as caught:
        await openai.generate(GenerateRequest("a fox", replace(STREAMING, partial_images=4)))
    assert caught.value.param == "partial_images" and not image_api.requests


async def test_without_partial_images_nothing_streams(openai: ImageAPI, image_api: ImageAPIStandIn) -> None:
    previews = _Previews()
    result = await openai.edit(EditRequest("add a hat", OPTIONS, images=(input_image(png()),)), on_partial=previews)
    [sent] = image_api.requests
    assert "stream" not in sent.params() and "partial_images" not in sent.params()
    assert not previews.received and result.partials == 0


async def test_answers_are_read_a_few_at_a_time_and_a_bad_one_frees_its_slot(http: httpx.AsyncClient,
                                                                             image_api: ImageAPIStandIn) -> None:
    # One reading slot: a garbage answer fails while holding it; the three answers after it must still be read
    # (a slot leaked by the failure would leave them waiting forever, and wait_for would fail the test).
    api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), max_reading=1)
    image_api.garbage()
    with pytest.raises(errors.ServerError, match="not JSON"):
        await asyncio.wait_for(api.generate(GenerateRequest("a fox", OPTIONS)), timeout=10)
    results = await asyncio.wait_for(asyncio.gather(
        *(api.generate(GenerateRequest(f"fox {i}", OPTIONS)) for i in range(3))), timeout=10)
    assert [_size_of(r.images[0].data) for r in results] == [(1024, 1024)] * 3


# -- one deadline, lost answers, the answer cap (issue 13) ------------------------------------------------------


class FakeClock:
    """The deadline's clock: moves only when the client sleeps (through `sleeps`) or when a test moves it."""

    def __init__(self, sleeps: Sleeps) -> None:
        self._sleeps = sleeps
        self.moved = 0.0

    def __call__(self) -> float:
        return sum(self._sleeps.delays) + self.moved


def with_deadline(http: httpx.AsyncClient, image_api: ImageAPIStandIn, seconds: float, **kwargs: Any) -> ImageAPI:
    return ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key),
                    deadline=lambda options: seconds, **kwargs)


async def test_a_backoff_that_would_pass_the_deadline_is_not_slept(http: httpx.AsyncClient,
                                                                   image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    # The first backoff (0.75-1.25 s) fits in 1.3 s; the second (1.5-2.5 s) cannot fit in what is left.
    image_api.server_error(times=3)
    api = with_deadline(http, image_api, 1.3, sleep=sleeps, clock=FakeClock(sleeps))
    with pytest.raises(errors.DeadlineExceeded, match=r"did not finish within 1 s \(2 attempts\); nothing was made"):
        await api.generate(GenerateRequest("a fox", OPTIONS))
    assert [r.status for r in image_api.requests] == [500, 500] and len(sleeps.delays) == 1
    assert sum(sleeps.delays) < 1.3


async def test_no_attempt_starts_once_the_deadline_has_passed(http: httpx.AsyncClient, image_api: ImageAPIStandIn,
                                                              sleeps: Sleeps) -> None:
    clock = FakeClock(sleeps)

    async def slow_sleep(seconds: float) -> None:  # the wait overran: the clock shows it
        await sleeps(seconds)
        clock.moved += 100

    image_api.server_error()
    api = with_deadline(http, image_api, 100, sleep=slow_sleep, clock=clock)
    with pytest.raises(errors.DeadlineExceeded, match=r"\(1 attempt\)"):
        await api.generate(GenerateRequest("a fox", OPTIONS))
    assert len(image_api.requests) == 1


async def test_one_deadline_bounds_every_attempt_of_a_hanging_api(http: httpx.AsyncClient,
                                                                  image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    # Three hangs in a row: the client's own read timeout (5 s here, 300 s in production) never gets to fire.
    image_api.hang(times=3)
    api = with_deadline(http, image_api, 0.3, sleep=sleeps)
    with pytest.raises(errors.DeadlineExceeded, match=r"\(1 attempt\)") as caught:
        await api.generate(GenerateRequest("a fox", OPTIONS))
    assert len(image_api.requests) == 1 and not sleeps.delays
    assert not caught.value.possibly_billed  # nothing had begun to arrive
    assert isinstance(caught.value, errors.ServerError)  # worded as a failure of the image API


async def test_a_deadline_that_cuts_an_answer_short_says_it_may_be_billed(http: httpx.AsyncClient,
                                                                          image_api: ImageAPIStandIn) -> None:
    image_api.stall(after_bytes=1000)
    api = with_deadline(http, image_api, 0.3)
    with pytest.raises(errors.DeadlineExceeded, match="may be billed") as caught:
        await api.generate(GenerateRequest("a fox", OPTIONS))
    assert caught.value.possibly_billed and caught.value.request_id is not None


async def test_a_retry_after_longer_than_the_time_left_is_the_rate_limit_itself(
        http: httpx.AsyncClient, image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    image_api.rate_limit(retry_after=10)
    api = with_deadline(http, image_api, 5, sleep=sleeps, clock=FakeClock(sleeps))
    with pytest.raises(errors.RateLimited):
        await api.generate(GenerateRequest("a fox", OPTIONS))
    assert not sleeps.delays


async def test_an_answer_that_breaks_off_is_asked_again_and_the_lost_attempt_reported(
        openai: ImageAPI, image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    image_api.break_off(after_bytes=2000)
    lost: list[LostAnswer] = []
    result = await openai.generate(GenerateRequest("a fox", OPTIONS), on_lost=_record(lost))
    assert [r.status for r in image_api.requests] == [200, 200] and len(result.images) == 1
    [answer] = lost
    assert answer.attempt == 1 and "broke off" in answer.reason and answer.request_id is not None
    assert image_api.requests[0].answer_bytes == 2000 and len(sleeps.delays) == 1


async def test_when_every_answer_breaks_off_the_last_is_the_error_and_may_be_billed(
        openai: ImageAPI, image_api: ImageAPIStandIn) -> None:
    image_api.break_off(times=3)
    lost: list[LostAnswer] = []
    with pytest.raises(errors.AnswerLost, match="broke off") as caught:
        await openai.generate(GenerateRequest("a fox", OPTIONS), on_lost=_record(lost))
    assert len(image_api.requests) == 3 and [a.attempt for a in lost] == [1, 2]  # the third is the caller's row
    assert caught.value.possibly_billed


async def test_an_edit_whose_answer_breaks_off_is_reported_too(openai: ImageAPI, image_api: ImageAPIStandIn) -> None:
    image_api.break_off(operation="edits")
    lost: list[LostAnswer] = []
    await openai.edit(EditRequest("add a hat", OPTIONS, images=(input_image(png()),)), on_lost=_record(lost))
    assert len(lost) == 1 and len(image_api.requests) == 2


async def test_a_huge_answer_is_not_read_past_the_cap_and_not_retried(http: httpx.AsyncClient,
                                                                      image_api: ImageAPIStandIn) -> None:
    # 400 MB on the wire, as the probe sent; the cap (256 KB here) bounds what the client holds, and the stand-in
    # generates the body as it writes it, so the test's own memory is bounded too.
    image_api.huge_answer(400)
    api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), max_answer_bytes=256 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(errors.AnswerTooLarge, match="larger than 256 KB; imagebot stopped reading") as caught:
            await api.generate(GenerateRequest("a fox", OPTIONS))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.possibly_billed and caught.value.request_id is not None
    assert len(image_api.requests) == 1  # an answer that came with a 200 is never asked for again
    [request] = await image_api.wait_for_requests(1)
    assert request.answer_bytes < 400 * 1024 * 1024 // 4  # the client stopped reading: the stand-in stopped
    assert peak < 64 * 1024 * 1024


async def test_an_endless_error_answer_is_read_only_to_its_cap(http: httpx.AsyncClient, image_api: ImageAPIStandIn,
                                                              sleeps: Sleeps) -> None:
    # A 500 whose body never ends: the error is told by its status, and no attempt reads more than the error cap.
    image_api.huge_answer(400, status=500, times=3)
    api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps)
    tracemalloc.start()
    try:
        with pytest.raises(errors.ServerError):
            await api.generate(GenerateRequest("a fox", OPTIONS))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    requests = await image_api.wait_for_requests(3)
    assert all(r.answer_bytes < 400 * 1024 * 1024 // 4 for r in requests)  # each one stopped early
    assert peak < 32 * 1024 * 1024


async def test_an_answer_declared_over_the_cap_is_refused_before_reading(http: httpx.AsyncClient,
                                                                         image_api: ImageAPIStandIn) -> None:
    image_api.huge_answer(60, content_length=True)  # over the default cap of 49 MB for one picture
    api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key))
    with pytest.raises(errors.AnswerTooLarge, match="larger than 49 MB"):
        await api.generate(GenerateRequest("a fox", OPTIONS))
    assert len(image_api.requests) == 1


async def test_a_stream_cut_after_an_event_may_be_billed(image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    tap = _Tap(cut_after_events=1)
    async with httpx.AsyncClient(transport=tap, timeout=httpx.Timeout(5.0)) as client:
        api = ImageAPI(client, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps)
        with pytest.raises(errors.AnswerLost) as caught:
            await api.generate(GenerateRequest("a fox", STREAMING))
    assert caught.value.possibly_billed and caught.value.code == "answer_lost"


async def test_a_stream_over_its_byte_cap_may_be_billed(http: httpx.AsyncClient, image_api: ImageAPIStandIn) -> None:
    api = ImageAPI(http, OpenAITarget(image_api.openai_base_url, image_api.api_key), max_stream_bytes=1000)
    with pytest.raises(errors.AnswerTooLarge) as caught:
        await api.generate(GenerateRequest("a fox", STREAMING))
    assert caught.value.possibly_billed
