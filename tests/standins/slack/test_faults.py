"""Queued faults: a rate limit with Retry-After, then success."""


import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio


async def test_fail_next_rate_limit_then_success(standin: SlackStandIn, client: AsyncWebClient) -> None:
    standin.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C0GENERAL", text="hi")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C0GENERAL", text="hi"))["ok"] is True

    standin.fail_next("chat.postMessage", status=200, error="not_in_channel", retry_after=None, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel="C0GENERAL", text="hi")
        assert refused.value.response.status_code == 200 and refused.value.response["error"] == "not_in_channel"
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 200, 200, 200]
    assert len(standin.messages("C0GENERAL")) == 1
