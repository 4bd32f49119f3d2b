"""The image API client over a real socket, against the image API stand-in (OpenAI and Azure routes)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from bot import errors
from bot.image_api import AzureTarget, ImageAPI, OpenAITarget, error_from_response
from bot.models import EditRequest, GenerateRequest, ImageOptions, InputImage, PartialImage
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
        yield ImageAPI(client, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps)


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


STREAMING = ImageOptions(model="gpt-image-1", quality="low", partial_images=2)


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
    assert request.json == {"model": "gpt-image-1", "prompt": "a fox", "n": 1, "size": "1024x1024", "quality": "low",
                            "output_format": "png", "user": "slack-abc", "stream": True, "partial_images": 2}
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
    assert result.usage is not None and result.usage.output_image_tokens == 272 + 2 * 100
    assert result.usage.output_tokens == events[-1][1]["usage"]["output_tokens"]
    assert (result.size, result.quality, result.output_format, result.background) == ("1024x1024", "low", "png", None)
    assert result.request_id is not None and result.request_id.startswith("req_") and result.provider == "openai"


async def test_streaming_edit_sends_stream_fields_and_reads_image_edit_events(
        tapped: ImageAPI, tap: _Tap, image_api: ImageAPIStandIn) -> None:
    previews = _Previews()
    options = ImageOptions(model="gpt-image-1", quality="low", partial_images=1)
    result = await tapped.edit(EditRequest("add a hat", options, images=(input_image(png()),)), on_partial=previews)
    [sent] = image_api.requests
    params = sent.params()
    assert params["stream"] == "true" and params["partial_images"] == 1
    view = {**params, "image": ["<binary>"], "stream": True}  # multipart carries the boolean as text
    openapi_validator("CreateImageEditRequest").validate(view)
    events = tap.events()
    assert [name for name, _ in events] == ["image_edit.partial_image", "image_edit.completed"]
    openapi_validator("ImageEditPartialImageEvent").validate(events[0][1])
    openapi_validator("ImageEditCompletedEvent").validate(events[1][1])
    assert [p.index for p in previews.received] == [0] and _size_of(previews.received[0].data) == (1024, 1024)
    assert result.partials == 1 and len(result.images) == 1
    assert result.usage is not None and result.usage.output_image_tokens == 272 + 100
    assert result.usage.input_image_tokens > 0


async def test_azure_streams_on_the_deployment_route(image_api: ImageAPIStandIn) -> None:
    tap = _Tap()
    async with httpx.AsyncClient(transport=tap, timeout=httpx.Timeout(5.0)) as client:
        azure = ImageAPI(client, AzureTarget(image_api.azure_endpoint, image_api.azure_api_key, "gpt-image-1",
                                             "2025-04-01-preview"))
        previews = _Previews()
        result = await azure.generate(GenerateRequest("a fox", ImageOptions(model="gpt-image-1", quality="low",
                                                                            partial_images=1)), on_partial=previews)
    [request] = image_api.requests
    assert request.path == "/openai/deployments/gpt-image-1/images/generations"
    assert request.query == {"api-version": "2025-04-01-preview"} and request.headers["api-key"]
    assert "model" not in request.json and request.json["stream"] is True and request.json["partial_images"] == 1
    openapi_validator("CreateImageRequest").validate(request.json)
    for name, event in tap.events():
        schema = "ImageGenPartialImageEvent" if name.endswith("partial_image") else "ImageGenCompletedEvent"
        openapi_validator(schema).validate(event)
    assert len(previews.received) == 1 and result.partials == 1 and result.provider == "azure"
    assert result.usage is not None and result.usage.output_image_tokens == 272 + 100


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


async def test_a_connection_cut_before_any_event_is_retried(image_api: ImageAPIStandIn, sleeps: Sleeps) -> None:
    tap = _Tap(cut_after_events=0)
    async with httpx.AsyncClient(transport=tap, timeout=httpx.Timeout(5.0)) as client:
        api = ImageAPI(client, OpenAITarget(image_api.openai_base_url, image_api.api_key), sleep=sleeps,
                       max_attempts=2)
        with pytest.raises(errors.ServerError, match="Could not reach"):
            await api.generate(GenerateRequest("a fox", STREAMING))
    assert len(image_api.requests) == 2 and len(sleeps.delays) == 1


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
    with caplog.at_level("WARNING", logger="bot.image_api"):
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
    options = ImageOptions(model="gpt-image-1", quality="low", n=2, partial_images=1)
    result = await openai.generate(GenerateRequest("a fox", options))
    assert len(result.images) == 2 and result.partials == 2
    # Each completed event carries the whole call's usage: (272 + 100) × 2 once, not twice.
    assert result.usage is not None and result.usage.output_image_tokens == (272 + 100) * 2


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
        await openai.generate(GenerateRequest("a fox", ImageOptions(model="gpt-image-1", partial_images=4)))
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
