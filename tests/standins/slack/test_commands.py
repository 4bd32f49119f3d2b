"""Slash commands: signed as Slack signs them, their ack bodies turned into replies."""

import json
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web

from standins.slack import SlackStandIn
from tests.standins.slack.helpers import AppSink

pytestmark = pytest.mark.anyio


async def test_slash_command_is_signed_and_ack_body_becomes_ephemeral(standin: SlackStandIn,
                                                                      sink: AppSink) -> None:
    sink.reply = lambda: web.Response(text="Working on it…")
    delivery = await standin.send_command("U0ALICE", "C0GENERAL", "a red fox")
    assert delivery.status == 200 and delivery.kind == "command" and delivery.elapsed_ms > 0
    request = sink.received[0]
    assert request["valid"] and request["headers"]["X-Slack-Signature"].startswith("v0=")
    fields = {k: v[0] for k, v in parse_qs(request["body"]).items()}
    assert fields["command"] == "/image" and fields["text"] == "a red fox"
    assert (fields["user_id"], fields["user_name"], fields["channel_name"]) == ("U0ALICE", "alice", "general")
    assert fields["team_id"] == "T0STANDIN" and fields["api_app_id"] == "A0IMAGEBOT" and fields["trigger_id"]
    assert [e["text"] for e in standin.ephemerals("C0GENERAL", "U0ALICE")] == ["Working on it…"]

    async with aiohttp.ClientSession() as session:  # what Bolt's respond() does
        async with session.post(fields["response_url"], json={"text": "still going"}) as response:
            assert response.status == 200 and await response.text() == "ok"
        async with session.post(fields["response_url"], json={"response_type": "in_channel",
                                                                "text": "a red fox, drawn"}) as response:
            assert response.status == 200
        for _ in range(3):
            async with session.post(fields["response_url"], json={"text": "more"}) as response:
                assert response.status == 200
        async with session.post(fields["response_url"], json={"text": "sixth"}) as response:
            assert response.status == 404  # a response_url works 5 times
    assert [e["source"] for e in standin.ephemerals(user_id="U0ALICE")][:2] == ["ack", "response_url"]
    assert standin.messages("C0GENERAL")[-1]["text"] == "a red fox, drawn"

    sink.reply = lambda: web.json_response({"response_type": "in_channel", "text": "posted publicly"})
    await standin.send_command("U0BOB", "C0RANDOM", "x", headers={"X-Slack-Signature": "v0=forged"})
    assert not sink.received[-1]["valid"] and standin.deliveries[-1].status == 401
    await standin.send_command("U0BOB", "C0RANDOM", "x")
    assert standin.messages("C0RANDOM")[-1]["text"] == "posted publicly"

    action = {"type": "block_actions", "user": {"id": "U0BOB"}, "actions": [{"action_id": "retry"}],
              "response_url": standin.new_response_url("U0BOB", "C0RANDOM")}
    assert (await standin.send_interaction(action)).kind == "interaction"
    assert sink.received[-1]["valid"]
    assert json.loads(parse_qs(sink.received[-1]["body"])["payload"][0]) == action
