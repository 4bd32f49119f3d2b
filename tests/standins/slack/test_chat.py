"""chat.postMessage and chat.update, with blocks as JSON or as a form field."""

import json

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn
from tests.standins.slack.helpers import AppSink

pytestmark = pytest.mark.anyio


async def test_post_and_update_messages(standin: SlackStandIn, client: AsyncWebClient, sink: AppSink) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*working…*"}}]
    posted = await client.chat_postMessage(channel="C0GENERAL", text="working", blocks=blocks)
    ts = posted["ts"]
    assert posted["channel"] == "C0GENERAL" and posted["message"]["bot_id"] == "B0IMAGEBOT"
    reply = await client.chat_postMessage(channel="C0GENERAL", text="in thread", thread_ts=ts)
    assert float(reply["ts"]) > float(ts)

    updated = await client.chat_update(channel="C0GENERAL", ts=ts, text="done")
    assert updated["ts"] == ts and updated["text"] == "done"
    parent = standin.thread("C0GENERAL", ts)[0]
    assert parent["text"] == "done" and "blocks" not in parent and "edited" in parent  # text edit drops blocks
    assert parent["reply_count"] == 1
    assert [m["text"] for m in standin.messages("C0GENERAL")] == ["done", "in thread"]

    alice = await standin.post_message("U0ALICE", "C0GENERAL", "hello")
    for call, error in [
        (client.chat_update(channel="C0GENERAL", ts="1.000001", text="x"), "message_not_found"),
        (client.chat_update(channel="C0GENERAL", ts=alice["ts"], text="x"), "cant_update_message"),
        (client.chat_postMessage(channel="C0NOPE", text="x"), "channel_not_found"),
        (client.api_call("chat.postMessage", json={"channel": "C0GENERAL"}), "no_text"),
        (client.chat_postMessage(channel="C0GENERAL", text="x", thread_ts="1.000001"), "thread_not_found"),
    ]:
        with pytest.raises(SlackApiError) as failure:
            await call
        assert failure.value.response["error"] == error

    long = await client.chat_postMessage(channel="C0RANDOM", text="x" * 40_001)
    assert long["response_metadata"]["warnings"] == ["message_truncated"]
    assert len(standin.messages("C0RANDOM")[0]["text"]) == 40_000


async def test_blocks_sent_as_form_field_are_recorded_raw_and_decodable(standin: SlackStandIn) -> None:
    blocks = json.dumps([{"type": "section", "text": {"type": "plain_text", "text": "hi"}}])
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {standin.bot_token}"}) as session:
        form = {"channel": "C0GENERAL", "blocks": blocks, "team_id": "T0STANDIN"}
        async with session.post(standin.api_url + "chat.postMessage", data=form) as response:
            assert (await response.json())["ok"] is True
        too_long = json.dumps([{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 3001}}])
        async with session.post(standin.api_url + "chat.postMessage", data={**form, "blocks": too_long}) as response:
            body = await response.json()
    assert body["error"] == "invalid_blocks" and "/blocks/0/text/text" in body["errors"][0]
    call = standin.calls_to("chat.postMessage")[0]
    assert call.params["blocks"] == blocks and call.json_param("blocks")[0]["type"] == "section"
    assert standin.messages("C0GENERAL")[0]["blocks"][0]["text"]["text"] == "hi"
