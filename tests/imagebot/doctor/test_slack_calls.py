"""One Slack call's failure in words: a Slack that cannot be reached, and a SLACK_API_URL that is not Slack's Web API
(named instead of the token).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.settings import Settings
from imagebot.doctor import slack_calls
from imagebot.doctor.slack_calls import unreachable
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from tests.imagebot.doctor.helpers import env_for, line, run

pytestmark = pytest.mark.anyio


async def test_a_slack_that_cannot_be_reached_fails_quickly(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                            tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/api/"
        status, output = await run(env_for(slack, image_api, tmp_path, SLACK_API_URL=nowhere))
    assert status == 1 and "could not reach Slack" in line(output, "Socket Mode")


@contextlib.asynccontextmanager
async def web_page(status: int) -> AsyncIterator[str]:
    """A loopback web server that answers every path with an HTML page and `status`: a SLACK_API_URL mistyped
    to a company's web site, or a proxy's error page. Its base URL."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(status=status, text="<html><body>Not here</body></html>", content_type="text/html")

    application = web.Application()
    application.router.add_route("*", "/{path:.*}", page)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/api/"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("status", [404, 200])
async def test_a_slack_api_url_that_is_not_slack_is_named_instead_of_the_token(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path, status: int) -> None:
    async with web_page(status) as url:
        for app_token in (slack.app_token, ""):  # Socket Mode: apps.connections.open first; HTTP mode: auth.test
            code, output = await run(env_for(slack, image_api, tmp_path, SLACK_API_URL=url, SLACK_APP_TOKEN=app_token,
                                             SLACK_SIGNING_SECRET="0123456789abcdef" * 2))
            assert code == 1
            token = line(output, "Slack bot token")
            assert token.startswith(f"[FAIL] Slack bot token: SLACK_API_URL ({url}) is not Slack's Web API: it "
                                    f"answered HTTP {status} with text/html"), token
            assert "Unset SLACK_API_URL" in token
            assert "Slack refused" not in output and "Bot User OAuth Token" not in output  # the token is not blamed
            if app_token:
                assert line(output, "Socket Mode").startswith(f"[FAIL] Socket Mode: SLACK_API_URL ({url}) is not")


def test_an_answer_from_the_default_url_that_is_not_slack_points_at_a_proxy() -> None:
    problem = f"{slack_calls._NOT_SLACK}HTTP 502 with text/html"
    said = unreachable(Settings(), problem)
    assert said.startswith("https://slack.com/api/ answered HTTP 502 with text/html") and "proxy" in said
    assert unreachable(Settings(), "ClientConnectorError").startswith("could not reach Slack at")
