"""What happens in Slack after the ack: the card, the work, the images in the thread, the footnote.

Each flow runs as a background job (bot/jobs.py). Every request ends in an image or in a message that
says why not; expected errors (the error tree) are explained where the user will see them, unexpected
ones still tell the user something went wrong before they propagate to the job runner's log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import AttachmentError, ImagebotError
from bot.models import ImageOptions, InputImage
from bot.options import parse_command
from bot.service import Delivered
from bot.services import Services
from handlers import blocks
from handlers.messages import explain
from storage.store import ThreadKey

log = logging.getLogger(__name__)
Respond = Callable[..., Awaitable[Any]]
WORKING_REACTION = "hourglass_flowing_sand"


@dataclass(frozen=True)
class CommandRequest:
    team_id: str
    channel_id: str
    user_id: str
    prompt: str
    options: ImageOptions


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    url: str
    size: int | None
    mimetype: str


@dataclass(frozen=True)
class ReplyRequest:
    team_id: str
    channel_id: str
    thread_ts: str
    message_ts: str
    user_id: str
    text: str
    attachments: tuple[Attachment, ...] = ()


class Flows:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.images = services.images

    # /image ------------------------------------------------------------------------------------------
    async def generate(self, client: AsyncWebClient, request: CommandRequest, respond: Respond) -> None:
        text, card = blocks.build_card(request.user_id, request.prompt, request.options, blocks.status_working())
        try:
            posted = await client.chat_postMessage(channel=request.channel_id, text=text, blocks=card)
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error")
            hint = " Invite me with `/invite @imagebot` and try again." if code in (
                "not_in_channel", "channel_not_found") else ""
            await respond(text=f":warning: I could not post in this channel (`{code}`).{hint}",
                          response_type="ephemeral")
            return
        key = ThreadKey(request.team_id, request.channel_id, posted["ts"])
        await self.images.start_thread(key, user_id=request.user_id, prompt=request.prompt)
        try:
            delivered = await self.images.generate(key, request.user_id, request.prompt, request.options)
        except ImagebotError as error:
            reason = explain(error, model=request.options.model)
            await self._say(client, key, reason)
            await self._update_card(client, key, request, blocks.status_failed(reason))
            return
        except Exception:
            await self._say(client, key, ":warning: Something went wrong on my side; the error is logged.")
            await self._update_card(client, key, request, blocks.status_failed("Failed: an internal error."))
            raise
        uploaded = await self._deliver(client, key, delivered, title=request.prompt)
        status = (blocks.status_done(len(delivered.images), delivered.cost_micro, delivered.result.provider)
                  if uploaded else blocks.status_failed("Made, but Slack refused the upload: see the thread."))
        await self._update_card(client, key, request, status)

    # replies in image threads ------------------------------------------------------------------------
    async def edit(self, client: AsyncWebClient, reply: ReplyRequest) -> None:
        key = ThreadKey(reply.team_id, reply.channel_id, reply.thread_ts)
        thread = await self.images.get_thread(key)
        if thread is None:
            return  # not an image thread: not ours to answer
        await self._react(client, reply, add=True)
        try:
            await self._edit(client, key, reply, has_image=thread.last_image_id is not None)
        except ImagebotError as error:
            await self._say(client, key, explain(error))
        except Exception:
            await self._say(client, key, ":warning: Something went wrong on my side; the error is logged.")
            raise
        finally:
            await self._react(client, reply, add=False)

    async def _edit(self, client: AsyncWebClient, key: ThreadKey, reply: ReplyRequest, *, has_image: bool) -> None:
        attachments = await self._fetch(reply.attachments)
        prompt_text = reply.text.strip()
        if not prompt_text and attachments:
            # An image with no words: it becomes the picture the next edit starts from; nothing is billed.
            image, converted = attachments[-1]
            await self.images.use_upload(key, image)
            note = " (converted to PNG)" if converted else ""
            await self._say(client, key, f":frame_with_picture: Got {blocks.escape(image.name)}{note}. "
                                         "Reply with what to change "
                                         "and I will edit it.")
            return
        defaults = await self.images.edit_defaults(key, attachments[0][0] if attachments and not has_image else None)
        parsed = parse_command(prompt_text, defaults, allowed_models=self.images.allowed_models,
                               provider=self.services.settings.provider)
        delivered = await self.images.edit(key, reply.user_id, parsed.prompt, parsed.options, attachments)
        await self._deliver(client, key, delivered, title=parsed.prompt)

    async def _fetch(self, attachments: Sequence[Attachment]) -> list[tuple[InputImage, bool]]:
        prepared = []
        for item in attachments:
            if item.size is not None and item.size > 50 * 1024 * 1024:
                raise AttachmentError(f"{item.name} is over the 50 MB limit.", filename=item.name)
            data = await self.services.files.download(item.url, name=item.name)
            prepared.append(await self.images.prepare_attachment(data, item.name))
        return prepared

    # Slack output ------------------------------------------------------------------------------------
    async def _deliver(self, client: AsyncWebClient, key: ThreadKey, delivered: Delivered, *, title: str) -> bool:
        """Upload the images into the thread with the cost footnote as their comment. False if Slack refused."""
        usage = delivered.result.usage
        note = blocks.Footnote(
            provider=delivered.result.provider,
            model=delivered.result.model,
            size=delivered.result.size,
            quality=delivered.result.quality,
            images=len(delivered.images),
            input_text_tokens=usage.input_text_tokens if usage else None,
            input_image_tokens=usage.input_image_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            cost_micro=delivered.cost_micro,
            thread=delivered.thread_spend,
        )
        comment = blocks.footnote_text(note)
        if delivered.converted:
            comment += f"\n_Converted to PNG for the image API: {', '.join(delivered.converted)}_"
        uploads = []
        for index, record in enumerate(delivered.images, start=1):
            data = await self.images.image_bytes(record.id)
            suffix = "jpg" if record.format == "jpeg" else record.format
            uploads.append({
                "file": data,
                "filename": f"imagebot-{record.id[:12]}.{suffix}",
                "title": _title(title, index, len(delivered.images)),
                "alt_txt": title[:1000],
            })
        try:
            await client.files_upload_v2(file_uploads=uploads, channel=key.channel_id, thread_ts=key.thread_ts,
                                         initial_comment=comment)
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error")
            log.warning("upload refused by Slack: %s", code)
            await self._say(client, key, f":warning: I made the image but Slack refused the upload (`{code}`). "
                                         "It is kept; reply `retry upload` later or ask an admin.\n" + comment)
            return False
        return True

    async def _say(self, client: AsyncWebClient, key: ThreadKey, text: str) -> None:
        try:
            await client.chat_postMessage(channel=key.channel_id, thread_ts=key.thread_ts, text=text)
        except SlackApiError as error:
            log.warning("could not post in %s/%s: %s", key.channel_id, key.thread_ts, error.response.get("error"))

    async def _update_card(self, client: AsyncWebClient, key: ThreadKey, request: CommandRequest,
                           status: str) -> None:
        text, card = blocks.build_card(request.user_id, request.prompt, request.options, status)
        try:
            await client.chat_update(channel=key.channel_id, ts=key.thread_ts, text=text, blocks=card)
        except SlackApiError as error:
            log.warning("could not update the card %s: %s", key.thread_ts, error.response.get("error"))

    async def _react(self, client: AsyncWebClient, reply: ReplyRequest, *, add: bool) -> None:
        method = client.reactions_add if add else client.reactions_remove
        try:
            await method(channel=reply.channel_id, timestamp=reply.message_ts, name=WORKING_REACTION)
        except SlackApiError as error:  # a missing reaction is cosmetic, never a reason to fail the edit
            log.info("reaction %s failed: %s", "add" if add else "remove", error.response.get("error"))


def _title(prompt: str, index: int, count: int) -> str:
    title = re.sub(r"\s+", " ", prompt).strip()[:120] or "image"
    return f"{title} ({index}/{count})" if count > 1 else title
