"""The Slack stand-in, exercised over real HTTP on loopback with slack_sdk, Bolt and a tiny signed-request sink."""

import asyncio
import io
import json
from collections.abc import Callable
from urllib.parse import parse_qs

import aiohttp
import pytest
from aiohttp import web
from PIL import Image
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio

WAIT = 10.0  # a bound for things that happen in the background, never a delay


def png(width: int = 3, height: int = 2) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, "PNG")
    return buffer.getvalue()


class AppSink:
    """The app's side of the wire, reduced to: verify Slack's signature as Bolt does, record, answer."""

    def __init__(self, signing_secret: str) -> None:
        self.verifier = SignatureVerifier(signing_secret)
        self.received: list[dict] = []  # {"headers", "body", "valid"}
        self.reply: Callable[[], web.Response] = web.Response  # a fresh answer per request; default empty 200

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        valid = self.verifier.is_valid_request(body, dict(request.headers))
        self.received.append({"headers": dict(request.headers), "body": body, "valid": valid})
        if not valid:
            return web.json_response({"error": "invalid request"}, status=401)
        return self.reply()

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.received if r["body"].startswith("{")]


@pytest.fixture
async def standin():
    async with SlackStandIn() as s:
        yield s


@pytest.fixture
def client(standin: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"


@pytest.fixture
async def sink(standin: SlackStandIn):
    app_sink = AppSink(standin.signing_secret)
    app = web.Application()
    app.router.add_post("/slack/events", app_sink.handle)
    runner, standin.app_request_url = await serve(app)
    yield app_sink
    await standin.drain()
    await runner.cleanup()


# ---------------------------------------------------------------- Web API


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


async def test_files_upload_v2_into_a_thread(standin: SlackStandIn, client: AsyncWebClient) -> None:
    image = png(5, 4)
    parent = await client.chat_postMessage(channel="C0GENERAL", text="your image")
    uploaded = await client.files_upload_v2(channel="C0GENERAL", thread_ts=parent["ts"], file=image,
                                            filename="cat.png", title="A cat", initial_comment="here it is")
    file_id = uploaded["file"]["id"]
    assert "ts" not in uploaded.data and uploaded["file"]["mimetype"] == ""  # like Slack: not processed yet

    thread = standin.thread("C0GENERAL", parent["ts"])
    assert [m["text"] for m in thread] == ["your image", "here it is"]
    shared = thread[1]
    assert shared["bot_id"] == "B0IMAGEBOT" and "subtype" not in shared
    assert [f["id"] for f in shared["files"]] == [file_id]
    stored = standin.file(file_id)
    assert (stored["mimetype"], stored["filetype"], stored["title"]) == ("image/png", "png", "A cat")
    assert (stored["original_w"], stored["original_h"], stored["size"]) == (5, 4, len(image))
    assert stored["shares"]["public"]["C0GENERAL"][0]["thread_ts"] == parent["ts"]
    assert [c.method for c in standin.calls][-3:] == ["files.getUploadURLExternal", "upload",
                                                      "files.completeUploadExternal"]
    assert standin.calls_to("files.completeUploadExternal")[0].json_param("files")[0]["id"] == file_id

    async with aiohttp.ClientSession() as session:
        auth = {"Authorization": f"Bearer {standin.bot_token}"}
        async with session.get(stored["url_private"], headers=auth) as response:
            assert response.content_type == "image/png" and await response.read() == image
        async with session.get(stored["url_private_download"], headers=auth) as response:
            assert await response.read() == image
        async with session.get(stored["url_private"]) as response:
            assert response.status == 200 and response.content_type == "text/html"
            assert b"\x89PNG" not in await response.read()
    assert [c.status for c in standin.calls_to("download")] == [200, 200, 200]
    assert standin.file_bytes(file_id) == image
    info = await client.files_info(file=file_id)
    assert info["file"]["mimetype"] == "image/png"


async def test_upload_errors(standin: SlackStandIn, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as no_length:
        await client.api_call("files.getUploadURLExternal", params={"filename": "a.png"})
    assert no_length.value.response["error"] == "invalid_arguments"
    ticket = await client.files_getUploadURLExternal(filename="a.png", length=3)
    with pytest.raises(SlackApiError) as never_uploaded:
        await client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}], channel_id="C0GENERAL")
    assert never_uploaded.value.response["error"] == "file_not_found"
    standin.fail_next("upload", status=500, error="internal_error")
    with pytest.raises(SlackRequestError):
        await client.files_upload_v2(channel="C0GENERAL", content="hello", filename="a.txt")
    with pytest.raises(SlackApiError) as missing:
        await client.files_info(file="F0NOPE")
    assert missing.value.response["error"] == "file_not_found"


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


# ---------------------------------------------------------------- towards the app


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


async def test_wait_for_times_out_with_recent_calls(standin: SlackStandIn, client: AsyncWebClient) -> None:
    await client.auth_test()
    with pytest.raises(TimeoutError) as timed_out:
        await standin.wait_for(lambda: False, timeout=0.05)
    assert "auth.test -> 200" in str(timed_out.value)
    assert await standin.wait_for(lambda: standin.calls_to("auth.test"), timeout=WAIT)


# ---------------------------------------------------------------- Socket Mode


async def test_socket_mode_carries_commands_and_events_to_a_bolt_app(standin: SlackStandIn,
                                                                     client: AsyncWebClient) -> None:
    app = AsyncApp(client=client)  # no signing secret: a Socket Mode connection is authenticated by the app token
    seen: list[str] = []

    @app.command("/image")
    async def image(ack, command) -> None:
        await ack(f"Drawing {command['text']}")

    @app.event("message")
    async def message(event) -> None:
        seen.append(event["text"])

    handler = AsyncSocketModeHandler(app, standin.app_token)  # its web client is app.client: the stand-in
    await handler.connect_async()
    try:
        connection = await standin.wait_for_socket(timeout=WAIT)
        [opened] = standin.calls_to("apps.connections.open")
        assert opened.token == standin.app_token and opened.status == 200

        delivery = await standin.send_command("U0ALICE", "C0GENERAL", "a fox")
        assert (delivery.transport, delivery.kind, delivery.status, delivery.error) == ("socket", "command", 200, None)
        assert delivery.response_json() == {"text": "Drawing a fox"} and delivery.headers == {}
        envelope = json.loads(delivery.body)
        assert envelope["type"] == "slash_commands" and envelope["accepts_response_payload"] is True
        assert envelope["envelope_id"] == delivery.envelope_id and "retry_attempt" not in envelope
        assert envelope["payload"] == delivery.payload and delivery.payload["command"] == "/image"
        assert delivery.payload["text"] == "a fox" and delivery.payload["is_enterprise_install"] == "false"
        assert [e["text"] for e in standin.ephemerals("C0GENERAL", "U0ALICE")] == ["Drawing a fox"]
        assert standin.ephemerals("C0GENERAL", "U0ALICE")[0]["source"] == "ack"

        await standin.post_message("U0BOB", "C0GENERAL", "hello bot")
        event_delivery = standin.deliveries[-1]
        assert (event_delivery.transport, event_delivery.kind, event_delivery.status) == ("socket", "event", 200)
        assert event_delivery.response_text == ""  # an events_api ack has no payload
        envelope = json.loads(event_delivery.body)
        assert envelope["type"] == "events_api" and envelope["accepts_response_payload"] is False
        assert (envelope["retry_attempt"], envelope["retry_reason"]) == (0, "")
        assert envelope["payload"]["type"] == "event_callback" and envelope["payload"]["event"]["text"] == "hello bot"
        await standin.wait_for(lambda: "hello bot" in seen, timeout=WAIT)

        retried = await standin.deliver_event(envelope["payload"]["event"], event_id=envelope["payload"]["event_id"],
                                              retry_num=1)
        retry = json.loads(retried.body)
        assert (retry["retry_attempt"], retry["retry_reason"], retried.status) == (1, "http_timeout", 200)
        assert [a["envelope_id"] for a in standin.acks] == [d.envelope_id for d in standin.deliveries]
        assert standin.acks[0] == {"envelope_id": delivery.envelope_id, "payload": {"text": "Drawing a fox"}}
        assert standin.acks[1] == {"envelope_id": event_delivery.envelope_id}
        assert connection.is_open and standin.open_connections() == [connection]
    finally:
        await handler.close_async()
    await standin.wait_for(lambda: not standin.open_connections(), timeout=WAIT)
    assert (connection.closed_by, connection.close_code) == ("app", 1000)
    standin.transport = "http"  # Slack's HTTP path again, even though Socket Mode was used
    with pytest.raises(RuntimeError):
        await standin.send_command("U0ALICE", "C0GENERAL", "x")  # and no app_request_url is set


async def test_connections_open_wants_the_app_token_and_urls_work_once(standin: SlackStandIn) -> None:
    anonymous = AsyncWebClient(base_url=standin.api_url)
    for token in (standin.bot_token, "xapp-1-wrong"):
        with pytest.raises(SlackApiError) as refused:
            await anonymous.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as bot_only:  # and the app token is no bot token
        await AsyncWebClient(token=standin.app_token, base_url=standin.api_url).auth_test()
    assert bot_only.value.response["error"] == "invalid_auth"
    opened = await anonymous.apps_connections_open(app_token=standin.app_token)
    url = opened["url"]
    assert url.startswith(standin.base_url.replace("http://", "ws://") + "link/?ticket=")
    assert f"app_id={standin.app_id}" in url and opened.headers["x-oauth-scopes"] == "connections:write"
    second = await anonymous.apps_connections_open(app_token=standin.app_token)
    assert second["url"] != url

    async with aiohttp.ClientSession() as session, session.ws_connect(url, autoping=False) as ws:
        hello = await ws.receive_json(timeout=WAIT)
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": standin.app_id} and hello["debug_info"]["host"]
        with pytest.raises(aiohttp.WSServerHandshakeError) as reused:
            await session.ws_connect(url)
        assert reused.value.status == 401
        await ws.ping(b"are you there")
        pong = await ws.receive(timeout=WAIT)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are you there")
        assert (await standin.wait_for_socket(timeout=WAIT)).ws is standin.connections[0].ws


async def test_raw_socket_client_acks_by_hand_and_stop_says_goodbye(standin: SlackStandIn) -> None:
    url = (await AsyncWebClient(base_url=standin.api_url).apps_connections_open(app_token=standin.app_token))["url"]
    action = {"type": "block_actions", "user": {"id": "U0BOB"}, "actions": [{"action_id": "retry"}]}
    submission = {"type": "view_submission", "user": {"id": "U0BOB"}, "view": {"id": "V1"}}
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        assert (await ws.receive_json(timeout=WAIT))["type"] == "hello"
        await standin.wait_for_socket(timeout=WAIT)

        sending = asyncio.create_task(standin.send_interaction(action))
        envelope = await ws.receive_json(timeout=WAIT)
        assert envelope["type"] == "interactive" and envelope["payload"] == action
        assert envelope["accepts_response_payload"] is False  # a block action has nothing to answer with
        await ws.send_str("not json")  # ignored, like anything that is not an ack
        await ws.send_json({"envelope_id": envelope["envelope_id"]})
        delivery = await sending
        assert (delivery.status, delivery.response_text, delivery.kind) == (200, "", "interaction")

        sending = asyncio.create_task(standin.send_interaction(submission))
        envelope = await ws.receive_json(timeout=WAIT)
        assert envelope["accepts_response_payload"] is True
        errors = {"response_action": "errors", "errors": {"prompt": "Too long"}}
        await ws.send_json({"envelope_id": envelope["envelope_id"], "payload": errors})
        assert (await sending).response_json() == errors

        standin.ack_timeout = 0.05  # the ack never comes: however fast the machine, this times out
        sending = asyncio.create_task(standin.send_command("U0ALICE", "C0GENERAL", "unanswered"))
        assert (await ws.receive_json(timeout=WAIT))["type"] == "slash_commands"
        unanswered = await sending
        assert unanswered.status == 0 and "no ack" in (unanswered.error or "")
        assert standin.ephemerals() == []

        stopping = asyncio.create_task(standin.stop())
        goodbye = await ws.receive_json(timeout=WAIT)
        assert goodbye["type"] == "disconnect" and goodbye["reason"] == "refresh_requested"
        closing = await ws.receive(timeout=WAIT)
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == aiohttp.WSCloseCode.GOING_AWAY
        await stopping
    [connection] = standin.connections
    assert connection.closed_by == "stand-in" and not connection.is_open
    assert len(standin.acks) == 2


async def test_socket_transport_without_a_connection_fails_the_delivery(standin: SlackStandIn) -> None:
    standin.transport = "socket"  # Socket Mode switched on, but no app connected: nothing reaches the app
    delivery = await standin.send_command("U0ALICE", "C0GENERAL", "a fox")
    assert delivery.status == 0 and delivery.error == "no Socket Mode connection"
    assert delivery.transport == "socket" and standin.ephemerals() == []
    await standin.post_message("U0ALICE", "C0GENERAL", "hello")  # no app_request_url needed
    assert standin.deliveries[-1].status == 0


async def test_bolt_reconnects_when_slack_refreshes_the_connection(standin: SlackStandIn,
                                                                  client: AsyncWebClient) -> None:
    app = AsyncApp(client=client)

    @app.command("/image")
    async def image(ack) -> None:
        await ack()

    handler = AsyncSocketModeHandler(app, standin.app_token)
    await handler.connect_async()
    try:
        first = await standin.wait_for_socket(timeout=WAIT)
        await standin.disconnect_sockets("refresh_requested", grace=WAIT)
        assert first.closed_by == "app"  # slack_sdk closed it itself, after fetching a new URL
        second = await standin.wait_for(lambda: next((c for c in standin.open_connections() if c is not first),
                                                     None), timeout=WAIT)
        assert second.ticket != first.ticket and len(standin.calls_to("apps.connections.open")) == 2
        delivery = await standin.send_command("U0ALICE", "C0GENERAL", "a fox")
        assert delivery.status == 200 and delivery.response_text == ""
    finally:
        await handler.close_async()
    await standin.wait_for(lambda: not standin.open_connections(), timeout=WAIT)
