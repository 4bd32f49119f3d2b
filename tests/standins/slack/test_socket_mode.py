"""Socket Mode: envelopes to a Bolt app, single-use URLs, raw acks, goodbyes and refreshes."""

import asyncio
import json

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn
from tests.standins.slack.helpers import WAIT

pytestmark = pytest.mark.anyio


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
