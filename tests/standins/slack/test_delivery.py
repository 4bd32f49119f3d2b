"""Slack calling the app: users' messages and the bot's own echoed back as events, checked by Bolt."""


import aiohttp
import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn
from tests.standins.slack.helpers import WAIT, AppSink, png, serve

pytestmark = pytest.mark.anyio


async def test_user_message_with_file_and_mention_delivers_events(standin: SlackStandIn, sink: AppSink) -> None:
    image = png()
    message = await standin.post_message("U0ALICE", "C0GENERAL", "<@U0IMAGEBOT> make it blue",
                                         files=[("fox.png", image, "image/png")])
    assert [d.status for d in standin.deliveries] == [200, 200] and all(r["valid"] for r in sink.received)
    envelope, mention = sink.events()
    assert envelope["type"] == "event_callback" and envelope["authorizations"][0]["user_id"] == "U0IMAGEBOT"
    event = envelope["event"]
    assert event["subtype"] == "file_share" and event["channel_type"] == "channel"
    assert event["user"] == "U0ALICE" and event["ts"] == message["ts"] and "bot_id" not in event
    assert event["blocks"][0]["elements"][0]["elements"][0] == {"type": "user", "user_id": "U0IMAGEBOT"}
    assert mention["event"]["type"] == "app_mention" and mention["event_id"] != envelope["event_id"]

    async with aiohttp.ClientSession() as session:
        url = event["files"][0]["url_private"]
        async with session.get(url, headers={"Authorization": f"Bearer {standin.bot_token}"}) as response:
            assert await response.read() == image

    reply = await standin.post_message("U0BOB", "C0GENERAL", "nice", thread_ts=message["ts"])
    assert sink.events()[-1]["event"]["thread_ts"] == message["ts"] and reply["parent_user_id"] == "U0ALICE"

    retried = await standin.deliver_event(event, event_id=envelope["event_id"], retry_num=1)
    headers = sink.received[-1]["headers"]
    assert headers["X-Slack-Retry-Num"] == "1" and headers["X-Slack-Retry-Reason"] == "http_timeout"
    assert retried.payload["event_id"] == envelope["event_id"]

    standin.add_channel("D0ALICE", "alice", is_im=True, members=["U0ALICE"])
    await standin.post_message("U0ALICE", "D0ALICE", "<@U0IMAGEBOT> hi")
    assert sink.events()[-1]["event"]["channel_type"] == "im"  # and no app_mention in a DM
    assert sum(e["event"]["type"] == "app_mention" for e in sink.events()) == 1


async def test_bot_posts_echo_back_to_the_app(standin: SlackStandIn, sink: AppSink,
                                              client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel="C0GENERAL", text="from the bot")
    echo = await standin.wait_for(lambda: next((e["event"] for e in sink.events()
                                                if e["event"].get("ts") == posted["ts"]), None), timeout=WAIT)
    assert echo["bot_id"] == "B0IMAGEBOT" and echo["user"] == "U0IMAGEBOT" and "subtype" not in echo

    await client.chat_update(channel="C0GENERAL", ts=posted["ts"], text="edited")
    changed = await standin.wait_for(lambda: next((e["event"] for e in sink.events()
                                                   if e["event"].get("subtype") == "message_changed"), None),
                                     timeout=WAIT)
    assert changed["message"]["text"] == "edited" and changed["previous_message"]["text"] == "from the bot"

    await client.files_upload_v2(channel="C0GENERAL", file=png(), filename="x.png")
    shared = await standin.wait_for(lambda: next((e["event"] for e in sink.events()
                                                  if e["event"].get("subtype") == "file_share"), None),
                                    timeout=WAIT)
    assert shared["bot_id"] == "B0IMAGEBOT" and shared["files"][0]["mimetype"] == "image/png"


async def test_bolt_app_verifies_requests_and_ignores_its_own_echoes(standin: SlackStandIn,
                                                                     client: AsyncWebClient) -> None:
    app = AsyncApp(client=client, signing_secret=standin.signing_secret)
    seen: list[str] = []

    @app.command("/image")
    async def image(ack, command, respond, say) -> None:
        await ack("On it")
        await say(text=f"drawing {command['text']}")
        await respond(text="done")

    @app.event("message")
    async def message(event) -> None:
        seen.append(event["text"])

    runner, standin.app_request_url = await serve(app.web_app())
    try:
        delivery = await standin.send_command("U0ALICE", "C0GENERAL", "a fox")
        assert delivery.status == 200 and delivery.response_text == "On it"
        await standin.wait_for(lambda: len(standin.ephemerals(user_id="U0ALICE")) == 2, timeout=WAIT)
        assert standin.messages("C0GENERAL")[-1]["text"] == "drawing a fox"
        await standin.wait_for(lambda: any(d.payload.get("event", {}).get("bot_id") for d in standin.deliveries),
                               timeout=WAIT)
        await standin.post_message("U0BOB", "C0GENERAL", "hello bot")
        await standin.wait_for(lambda: "hello bot" in seen, timeout=WAIT)
        await standin.drain()
        assert seen == ["hello bot"]  # Bolt dropped the echo of its own message (bot_id matches auth.test)
        assert all(d.status == 200 for d in standin.deliveries)
        assert standin.calls_to("auth.test")
    finally:
        await runner.cleanup()
