"""Queued faults: each answers as the real API does, in order, once per time queued."""

from __future__ import annotations

import httpx
import pytest

from standins.images_api import ImageAPIStandIn
from tests.standins.images_api.helpers import (
    EDIT,
    GEN,
    KEY,
    MODEL,
    TODAY,
    answered_when_stopped,
    assert_error,
    gen_body,
    png,
)

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


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
