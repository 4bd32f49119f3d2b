"""auth.test (which token is which), users.info and conversations.replies."""


import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio


async def test_auth_test_and_token_checks(standin: SlackStandIn, client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response["user_id"] == "U0IMAGEBOT" and response["bot_id"] == "B0IMAGEBOT"
    assert response["team_id"] == "T0STANDIN" and response["url"] == standin.base_url
    assert response["is_enterprise_install"] is False
    assert "chat:write" in response.headers["x-oauth-scopes"].split(",")

    with pytest.raises(SlackApiError) as wrong:
        await AsyncWebClient(token="xoxb-wrong", base_url=standin.api_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"

    async with aiohttp.ClientSession() as session, session.post(standin.api_url + "auth.test") as raw:
        assert raw.status == 200 and (await raw.json()) == {"ok": False, "error": "not_authed"}
    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("chat.teleport")
    assert unknown.value.response["error"] == "unknown_method"
    assert [c.token for c in standin.calls_to("auth.test")] == ["xoxb-standin-token", "xoxb-wrong", None]


async def test_users_info_and_conversations_replies(standin: SlackStandIn, client: AsyncWebClient) -> None:
    admin = (await client.users_info(user="U0ADMIN"))["user"]
    assert admin["is_admin"] is True and admin["name"] == "admin" and admin["profile"]["display_name"] == "admin"
    assert (await client.users_info(user="U0BOB"))["user"]["is_admin"] is False
    with pytest.raises(SlackApiError) as unknown:
        await client.users_info(user="U0NOBODY")
    assert unknown.value.response["error"] == "user_not_found"

    parent = await client.chat_postMessage(channel="C0GENERAL", text="parent")
    reply = await client.chat_postMessage(channel="C0GENERAL", text="reply", thread_ts=parent["ts"])
    for ts in (parent["ts"], reply["ts"]):  # a reply's ts returns the whole thread too
        replies = await client.conversations_replies(channel="C0GENERAL", ts=ts)
        assert [m["text"] for m in replies["messages"]] == ["parent", "reply"] and replies["has_more"] is False
    assert replies["messages"][1]["parent_user_id"] == "U0IMAGEBOT"
    with pytest.raises(SlackApiError) as missing:
        await client.conversations_replies(channel="C0GENERAL", ts="1.000001")
    assert missing.value.response["error"] == "thread_not_found"
