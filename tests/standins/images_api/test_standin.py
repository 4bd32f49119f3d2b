"""The server: streamed answers (server-sent events) and waiting for requests."""

from __future__ import annotations

import pytest

from tests.standins.images_api.helpers import CATALOGUE, EDIT, GEN, MODEL, decode, gen_body, parse_sse, png
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


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


async def test_wait_for_requests(api, client):
    with pytest.raises(TimeoutError):
        await api.wait_for_requests(1, timeout=0.01)
    await client.post(GEN, json=gen_body())
    assert [r.status for r in await api.wait_for_requests(1)] == [200]
