"""The pause gate: successful answers held until resume() or stop()."""

from __future__ import annotations

import anyio
import httpx
import pytest

from standins.images_api import ImageAPIStandIn
from tests.standins.images_api.helpers import EDIT, GEN, MODEL, TODAY, answered_when_stopped, gen_body, png

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


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
