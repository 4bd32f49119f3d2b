"""Cross-cutting rules, as global middleware: what imagebot ignores or refuses before any listener runs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.logs import LogThrottle
from bot.runtime.services import Services
from bot.settings import Settings
from handlers.delivery.jobs import Delivery
from handlers.payloads import CHECKED, Malformed, check_shape
from handlers.ui.errors import CHANNEL_REFUSED
from storage.records import ThreadKey

log = logging.getLogger(__name__)

# Message subtypes that are never a request: edits, deletions, joins and other bots' posts.
# (A user's plain message has no subtype; a reply with an attachment is "file_share"; a reply also sent to
# the channel is "thread_broadcast".)
REQUEST_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def is_noise(body: dict[str, Any]) -> bool:
    """True for events that must be dropped quietly: 200 to Slack, no listener, no API call. Safe on a body whose
    shape is unchecked (handlers/ingress.py asks before checking it: nothing reads a dropped event): what it
    cannot read as Slack sends it is not noise, and goes on to be checked."""
    if body.get("type") != "event_callback":
        return False
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        return False
    subtype = event.get("subtype")
    if subtype is not None and not isinstance(subtype, str):
        return False
    # Bolt drops our own messages (IgnoringSelfEvents); other bots' messages carry bot_id too and are
    # dropped here, so two bots can never talk to each other in a loop.
    return bool(event.get("bot_id")) or subtype not in REQUEST_SUBTYPES


def channel_of(body: dict[str, Any]) -> str | None:
    """The channel a command, event or button press happened in."""
    if "command" in body:
        return body.get("channel_id")
    if body.get("type") == "event_callback":
        event = body.get("event") or {}
        # app_home_opened names the user's DM with the bot as its channel: the Home tab is not a channel's.
        channel = None if event.get("type") == "app_home_opened" else event.get("channel")
        # Some events (channel_rename, channel_created) carry the channel as an object: a channel all the same.
        return channel.get("id") if isinstance(channel, dict) else channel
    if body.get("type") == "block_actions":
        return (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    return None


def team_of(body: dict[str, Any]) -> str:
    """The workspace a command, event, shortcut or interaction came from."""
    team = body.get("team_id") or body.get("team") or (body.get("user") or {}).get("team_id") or ""
    return team.get("id", "") if isinstance(team, dict) else team


def channel_allowed(settings: Settings, channel_id: str | None) -> bool:
    if channel_id is None:
        return True
    if channel_id in settings.denied_channels:
        return False
    return not settings.allowed_channels or channel_id in settings.allowed_channels


class WellFormed(AsyncMiddleware):
    """Refuse a payload Slack could not have sent (handlers/payloads.py), with one rate-limited log line.

    Over HTTP, handlers/ingress.py has run the same check before Bolt (and answered 400); in Socket Mode, this is
    the check. build_app installs it as Bolt's `before_authorize`, the first middleware after Bolt's signature
    check: Bolt's own middleware (authorize, ignoring self events) reads the body too, and so would fail on a
    malformed one first. It is a middleware class, not a function: for a function, Bolt builds every argument it
    could inject (the action, the view, the step…) from the body beforehand, and that alone can fail."""

    def __init__(self) -> None:
        self.refusals = LogThrottle(log)

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        try:
            if req.context.get(CHECKED) is not req.body:  # over HTTP ingress.py has checked this very body
                check_shape(req.body)
        except Malformed as malformed:
            self.refusals.log(logging.WARNING, "refused a malformed %s payload: %s", req.mode, malformed)
            # Socket Mode acks only a 200, and Slack redelivers an envelope that is not acked: nothing is done
            # either way, so there the answer is a 200 with nothing done.
            return BoltResponse(status=200 if req.mode == "socket_mode" else 400, body="")
        return await next()


class DropNoise(AsyncMiddleware):
    """Bots' messages, edits, deletions (is_noise): 200, and nothing else runs. Over HTTP, ingress.py has already
    answered these; in Socket Mode this is where they stop. Like WellFormed, a class: Bolt builds every argument it
    could inject for a function middleware, on every request (about 50 us each, issue 16)."""

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        if is_noise(req.body):
            return BoltResponse(status=200, body="")
        return await next()


class ChannelPolicy(AsyncMiddleware):
    """IMAGEBOT_ALLOWED_CHANNELS / IMAGEBOT_DENIED_CHANNELS: a refused channel gets a private message."""

    def __init__(self, services: Services, delivery: Delivery) -> None:
        self.services, self.delivery = services, delivery

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        body, services = req.body, self.services
        channel = channel_of(body)
        if channel_allowed(services.settings, channel):
            return await next()
        if "command" in body:
            return BoltResponse(status=200, body=CHANNEL_REFUSED)  # the ack body: shown only to the asker
        if body.get("type") == "block_actions":
            services.jobs.background(self.delivery.tell((team_of(body), channel or "", body["user"]["id"], None),
                                                        CHANNEL_REFUSED),
                                     name="channel-refused")
        elif body.get("type") == "event_callback":
            services.jobs.background(_refuse_reply(services, self.delivery, body), name="channel-refused")
        return BoltResponse(status=200, body="")


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    app.use(DropNoise())
    app.use(ChannelPolicy(services, delivery))


async def _refuse_reply(services: Services, delivery: Delivery, body: dict[str, Any]) -> None:
    """A reply in an image thread of a channel that is no longer allowed: tell the user, privately."""
    event = body.get("event") or {}
    thread_ts, user = event.get("thread_ts"), event.get("user")
    if not thread_ts or not user or thread_ts == event.get("ts"):
        return
    key = ThreadKey(body.get("team_id") or "", event["channel"], thread_ts)
    if await services.images.get_thread(key) is not None:
        await delivery.tell((key.team_id, event["channel"], user, thread_ts), CHANNEL_REFUSED)
