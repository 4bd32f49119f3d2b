"""Modals: `/image` with no text opens a form; the message shortcut "Edit with imagebot" edits any image.

The shortcut works inside threads, where slash commands do not: the image thread is the message's own thread
(or starts at the message). Submissions become jobs like any other request (deduped on the view id).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.errors import InvalidOption, StorageUnavailable
from bot.runtime.db_thread import ack_deadline, in_time
from bot.runtime.services import Services
from handlers.delivery.jobs import Attachment, Delivery, edit_payload, generate_payload
from handlers.listeners.messages import attachments_of
from handlers.listeners.middleware import team_of
from handlers.ui import modals as views
from handlers.ui.errors import explain, refusal
from storage.records import ThreadKey

log = logging.getLogger(__name__)
EDIT_SHORTCUT = "imagebot_edit_shortcut"
NO_IMAGE = ":frame_with_picture: That message has no image I can edit. Use the shortcut on a message with an image."


async def open_view(delivery: Delivery, team_id: str, trigger_id: str, view: dict[str, Any]) -> None:
    try:
        await (await delivery.slack(team_id)).views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:  # an expired trigger (over 3 s) is the usual cause
        log.warning("views.open failed: %s", error.response.get("error"))


async def open_image_form(services: Services, delivery: Delivery, command: dict[str, Any]) -> None:
    """`/image` with no text: the form, preset to the defaults, offering only the models configured."""
    view = views.build_image_modal(services.images.default_options, services.images.choices(),
                                   private_metadata=command["channel_id"])
    await open_view(delivery, command["team_id"], command["trigger_id"], view)


def _tell_later(services: Services, delivery: Delivery, place: tuple[str, str, str, str | None], text: str,
                name: str = "modal-refusal") -> None:
    services.jobs.background(delivery.tell(place, text), name=name)


async def image_submitted(services: Services, delivery: Delivery, ack: AsyncAck, body: dict[str, Any],
                          view: dict[str, Any]) -> None:
    images = services.images
    try:
        prompt, options = views.parse_image_modal(view["state"]["values"], images.choices(),
                                                  defaults=images.default_options)
    except InvalidOption as error:
        await ack(response_action="errors", errors=views.modal_errors(error))
        return
    team, user, channel = body["user"]["team_id"], body["user"]["id"], view.get("private_metadata") or ""
    admission = await services.jobs.submit(
        dedupe_key=f"view:{team}:{view['id']}", kind="generate", team_id=team, channel_id=channel, user_id=user,
        payload=generate_payload(prompt, options))
    await ack()
    reason = refusal(admission.status, retry_in=admission.retry_in, limit=services.settings.user_requests_per_minute)
    if reason:
        _tell_later(services, delivery, (team, channel, user, None), reason)


def edit_metadata(message: dict[str, Any], channel: str, files: list[Attachment]) -> str:
    """What the edit form carries to its submission: the message, its thread, and as many of its images (three at
    most) as fit in a view's private_metadata."""
    metadata = {"c": channel, "ts": message["ts"], "thread": message.get("thread_ts") or message["ts"],
                "files": [f.__dict__ for f in files[:3]]}
    text = json.dumps(metadata)
    while len(text) > views.METADATA_LIMIT and metadata["files"]:
        metadata["files"].pop()
        text = json.dumps(metadata)
    return text


async def edit_shortcut(services: Services, delivery: Delivery, ack: AsyncAck, body: dict[str, Any]) -> None:
    await ack()
    message, channel, user = body["message"], body["channel"]["id"], body["user"]["id"]
    files = [a for a in attachments_of(message)
             if a.mimetype.startswith("image/") or a.name.lower().endswith((".png", ".jpg", ".jpeg", ".webp", ".gif"))]
    if not files:
        _tell_later(services, delivery, (team_of(body), channel, user, message.get("thread_ts")), NO_IMAGE,
                    name="shortcut-no-image")
        return
    modal = views.build_edit_modal(edit_metadata(message, channel, files),
                                   views.offered(services.images.choices(), "qualities"))
    services.jobs.background(open_view(delivery, team_of(body), body["trigger_id"], modal), name="edit-modal")


async def edit_submitted(services: Services, delivery: Delivery, ack: AsyncAck, body: dict[str, Any],
                         view: dict[str, Any]) -> None:
    images = services.images
    try:
        instruction, quality = views.parse_edit_modal(view["state"]["values"],
                                                      views.offered(images.choices(), "qualities"))
    except InvalidOption as error:
        await ack(response_action="errors", errors=views.modal_errors(error, fallback_block=views.INSTRUCTION_BLOCK))
        return
    deadline = ack_deadline()  # the database work before the ack, all of it (bot/runtime/db_thread.py)
    metadata = json.loads(view.get("private_metadata") or "{}")
    team, user = body["user"]["team_id"], body["user"]["id"]
    key = ThreadKey(team, metadata["c"], metadata["thread"])
    place = (team, metadata["c"], user, metadata["thread"])
    try:
        if await in_time(images.get_thread(key), deadline) is None:
            await in_time(images.start_thread(key, user_id=user, prompt=instruction), deadline)
    except StorageUnavailable as error:
        await ack()
        _tell_later(services, delivery, place, explain(error))
        return
    text = f"{instruction} --quality {quality}" if quality else instruction
    admission = await services.jobs.submit(
        dedupe_key=f"view:{team}:{view['id']}", kind="edit", team_id=team, channel_id=metadata["c"],
        user_id=user, payload=edit_payload(text, [Attachment(**f) for f in metadata["files"]]),
        thread_ts=metadata["thread"], message_ts=metadata["ts"], deadline=deadline)
    await ack()
    reason = refusal(admission.status, retry_in=admission.retry_in, limit=services.settings.user_requests_per_minute)
    if reason:
        _tell_later(services, delivery, place, reason)


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    # Bolt hands a listener its arguments by parameter name: these closures add the services.
    async def on_image_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await image_submitted(services, delivery, ack, body, view)

    async def on_edit_shortcut(ack: AsyncAck, body: dict[str, Any]) -> None:
        await edit_shortcut(services, delivery, ack, body)

    async def on_edit_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await edit_submitted(services, delivery, ack, body, view)

    app.view(views.IMAGE_MODAL)(on_image_submitted)
    app.view(views.EDIT_MODAL)(on_edit_submitted)
    app.shortcut(EDIT_SHORTCUT)(on_edit_shortcut)
