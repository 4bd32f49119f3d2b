"""The app factory and the two ways of serving it (HTTP on /slack/events, or Socket Mode).

Nothing here runs at import. `build_app` makes no network call: the token is checked with auth.test
lazily, once, on the first request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.scheduler import ReportScheduler
from bot.services import Services
from bot.settings import Settings
from handlers import register_all
from handlers.admin import scheduled_poster
from handlers.flows import Flows

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


def make_client(settings: Settings, *, token: str | None = None,
                session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """The Web API client every listener gets a copy of (Bolt copies base_url and retry handlers)."""
    return AsyncWebClient(
        token=token,
        session=session,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),  # sleeps Retry-After (+ jitter) between tries
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def single_workspace_authorize(settings: Settings) -> Callable[..., Awaitable[AuthorizeResult]]:
    """Authorize every request with the one bot token, checking it with auth.test once.

    Bolt's default single-team authorization calls auth.test on each request until the first answer is in, so
    a burst of N requests at start-up (Slack redelivering after a restart) made N calls to a rate-limited
    method and made each ack wait for one. Here concurrent first requests share one call; a failed call is
    not cached, so the next request tries again.
    """
    client = make_client(settings, token=settings.slack_bot_token)
    lock = asyncio.Lock()
    cached: list[AuthorizeResult] = []

    async def authorize(enterprise_id: str | None, team_id: str | None, logger: logging.Logger) -> AuthorizeResult:
        if not cached:
            async with lock:
                if not cached:
                    response = await client.auth_test()
                    cached.append(AuthorizeResult.from_auth_test_response(
                        bot_token=settings.slack_bot_token, auth_test_response=response))
        return cached[0]

    return authorize


def build_app(settings: Settings, services: Services, *, socket_mode: bool = False,
              progress_interval: float = 20.0) -> AsyncApp:
    app = AsyncApp(
        # No token on the shared client: each request's client gets the token from `authorize`.
        client=make_client(settings),
        authorize=single_workspace_authorize(settings),
        signing_secret=settings.slack_signing_secret or "",
        # Listeners only parse, ack and hand work to the job runner, so they finish in microseconds; running
        # them before responding saves Bolt's 10 ms ack polling and means a job exists before Slack hears 200.
        process_before_response=True,
        # Socket Mode connections are authenticated by the app token; there is no signature to check.
        request_verification_enabled=not socket_mode,
        ignoring_self_events_enabled=True,
    )
    # Jobs talk to Slack through their own client: they outlive the request that admitted them, and the ones
    # resumed after a restart have no request at all.
    # One aiohttp session for the jobs' Slack calls: without it slack_sdk opens a new session (and TCP
    # connection) for every call, which the burst profile showed as 12 % of the event loop's time.
    session = aiohttp.ClientSession()
    services.closers.append(session.close)
    flows = Flows(services, make_client(settings, token=settings.slack_bot_token, session=session),
                  progress_interval=progress_interval)
    services.jobs.bind(flows)
    if settings.report_schedule:
        services.scheduler = ReportScheduler(services.db, settings.report_schedule, ZoneInfo(settings.timezone),
                                             scheduled_poster(services, flows.client))
    register_all(app, services, flows)
    return app


def web_app(app: AsyncApp, *, routes: Iterable[web.AbstractRouteDef] = (), events: bool = True) -> web.Application:
    """Events, slash commands and interactivity all arrive at POST /slack/events, signed by Slack (`events`
    False in Socket Mode, where they come over the socket). `routes`: the rest (install, health, metrics)."""

    async def slack_events(request: web.Request) -> web.StreamResponse:
        if not request.headers.get("X-Slack-Request-Timestamp", "").isdigit():
            # slack_sdk's verifier would int() it unguarded and answer 500; a request Slack did not sign is a 401.
            return web.json_response({"error": "invalid request"}, status=401)
        bolt_response = await app.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(bolt_response)

    application = web.Application()
    if events:
        application.router.add_post(EVENTS_PATH, slack_events)
    application.router.add_routes(list(routes))
    return application


async def start_http(app: AsyncApp, *, host: str, port: int, routes: Iterable[web.AbstractRouteDef] = (),
                     events: bool = True) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (call `cleanup()` to stop) and the bound port."""
    runner = web.AppRunner(web_app(app, routes=routes, events=events), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host=host, port=port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info("serving Slack over HTTP on http://%s:%s%s", host, bound, EVENTS_PATH)
    return runner, bound
