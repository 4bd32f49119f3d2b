"""handlers/app.py's slack_session: a burst of Web API calls shares at most SLACK_CONNECTIONS connections to a host
(the rest wait for one), instead of opening one each."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from handlers.app import SLACK_CONNECTIONS, slack_session

CALLS = SLACK_CONNECTIONS + 8


@pytest.mark.anyio
async def test_a_burst_of_calls_opens_at_most_slack_connections_to_a_host() -> None:
    answering, peak, connections = 0, 0, set()
    everyone_here = asyncio.Event()

    async def post_message(request: web.Request) -> web.Response:
        nonlocal answering, peak
        connections.add(request.transport)
        answering += 1
        peak = max(peak, answering)
        if answering == CALLS:
            everyone_here.set()
        try:  # held until every call is here at once (never, with the limit) or a bound has passed
            async with asyncio.timeout(1.0):
                await everyone_here.wait()
        except TimeoutError:
            everyone_here.set()  # let the rest through at once
        answering -= 1
        return web.json_response({"ok": True, "channel": "C0", "ts": "1.0"})

    app = web.Application()
    app.router.add_post("/api/chat.postMessage", post_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    session = slack_session()
    try:
        port = runner.addresses[0][1]
        client = AsyncWebClient(token="xoxb-test", base_url=f"http://127.0.0.1:{port}/api/", session=session)
        answers = await asyncio.gather(*(client.chat_postMessage(channel="C0", text=str(i)) for i in range(CALLS)))
    finally:
        await session.close()
        await runner.cleanup()
    assert all(answer["ok"] for answer in answers)
    assert peak == SLACK_CONNECTIONS  # never more at once; and the limit was reached, so the test can tell
    assert len(connections) == SLACK_CONNECTIONS  # the later calls reused the connections the first opened
