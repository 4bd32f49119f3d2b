"""reactions.add and reactions.remove, and ephemeral messages."""


import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio


async def test_reactions_and_ephemerals(standin: SlackStandIn, client: AsyncWebClient) -> None:
    ts = (await client.chat_postMessage(channel="C0GENERAL", text="look"))["ts"]
    await client.reactions_add(channel="C0GENERAL", timestamp=ts, name="hourglass")
    assert standin.messages("C0GENERAL")[0]["reactions"] == [{"name": "hourglass", "users": ["U0IMAGEBOT"],
                                                              "count": 1}]
    with pytest.raises(SlackApiError) as twice:
        await client.reactions_add(channel="C0GENERAL", timestamp=ts, name="hourglass")
    assert twice.value.response["error"] == "already_reacted"
    await client.reactions_remove(channel="C0GENERAL", timestamp=ts, name="hourglass")
    assert "reactions" not in standin.messages("C0GENERAL")[0]
    with pytest.raises(SlackApiError) as gone:
        await client.reactions_remove(channel="C0GENERAL", timestamp=ts, name="hourglass")
    assert gone.value.response["error"] == "no_reaction"

    sent = await client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="only you")
    assert sent["message_ts"]
    with pytest.raises(SlackApiError) as stranger:
        await client.chat_postEphemeral(channel="C0GENERAL", user="U0NOBODY", text="x")
    assert stranger.value.response["error"] == "user_not_in_channel"
    assert [e["text"] for e in standin.ephemerals("C0GENERAL", "U0ALICE")] == ["only you"]
    assert standin.ephemerals(user_id="U0BOB") == []
