"""Keys: missing or wrong ones are a 401, checked before any queued fault."""

from __future__ import annotations

import httpx
import pytest

from tests.standins.images_api.helpers import GEN, assert_error, gen_body

pytestmark = pytest.mark.anyio  # the plugin runs only the async tests on the event loop


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
