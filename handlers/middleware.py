"""Cross-cutting rules, as global middleware: what imagebot ignores before any listener runs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse

# Message subtypes that are never a request: edits, deletions, joins and other bots' posts.
# (A user's plain message has no subtype; a reply with an attachment is "file_share"; a reply also sent to
# the channel is "thread_broadcast".)
REQUEST_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def is_noise(body: dict[str, Any]) -> bool:
    """True for events that must be dropped quietly: 200 to Slack, no listener, no API call."""
    if body.get("type") != "event_callback":
        return False
    event = body.get("event") or {}
    if event.get("type") != "message":
        return False
    # Bolt drops our own messages (IgnoringSelfEvents); other bots' messages carry bot_id too and are
    # dropped here, so two bots can never talk to each other in a loop.
    return bool(event.get("bot_id")) or event.get("subtype") not in REQUEST_SUBTYPES


def register(app: AsyncApp) -> None:
    @app.middleware
    async def ignore_noise(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        if is_noise(body):
            return BoltResponse(status=200, body="")
        await next()
        return None
