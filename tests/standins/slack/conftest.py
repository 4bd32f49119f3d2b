"""The Slack stand-in, exercised over real HTTP on loopback with slack_sdk, Bolt and a tiny signed-request sink:
here, the stand-in, a Web API client on it, and the sink as the app."""


import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from standins.slack import SlackStandIn
from tests.standins.slack.helpers import AppSink, serve


@pytest.fixture
async def standin():
    async with SlackStandIn() as s:
        yield s


@pytest.fixture
def client(standin: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)


@pytest.fixture
async def sink(standin: SlackStandIn):
    app_sink = AppSink(standin.signing_secret)
    app = web.Application()
    app.router.add_post("/slack/events", app_sink.handle)
    runner, standin.app_request_url = await serve(app)
    yield app_sink
    await standin.drain()
    await runner.cleanup()
