"""Messages: a reply in an image thread edits the thread's last image."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.services import Services
from handlers.flows import Attachment, Flows, edit_payload
from handlers.messages import refusal
from storage.store import ThreadKey


def reply_from_event(event: dict[str, Any], bot_user_id: str | None) -> tuple[str, tuple[Attachment, ...]] | None:
    """The words and attachments of a reply in a thread, or None when the message is not a reply."""
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
    return text.strip(), attachments


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    async def message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        reply = reply_from_event(event, context.bot_user_id)
        if reply is None:
            return  # top-level chatter: not addressed to imagebot
        text, attachments = reply
        team_id = body.get("team_id") or event.get("team") or ""
        key = ThreadKey(team_id, event["channel"], event["thread_ts"])
        if await services.images.get_thread(key) is None:
            return  # not an image thread: not ours to answer
        admission = await services.jobs.submit(
            # One job per message, whichever event delivered it and however often.
            dedupe_key=f"message:{team_id}:{event['channel']}:{event['ts']}", kind="edit", team_id=team_id,
            channel_id=event["channel"], user_id=event["user"], payload=edit_payload(text, attachments),
            thread_ts=event["thread_ts"], message_ts=event["ts"])
        reason = refusal(admission.status, retry_in=admission.retry_in,
                         limit=services.settings.user_requests_per_minute)
        if reason:
            services.jobs.background(flows.tell((event["channel"], event["user"], event["thread_ts"]), reason),
                                     name="refusal")

    # One catch-all listener for every message event, so Slack never gets a 404 for one.
    app.event("message")(message)
