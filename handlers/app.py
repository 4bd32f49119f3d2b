"""The app factory and the two ways of serving it (HTTP on /slack/events, or Socket Mode).

Nothing here runs at import. `build_app` makes no network call: the token is checked with auth.test once,
when imagebot starts serving (Workspaces.warm), or by the first request if that check could not be made.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import urljoin

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.settings import DEFAULT_SLACK_API_URL, Settings
from handlers.delivery.jobs import Delivery
from handlers.ingress import Ingress
from handlers.listeners import register_all
from handlers.listeners.middleware import WellFormed
from handlers.manifest import BOT_SCOPES, EVENTS_PATH
from handlers.workspaces import Workspaces
from storage.installations import SQLiteInstallationStore, SQLiteOAuthStateStore

log = logging.getLogger(__name__)


# Connections to one Slack host (slack.com for the Web API, files.slack.com for uploads) open at once. aiohttp's
# default is its pool's limit, 100: a burst of 200 jobs then opened ~100 to post their cards, each a connect (and,
# against Slack, a TLS handshake) on the event loop, 0.4 ms each on loopback, 38 of them in one turn of the loop
# (issue 16's profile: stalls of 41-60 ms in a 200-burst, 27-39 ms with 32). Slack's own rate limits (chat.postMessage
# about one a second a channel, https://api.slack.com/apis/rate-limits) leave nothing to gain from more.
SLACK_CONNECTIONS = 32


def slack_session() -> aiohttp.ClientSession:
    """The aiohttp session the Web API clients share: at most SLACK_CONNECTIONS to a host at once."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit_per_host=SLACK_CONNECTIONS))


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


def authorization_url(settings: Settings) -> str:
    """Slack's "Allow" page for installs: on slack.com, or on the same host as SLACK_API_URL when that points
    elsewhere (a Slack stand-in, a proxy), so the whole install can be exercised offline."""
    if settings.slack_api_url == DEFAULT_SLACK_API_URL:
        return "https://slack.com/oauth/v2/authorize"
    return urljoin(settings.slack_api_url, "/oauth/v2/authorize")


def make_workspaces(settings: Settings, services: Services) -> Workspaces:
    """Where bot tokens come from: SLACK_BOT_TOKEN, or (SLACK_CLIENT_ID + SLACK_CLIENT_SECRET) the installs
    stored in the database."""
    # One aiohttp session for every Slack call made outside a request (jobs, token refreshes): without it
    # slack_sdk opens a new session (and TCP connection) per call, which the burst profile showed as 12 % of
    # the event loop's time. At most SLACK_CONNECTIONS to a host at once: the rest wait for one to be free.
    session = slack_session()
    services.closers.append(session.close)
    store = SQLiteInstallationStore(services.db.store.db, services.db) if settings.oauth_enabled else None
    return Workspaces(settings, make_client, session, store)


def build_app(settings: Settings, services: Services, delivery: Delivery, workspaces: Workspaces, *,
              socket_mode: bool = False) -> AsyncApp:
    """The Bolt app, its listeners registered; `delivery` is how jobs reach Slack (imagebot/compose.py wires them)."""
    oauth_settings = None
    if workspaces.store is not None:
        # Multi-workspace: installs through /slack/install, each workspace's bot token in the database.
        oauth_settings = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret,
            scopes=list(BOT_SCOPES),  # Bolt would otherwise ask Slack for no scope at all, which Slack refuses
            redirect_uri=settings.slack_redirect_uri,
            installation_store=workspaces.store,
            installation_store_bot_only=True,
            state_store=SQLiteOAuthStateStore(services.db.store.db, services.db),
            authorization_url=authorization_url(settings),
        )
    app = AsyncApp(
        # No token on the shared client: each request's client gets its workspace's token from `authorize`
        # (which checks a single SLACK_BOT_TOKEN with auth.test once, or reads the workspace's install).
        client=make_client(settings),
        before_authorize=WellFormed(),  # a payload Slack could not have sent stops here (Socket Mode too)
        # Bolt takes an AsyncAuthorize as it is (an isinstance check); its annotation names only plain functions.
        authorize=workspaces.authorizer(),  # type: ignore[arg-type]
        oauth_settings=oauth_settings,
        installation_store_bot_only=True if oauth_settings else None,
        signing_secret=settings.slack_signing_secret or "",
        # Listeners only parse, ack and hand work to the job runner, so they finish in microseconds; running
        # them before responding saves Bolt's 10 ms ack polling and means a job exists before Slack hears 200.
        process_before_response=True,
        # Socket Mode connections are authenticated by the app token; there is no signature to check.
        request_verification_enabled=not socket_mode,
        ignoring_self_events_enabled=True,
    )
    register_all(app, services, delivery)
    return app


def web_app(app: AsyncApp, *, routes: Iterable[web.AbstractRouteDef] = (), events: bool = True,
            ingress: Ingress | None = None) -> web.Application:
    """Events, slash commands and interactivity all arrive at POST /slack/events, signed by Slack (`events`
    False in Socket Mode, where they come over the socket). `routes`: the rest (install, health, metrics).
    `ingress`: the endpoint's handler (default: a new one for `app`)."""

    ingress = ingress or Ingress.of(app)  # size cap, signature on the raw body, parse, shape check; then Bolt

    async def slack_events(request: web.Request) -> web.StreamResponse:
        return await ingress.handle(request)

    application = web.Application()
    if events:
        application.router.add_post(EVENTS_PATH, slack_events)
    flow = app.oauth_flow
    if flow is not None:  # multi-workspace: GET /slack/install (the "Add to Slack" page) and /slack/oauth_redirect

        async def install(request: web.Request) -> web.StreamResponse:
            return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

        async def oauth_redirect(request: web.Request) -> web.StreamResponse:
            return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

        application.router.add_get(flow.install_path, install)
        application.router.add_get(flow.redirect_uri_path, oauth_redirect)
    application.router.add_routes(list(routes))
    return application


async def start_http(app: AsyncApp, *, host: str, port: int, routes: Iterable[web.AbstractRouteDef] = (),
                     events: bool = True, ingress: Ingress | None = None) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (call `cleanup()` to stop) and the bound port."""
    runner, bound = await listen(web_app(app, routes=routes, events=events, ingress=ingress), host=host, port=port)
    if events:
        log.info("serving Slack over HTTP on http://%s:%s%s", host, bound, EVENTS_PATH)
    else:  # Socket Mode: what is left for HTTP is /healthz and, multi-workspace, the install pages
        log.info("serving HTTP on http://%s:%s (no Slack events: they come over Socket Mode)", host, bound)
    return runner, bound


async def listen(application: web.Application, *, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `application` on host:port (0: any free port); the runner and the bound port."""
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host=host, port=port).start()
    except OSError:  # the address is taken or not this machine's
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound
