"""Looking at the stand-in: wait_for tells what was last called when it times out."""


import pytest
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn
from tests.standins.slack.helpers import WAIT

pytestmark = pytest.mark.anyio


async def test_wait_for_times_out_with_recent_calls(standin: SlackStandIn, client: AsyncWebClient) -> None:
    await client.auth_test()
    with pytest.raises(TimeoutError) as timed_out:
        await standin.wait_for(lambda: False, timeout=0.05)
    assert "auth.test -> 200" in str(timed_out.value)
    assert await standin.wait_for(lambda: standin.calls_to("auth.test"), timeout=WAIT)
