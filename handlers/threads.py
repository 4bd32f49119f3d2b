"""Messages: a reply in an image thread edits the thread's last image."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.services import Services
from handlers.flows import Attachment, Flows, ReplyRequest


def reply_from_event(body: dict[str, Any], event: dict[str, Any], bot_user_id: str | None) -> ReplyRequest | None:
    """The reply a message event carries, or None when it is not a reply in a thread."""
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == event.get("ts") or not event.get("user"):
        return None
    text = event.get("text") or ""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")
    attachments = tuple(
        Attachment(id=f.get("id", ""), name=f.get("name") or f.get("title") or "attachment",
                   url=f.get("url_private_download") or f.get("url_private") or "", size=f.get("size"),
                   mimetype=f.get("mimetype") or "")
        for f in event.get("files") or ()
        if f.get("url_private_download") or f.get("url_private")
    )
    return ReplyRequest(team_id=body.get("team_id") or event.get("team") or "", channel_id=event["channel"],
                        thread_ts=thread_ts, message_ts=event["ts"], user_id=event["user"], text=text.strip(),
                        attachments=attachments)


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    async def message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext,
                      client: AsyncWebClient) -> None:
        reply = reply_from_event(body, event, context.bot_user_id)
        if reply is None:
            return  # top-level chatter: not addressed to imagebot
        # Whether this is an image thread is looked up in the job, not here: the ack never waits on storage.
        services.jobs.submit(flows.edit(client, reply), name=f"edit:{reply.user_id}")

    # One catch-all listener for every message event, so Slack never gets a 404 for one.
    app.event("message")(message)
