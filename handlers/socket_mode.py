"""Socket Mode, supervised: one connection to Slack, kept up by our own loop, stopped in any state.

slack_sdk's aiohttp client (slack_sdk/socket_mode/aiohttp/__init__.py,
https://github.com/slackapi/python-slack-sdk/blob/main/slack_sdk/socket_mode/aiohttp/__init__.py) retries inside
`connect()` for as long as Slack is unreachable, logging a traceback each time, so a caller awaiting it never
gets back to notice SIGTERM; and the app's Web API client retries apps.connections.open on top of that, with a
log line per retry. Here instead:

- `SupervisedClient.connect()` is ONE attempt: apps.connections.open (through a client with no retry handlers),
  then the WebSocket. It raises on failure. The SDK's own reconnection is off (`auto_reconnect_enabled=False`),
  and a `disconnect` message from Slack (a connection refresh) only closes the session: every connection is
  opened by the Supervisor. The SDK's monitor still pings, so `is_connected()` notices a dead or stale session.
- `Supervisor.run()` is a task: an attempt (bounded by ATTEMPT_TIMEOUT), then, while connected, a look every
  CHECK_INTERVAL; after a failure, one log line and a wait that doubles from BACKOFF_FIRST to BACKOFF_CAP, spread
  by ±JITTER so that many instances do not retry in step. Cancelling it stops it wherever it is: connecting,
  connected or waiting. Its clock, sleep and random draw are injected, so all of this is tested without waiting.
- `SocketMode.check()` is /readyz's "socket" check: None while connected, else since when it is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import LogThrottle, redact
from bot.settings import Settings
from handlers.payloads import Malformed, check_shape

log = logging.getLogger(__name__)
BACKOFF_FIRST = 1.0  # seconds after the first failure in a row
BACKOFF_CAP = 60.0
JITTER = 0.25  # each wait is its nominal value ±25 %
ATTEMPT_TIMEOUT = 30.0  # one attempt: apps.connections.open and the WebSocket handshake
CHECK_INTERVAL = 1.0  # how often a connection is looked at (is_connected() reads a few attributes)
STABLE_AFTER = BACKOFF_CAP  # a connection that lasted this long resets the backoff; a shorter one counts as failed
CLOSE_TIMEOUT = 5.0  # for the WebSocket's closing handshake on the way out
MAX_RETRY_AFTER = 600.0  # a longer Retry-After is not believed: every wait has a bound
PING_INTERVAL = 10.0  # seconds between the SDK's pings (Bolt's default); no pong for 4 of them is a stale session
# What an attempt may fail with when Slack is unreachable, slow or refusing; anything else is a bug, and raises.
CONNECT_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, OSError, TimeoutError, SlackClientError)


def backoff(failures: int, draw: float, *, first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP,
            jitter: float = JITTER) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1, 2, …): `first`, doubling up to `cap`, then
    spread by ±`jitter` with `draw` (uniform in [0, 1))."""
    nominal = min(cap, first * 2.0 ** min(failures - 1, 32))
    return nominal * (1 + jitter * (2 * draw - 1))


def describe(error: BaseException) -> str:
    """One short, redacted line for a failed attempt."""
    if isinstance(error, SlackApiError):  # Slack answered: its error code says it (invalid_auth, ratelimited, …)
        said = error.response.get("error") if isinstance(error.response.data, dict) else None
        text = f"apps.connections.open: {said or f'HTTP {error.response.status_code}'}"
    elif isinstance(error, TimeoutError):
        text = f"no answer within {ATTEMPT_TIMEOUT:g} s"
    else:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return " ".join(redact(text).split())[:200]


def retry_after(error: BaseException) -> float:
    """The Retry-After Slack sent with a refusal (apps.connections.open is rate-limited at Tier 1), else 0."""
    if not isinstance(error, SlackApiError):
        return 0.0
    value = next((v for k, v in error.response.headers.items() if k.lower() == "retry-after"), "")
    return min(float(value), MAX_RETRY_AFTER) if str(value).isascii() and str(value).isdigit() else 0.0


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _closed(session: aiohttp.ClientWebSocketResponse) -> None:
    """Close a WebSocket, waiting at most CLOSE_TIMEOUT for Slack's side of the closing handshake."""
    async with asyncio.timeout(CLOSE_TIMEOUT):
        await session.close()


class Supervisor:
    """Keeps one connection up: `connect()` makes one attempt (raising one of `errors` on failure), `connected()`
    says whether the connection is still up."""

    def __init__(self, connect: Callable[[], Awaitable[None]], connected: Callable[[], Awaitable[bool]], *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep, draw: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic, now: Callable[[], float] = time.time,
                 errors: tuple[type[BaseException], ...] = CONNECT_ERRORS) -> None:
        self._connect, self._connected, self._errors = connect, connected, errors
        self._sleep, self._draw, self._clock, self._now = sleep, draw, clock, now
        self.down_since = now()  # wall clock, for /readyz: when the connection was last not up (start-up first)
        self.last_problem: str | None = None
        self.attempts = 0

    async def run(self) -> None:
        """Forever, until cancelled."""
        failures = 0
        while True:
            self.attempts += 1
            failed = await self._attempt()
            if failed is None:
                lasted = await self._while_connected()
                self.down_since = self._now()
                if lasted >= STABLE_AFTER:
                    failures = 0
                    log.info("Socket Mode: the connection to Slack closed after %.0f s; reconnecting", lasted)
                    continue
                failed = f"connected, but the connection closed after {lasted:.0f} s", 0.0
            problem, at_least = failed
            failures += 1
            self.last_problem = problem
            delay = max(backoff(failures, self._draw()), at_least)
            log.warning("Socket Mode: could not connect to Slack (attempt %d: %s); trying again in %.1f s",
                        self.attempts, problem, delay)
            await self._sleep(delay)

    async def _attempt(self) -> tuple[str, float] | None:
        """None once connected; else what went wrong and how long Slack asked us to wait (Retry-After)."""
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that lands as the attempt
            # completes (https://github.com/python/cpython/issues/86296), and the supervisor would never stop.
            async with asyncio.timeout(ATTEMPT_TIMEOUT):
                await self._connect()
        except self._errors as error:
            return describe(error), retry_after(error)
        log.info("Socket Mode: connected to Slack (attempt %d)", self.attempts)
        self.last_problem = None
        return None

    async def _while_connected(self) -> float:
        """Returns once the connection is no longer up: how long it was."""
        started = self._clock()
        while await self._connected():
            await self._sleep(CHECK_INTERVAL)
        return self._clock() - started

    async def check(self) -> str | None:
        if await self._connected():
            return None
        why = f" ({self.last_problem})" if self.last_problem else ""
        return f"not connected since {_utc(self.down_since)}{why}"


class SupervisedClient(SocketModeClient):
    """slack_sdk's aiohttp Socket Mode client, with `connect()` made one attempt and reconnection left to the
    Supervisor (see the module's docstring)."""

    async def connect(self) -> None:
        if self.current_session is not None:
            with contextlib.suppress(aiohttp.ClientError, OSError):  # a broken session may not close cleanly
                await _closed(self.current_session)
        if self.aiohttp_client_session.closed:
            self.aiohttp_client_session = aiohttp.ClientSession()
        response = await self.web_client.apps_connections_open(app_token=self.app_token)
        url = response.get("url")
        if not isinstance(url, str):
            raise ConnectionError("apps.connections.open gave no WebSocket URL")
        self.wss_uri = url
        self.current_session = await self.aiohttp_client_session.ws_connect(
            url, autoping=False, heartbeat=self.ping_interval, proxy=self.proxy,
            ssl=self.web_client.ssl if self.web_client.ssl is not None else True)
        self.stale, self.last_ping_pong_time = False, None  # the old session's last pong says nothing of this one
        await self.current_session.ping(f"sdk-ping-pong:{time.time()}".encode())  # as the SDK's connect() does
        for task in (self.current_session_monitor, self.message_receiver):
            if task is not None:
                task.cancel()
        self.current_session_monitor = asyncio.ensure_future(self.monitor_current_session())
        self.message_receiver = asyncio.ensure_future(self.receive_messages())

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        """Slack asked for a new connection (a `disconnect` message): close this one; the Supervisor, which
        opens every connection, notices within CHECK_INTERVAL and opens the next."""
        if self.current_session is not None:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await _closed(self.current_session)


class SocketMode:
    """The app over Socket Mode: started by `start`, stopped by `close`, whatever state it is in."""

    def __init__(self, app: AsyncApp, app_token: str, api_url: str, *,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        # apps.connections.open through a client of its own without retry handlers: the Supervisor retries.
        web_client = AsyncWebClient(base_url=api_url, timeout=int(ATTEMPT_TIMEOUT), retry_handlers=[])
        self.client = SupervisedClient(app_token, web_client=web_client, auto_reconnect_enabled=False,
                                       ping_interval=PING_INTERVAL)
        self.client.socket_mode_request_listeners.append(self._handle)
        self._refusals = LogThrottle(log)
        self.app = app
        self.supervisor = Supervisor(self.client.connect, self.client.is_connected, sleep=sleep)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self.supervisor.run(), name="socket-mode")
        return self.task

    async def check(self) -> str | None:
        return await self.supervisor.check()

    async def close(self) -> None:
        """Stop connecting (or waiting to), then close the connection, within about CLOSE_TIMEOUT."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)  # a crash is the caller's to raise (task.result())
        self.client.closed = True  # nothing reconnects from here on
        session = self.client.current_session
        if session is not None:
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                await _closed(session)
        # It cancels the SDK's tasks and closes its aiohttp session. slack_sdk leaves the method unannotated.
        await self.client.close()  # type: ignore[no-untyped-call]

    async def _handle(self, client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        # What Bolt's AsyncSocketModeHandler.handle does: dispatch the envelope, send the ack back. First the shape
        # check (handlers/payloads.py): Bolt reads team, user and channel off the payload as it builds its request,
        # before any middleware, and a payload Slack could not have sent (a number for `user`) would crash there
        # unacked, so the envelope would be redelivered. Refused, it is acked with nothing done, in one line.
        started = time.time()
        try:
            check_shape(request.payload)
        except Malformed as malformed:
            self._refusals.log(logging.WARNING, "refused a malformed socket_mode envelope: %s", malformed)
            response = BoltResponse(status=200, body="")
        else:
            response = await run_async_bolt_app(self.app, request)
        await send_async_response(client, request, response, started)


def start_socket_mode(app: AsyncApp, settings: Settings) -> SocketMode:
    """Socket Mode for `app`, connecting (supervised, in its own task) from now on; `close()` stops it."""
    socket = SocketMode(app, settings.slack_app_token or "", settings.slack_api_url)
    socket.start()
    return socket
