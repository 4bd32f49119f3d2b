"""The app factory and the two ways of serving it (HTTP on /slack/events, or Socket Mode).

Nothing here runs at import. `build_app` makes no network call: Bolt's AsyncApp checks the token with
auth.test lazily, on the first request.
"""

from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from bot.settings import Settings
from handlers import register_all

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


def make_client(settings: Settings) -> AsyncWebClient:
    """The Web API client every listener gets a copy of (Bolt copies base_url and retry handlers)."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),  # sleeps Retry-After (+ jitter) between tries
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def build_app(settings: Settings, services: Services, *, socket_mode: bool = False) -> AsyncApp:
    app = AsyncApp(
        client=make_client(settings),
        signing_secret=settings.slack_signing_secret or "",
        # Listeners only parse, ack and hand work to the job runner, so they finish in microseconds; running
        # them before responding saves Bolt's 10 ms ack polling and means a job exists before Slack hears 200.
        process_before_response=True,
        # Socket Mode connections are authenticated by the app token; there is no signature to check.
        request_verification_enabled=not socket_mode,
        ignoring_self_events_enabled=True,
    )
    register_all(app, services)
    return app


def web_app(app: AsyncApp) -> web.Application:
    """Events, slash commands and interactivity all arrive at POST /slack/events, signed by Slack."""

    async def slack_events(request: web.Request) -> web.StreamResponse:
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    application = web.Application()
    application.router.add_post(EVENTS_PATH, slack_events)
    return application


async def start_http(app: AsyncApp, *, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (call `cleanup()` to stop) and the bound port."""
    runner = web.AppRunner(web_app(app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host=host, port=port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("serving Slack over HTTP on http://%s:%s%s", host, bound, EVENTS_PATH)
    return runner, bound
