"""Messages: replies in image threads edit; a mention with an image, or a DM, starts an image thread."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext

from bot.errors import StorageUnavailable, UserInputError
from bot.rules.batch_lines import is_batch
from bot.rules.options import parse_command
from bot.runtime.db_thread import ack_deadline, in_time
from bot.runtime.services import Services
from handlers.delivery.batches import batch_payload
from handlers.delivery.jobs import Attachment, Delivery, edit_payload, generate_payload
from handlers.listeners import batches
from handlers.listeners.middleware import team_of
from handlers.ui.errors import explain, refusal
from storage.records import ThreadKey

MENTION_HINT = ("Attach an image to your mention and say what to change, and I will start an image thread "
                "with it; or make a new one with `/image <prompt>`.")


def attachments_of(event: dict[str, Any]) -> tuple[Attachment, ...]:
    return tuple(
        Attachment(id=f.get("id", ""), name=f.get("name") or f.get("title") or "attachment",
                   url=f.get("url_private_download") or f.get("url_private") or "", size=f.get("size"),
                   mimetype=f.get("mimetype") or "")
        for f in event.get("files") or ()
        if f.get("url_private_download") or f.get("url_private")
    )


def words_of(event: dict[str, Any], bot_user_id: str | None) -> str:
    text = event.get("text") or ""
    if bot_user_id:
        text = text.replace(f"<@{bot_user_id}>", " ")
    return text.strip()


def is_reply(event: dict[str, Any]) -> bool:
    return bool(event.get("thread_ts")) and event.get("thread_ts") != event.get("ts")


# Every listener here answers before the ack (process_before_response) and waits for the database at most until
# `deadline` (bot/runtime/db_thread.py ACK_WAIT from its start): past it, or when the database is full or locked, the
# user hears "try again" and nothing reaches the image API.


def _refuse(services: Services, delivery: Delivery, team_id: str, event: dict[str, Any], thread_ts: str | None,
            reason: str) -> None:
    services.jobs.background(delivery.tell((team_id, event["channel"], event["user"], thread_ts), reason),
                             name="refusal")


def _team(body: dict[str, Any], event: dict[str, Any]) -> str:
    return body.get("team_id") or event.get("team") or ""


async def _admit(services: Services, delivery: Delivery, event: dict[str, Any], team_id: str, kind: str,
                 payload: dict[str, Any], thread_ts: str, deadline: float) -> None:
    admission = await services.jobs.submit(
        # One job per message, whichever event delivered it (message, app_mention) and however often.
        dedupe_key=f"message:{team_id}:{event['channel']}:{event['ts']}", kind=kind, team_id=team_id,
        channel_id=event["channel"], user_id=event["user"], payload=payload, thread_ts=thread_ts,
        message_ts=event["ts"], deadline=deadline)
    reason = refusal(admission.status, retry_in=admission.retry_in, limit=services.settings.user_requests_per_minute)
    if reason:
        _refuse(services, delivery, team_id, event, thread_ts, reason)


async def start_thread(services: Services, delivery: Delivery, body: dict[str, Any], event: dict[str, Any],
                       context: AsyncBoltContext) -> None:
    """A new image thread rooted at the user's own message (a mention with an image, or a DM)."""
    deadline = ack_deadline()
    images, team_id = services.images, _team(body, event)
    text, files = words_of(event, context.bot_user_id), attachments_of(event)
    key = ThreadKey(team_id, event["channel"], event["ts"])
    if is_batch(text) and any(f.name.lower().endswith((".csv", ".txt")) for f in files):
        await _batch(services, delivery, event, team_id, text, files, deadline)  # its card, in this thread
        return
    if files:  # the attached image becomes v1; the words (if any) edit it
        kind, payload, prompt = "edit", edit_payload(text, files), text or None
    else:
        try:
            parsed = parse_command(text, images.default_options, images.choices())
        except UserInputError as error:
            _refuse(services, delivery, team_id, event, None, explain(error))
            return
        kind, prompt = "generate", parsed.prompt
        payload = generate_payload(parsed.prompt, parsed.options, card=False)
    try:
        await in_time(images.start_thread(key, user_id=event["user"], prompt=prompt), deadline)
    except StorageUnavailable as error:
        _refuse(services, delivery, team_id, event, event["ts"], explain(error))
        return
    await _admit(services, delivery, event, team_id, kind, payload, event["ts"], deadline)


async def _batch(services: Services, delivery: Delivery, event: dict[str, Any], team_id: str, text: str,
                 files: tuple[Attachment, ...], deadline: float) -> None:
    """`batch` with a TXT or CSV attached (a DM, or a mention): the batch's job, or at once what is wrong."""
    try:
        batches.check_batch(services, text, with_file=True)
    except UserInputError as error:
        _refuse(services, delivery, team_id, event, event["ts"], explain(error))
        return
    await _admit(services, delivery, event, team_id, "batch", batch_payload(text, [a.__dict__ for a in files]),
                 event["ts"], deadline)


async def message(services: Services, delivery: Delivery, body: dict[str, Any], event: dict[str, Any],
                  context: AsyncBoltContext) -> None:
    if not event.get("user"):
        return
    if event.get("channel_type") == "im" and not is_reply(event):
        await start_thread(services, delivery, body, event, context)  # a direct message is a new request
        return
    if not is_reply(event):
        return  # top-level chatter in a channel: not addressed to imagebot
    deadline = ack_deadline()
    team_id = _team(body, event)
    key = ThreadKey(team_id, event["channel"], event["thread_ts"])
    try:
        thread = await in_time(services.images.get_thread(key), deadline)
    except StorageUnavailable as error:
        # Whether this is an image thread is learnt after the ack; only a reply in one hears it was not taken.
        services.jobs.background(_refuse_if_ours(services, delivery, key, event, explain(error)), name="refusal")
        return
    if thread is None:
        try:
            batch = await in_time(services.batches.in_thread(key), deadline) if services.batches else None
        except StorageUnavailable:
            return  # a `cancel` then goes unheard: the user can say it again (nothing is spent meanwhile)
        if batch is not None:
            await batches.reply(services, delivery, batch, event)
        return  # not an image thread: not ours to answer
    await _admit(services, delivery, event, team_id, "edit",
                 edit_payload(words_of(event, context.bot_user_id), attachments_of(event)), event["thread_ts"],
                 deadline)


async def _refuse_if_ours(services: Services, delivery: Delivery, key: ThreadKey, event: dict[str, Any],
                          reason: str) -> None:
    if await services.images.get_thread(key) is not None:
        await delivery.tell((key.team_id, event["channel"], event["user"], key.thread_ts), reason)


async def mention(services: Services, delivery: Delivery, body: dict[str, Any], event: dict[str, Any],
                  context: AsyncBoltContext) -> None:
    if is_reply(event) or not event.get("user"):
        return  # in a thread the message event does the work (same dedupe key: one job)
    if attachments_of(event):
        await start_thread(services, delivery, body, event, context)
    else:
        services.jobs.background(delivery.tell((team_of(body), event["channel"], event["user"], None), MENTION_HINT),
                                 name="mention-hint")


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    # Bolt hands a listener its arguments by parameter name: these closures add the services.
    async def on_message(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        await message(services, delivery, body, event, context)

    async def on_mention(body: dict[str, Any], event: dict[str, Any], context: AsyncBoltContext) -> None:
        await mention(services, delivery, body, event, context)

    # One catch-all listener for every message event, so Slack never gets a 404 for one.
    app.event("message")(on_message)
    app.event("app_mention")(on_mention)
