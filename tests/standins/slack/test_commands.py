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


def press(standin: SlackStandIn, message_ts: str, *, ephemeral: bool = False) -> dict:
    """block_actions for Alice pressing a button on `message_ts` in #general, with a fresh response_url."""
    return {"type": "block_actions", "user": {"id": "U0ALICE"}, "actions": [{"action_id": "go", "value": "1"}],
            "container": {"type": "message", "message_ts": message_ts, "channel_id": "C0GENERAL",
                          "is_ephemeral": ephemeral},
            "response_url": standin.new_response_url("U0ALICE", "C0GENERAL")}


async def respond(url: str, body: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.text()


BUTTONS = [{"type": "actions", "block_id": "b", "elements": [
    {"type": "button", "action_id": "go", "value": "1", "text": {"type": "plain_text", "text": "Go"}}]}]


async def test_a_press_response_url_replaces_or_deletes_the_message_it_was_pressed_in(
        standin: SlackStandIn, sink: AppSink, client) -> None:
    """https://docs.slack.dev/interactivity/handling-user-interaction#message_responses"""
    card = await client.chat_postMessage(channel="C0GENERAL", text="card")
    asked = await client.chat_postMessage(channel="C0GENERAL", thread_ts=card["ts"], text="Generate?", blocks=BUTTONS)
    other = await client.chat_postMessage(channel="C0GENERAL", thread_ts=card["ts"], text="Or?", blocks=BUTTONS)
    first, second = press(standin, asked["ts"]), press(standin, other["ts"])
    for payload in (first, second):
        assert (await standin.send_interaction(payload)).status == 200

    assert await respond(first["response_url"], {"text": "only you", "response_type": "ephemeral"}) == (200, "ok")
    [private] = standin.ephemerals("C0GENERAL", "U0ALICE")
    assert private["text"] == "only you" and private["thread_ts"] == card["ts"]  # in the pressed message's thread
    assert await respond(first["response_url"], {"text": "Confirmed.", "replace_original": True}) == (200, "ok")
    replaced = next(m for m in standin.thread("C0GENERAL", card["ts"]) if m["ts"] == asked["ts"])
    assert replaced["text"] == "Confirmed." and "blocks" not in replaced  # where it was, its buttons gone
    assert await respond(second["response_url"], {"delete_original": True}) == (200, "ok")
    assert [m["ts"] for m in standin.thread("C0GENERAL", card["ts"])] == [card["ts"], asked["ts"]]
    assert standin.messages("C0GENERAL")[0]["reply_count"] == 1
    assert (await respond(second["response_url"], {"text": "again", "replace_original": True}))[0] == 404


async def test_a_press_on_an_ephemeral_message_replaces_or_deletes_that_ephemeral(
        standin: SlackStandIn, sink: AppSink, client) -> None:
    posted = await client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="Run it?", blocks=BUTTONS)
    payload = press(standin, posted["message_ts"], ephemeral=True)
    assert (await standin.send_interaction(payload)).status == 200
    assert await respond(payload["response_url"], {"text": "Done.", "replace_original": "true"}) == (200, "ok")
    [shown] = standin.ephemerals("C0GENERAL", "U0ALICE")
    assert (shown["ts"], shown["text"], shown["blocks"]) == (posted["message_ts"], "Done.", None)
    assert await respond(payload["response_url"], {"delete_original": True}) == (200, "ok")
    assert standin.ephemerals("C0GENERAL", "U0ALICE") == []


async def test_a_slash_commands_response_url_has_no_original_to_replace(standin: SlackStandIn, sink: AppSink) -> None:
    url = standin.new_response_url("U0ALICE", "C0GENERAL")
    assert await respond(url, {"text": "hello", "replace_original": True}) == (200, "ok")
    assert [e["text"] for e in standin.ephemerals("C0GENERAL", "U0ALICE")] == ["hello"]
