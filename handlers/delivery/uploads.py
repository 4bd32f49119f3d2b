"""A job's images in its thread: the files as the API made them (with a PNG preview beside an SVG), the cost
footnote as their comment, and the buttons under them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import AttachmentError
from bot.images import imaging
from bot.usecases.image_service import Delivered, ImageService
from handlers.ui import blocks
from handlers.ui.results import build_result_actions
from storage.records import ThreadKey

log = logging.getLogger(__name__)
Slack = Callable[[str], Awaitable[AsyncWebClient]]  # a workspace's Web API client, by team id


# Image bytes read for uploads at once, across every job: fifty images saved together would otherwise all be read
# and held while Slack takes them (issue 16: 130 MB of a 50-burst's peak). About nine 2.6 MB PNGs; an image larger
# than the whole room goes alone.
UPLOAD_ROOM_BYTES = 24 * 1024 * 1024


class UploadRoom:
    """Room for image bytes being uploaded: taken before an image is read, given back once Slack has it."""

    def __init__(self, limit: int = UPLOAD_ROOM_BYTES) -> None:
        self.limit = limit
        self.used = 0
        self._changed: asyncio.Condition | None = None  # made in the running loop

    async def take(self, size: int) -> int:
        """Wait until `size` bytes fit (at most the whole room); return what was taken, for `give_back`."""
        size = min(size, self.limit)
        self._changed = self._changed or asyncio.Condition()
        async with self._changed:
            await self._changed.wait_for(lambda: self.used + size <= self.limit)
            self.used += size
        return size

    async def give_back(self, size: int) -> None:
        assert self._changed is not None
        async with self._changed:
            self.used -= size
            self._changed.notify_all()


async def files_of(images: ImageService, result: dict[str, Any], room: UploadRoom,
                   held: contextlib.AsyncExitStack) -> list[dict[str, Any]]:
    """files_upload_v2's file_uploads for a result's stored images (by id), titled by its prompt; room for their
    bytes is taken before each is read and given back when `held` closes."""
    ids = result["image_ids"]
    uploads = []
    for index, image_id in enumerate(ids, start=1):
        record = await images.kept_image(None, image_id)
        taken = await room.take(record.bytes)
        held.push_async_callback(room.give_back, taken)
        data = await images.read_image(record)
        suffix = "jpg" if record.format == "jpeg" else record.format
        title = _title(result["title"], index, len(ids))
        # As the API made them (a GIF plays in Slack as it came); the alt text is for screen readers.
        uploads.append({"file": data, "filename": f"imagebot-{image_id[:12]}.{suffix}", "title": title,
                        "alt_txt": result["title"][:1000]})
        if record.format == "svg":  # Slack draws no SVG: a PNG preview goes beside the file as it came
            try:
                preview = await asyncio.to_thread(imaging.svg_preview, data)
            except AttachmentError as error:
                log.warning("no preview for SVG %s: %s", image_id, error)
            else:
                uploads.append({"file": preview, "filename": f"imagebot-{image_id[:12]}-preview.png",
                                "title": f"{title} (preview)", "alt_txt": result["title"][:1000]})
    return uploads


async def send_files(slack: Slack, key: ThreadKey, uploads: list[dict[str, Any]],
                     comment: str) -> list[dict[str, Any]] | None:
    """Upload into the thread: the files Slack made ({"id", "title"}, in the order of `uploads`); None if refused."""
    try:
        response = await (await slack(key.team_id)).files_upload_v2(
            file_uploads=uploads, channel=key.channel_id, thread_ts=key.thread_ts, initial_comment=comment)
    except (SlackClientError, aiohttp.ClientError, OSError, ValueError) as error:
        # SlackApiError: a method said no; SlackRequestError: the byte upload to upload_url failed;
        # aiohttp / OS errors: the connection did.
        log.warning("upload refused by Slack: %s", getattr(error, "response", None) or error)
        return None
    return list(response.get("files") or [])


async def post_buttons(slack: Slack, key: ThreadKey, delivered: Delivered) -> None:
    """One message under the request's images, however many it made: Use a / Use b… (or Use this one), Retry,
    Undo, Make it high quality (unless it was), Variations."""
    outputs = [(record.id, version) for record, version in zip(delivered.images, delivered.versions, strict=True)]
    actions = build_result_actions(outputs, can_undo=bool(delivered.images[0].parent_id),
                                   quality=delivered.result.quality)
    try:
        client = await slack(key.team_id)
        await client.chat_postMessage(channel=key.channel_id, thread_ts=key.thread_ts,
                                      text=f"What next for {'/'.join(delivered.versions)}?", blocks=[actions])
    except SlackApiError as error:  # the image is there; the buttons are a convenience
        log.warning("could not post the buttons: %s", error.response.get("error"))


def comment(delivered: Delivered, notes: tuple[str, ...] = ()) -> str:
    """The footnote under the images: model, size, tokens, cost, budgets, versions, and what was changed."""
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
        user_month_micro=delivered.user_month_micro,
        budgets_left=tuple((f"{b.budget.period} {b.budget.scope} budget", b.left_micro, b.budget.limit_micro)
                           for b in delivered.budgets_left),
        versions=delivered.versions,
        base_version=delivered.base_version,
        next_edit=delivered.next_edit,
        notes=(*notes, *delivered.policy_notes, *delivered.spend_notes),
    )
    text = blocks.footnote_text(note)
    if delivered.result.partials:
        text += f"\n_Includes {delivered.result.partials} streamed preview(s); previews are billed._"
    if delivered.converted:
        changes = "; ".join(blocks.escape(change) for change in delivered.converted)
        text += f"\n_To suit the image API: {changes}_"
    return text


def _title(prompt: str, index: int, count: int) -> str:
    title = re.sub(r"\s+", " ", prompt).strip()[:120] or "image"
    return f"{title} ({index}/{count})" if count > 1 else title


async def send_grid(slack: Slack, key: ThreadKey, png: bytes, version: str, comment: str) -> bool:
    """Upload a grid drawn over `version` into the thread; False (logged) when Slack refused it."""
    try:
        client = await slack(key.team_id)
        await client.files_upload_v2(channel=key.channel_id, thread_ts=key.thread_ts, file=png,
                                     filename=f"grid-{version}.png", title=f"Grid over {version}",
                                     initial_comment=comment)
    except (SlackClientError, aiohttp.ClientError, OSError) as error:
        log.warning("grid upload failed: %s", error)
        return False
    return True
