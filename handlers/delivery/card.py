"""The card in the channel shows the thread's current image: after each new version, and after undo / use v2 /
use b / an uploaded image moves the thread to another one.

The picture is an image block with `slack_file` (https://docs.slack.dev/reference/block-kit/blocks/image-block):
Slack draws PNG, JPEG and GIF there, so an SVG is shown by its PNG preview and a WEBP not at all. A file uploaded a
moment ago may not be processed yet, and Slack then answers `invalid_blocks` ("invalid slack file"): the update is
tried again after a few bounded waits, then made without the picture (the text card).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases.image_service import Delivered
from handlers.ui import blocks
from storage.records import ThreadKey

log = logging.getLogger(__name__)
Slack = Callable[[str], Awaitable[AsyncWebClient]]  # a workspace's Web API client, by team id
Sleep = Callable[[float], Awaitable[None]]
JSON = dict[str, Any]

WAITS = (0.5, 1.0, 2.0)  # between tries while Slack processes a just-uploaded file: 3.5 s at most in all
DRAWN = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}  # by file extension
THREAD_PAGES = 5  # conversations.replies pages read to find a version's file (200 messages each)


async def pause(seconds: float) -> None:
    """The wait between tries: Card's default, looked up when it waits (a test of the whole app swaps it for one
    that records the waits instead of waiting)."""
    await asyncio.sleep(seconds)


def drawn_file(files: Iterable[Mapping[str, Any]], image_id: str) -> str | None:
    """The id of the Slack file that draws stored image `image_id` in a block, among `files` ({"id", "name"} and,
    when Slack has said, "mimetype"): the upload named for the image (uploads.py: `imagebot-<id[:12]>.<ext>`) if
    it is a PNG, JPEG or GIF, else its PNG preview (`imagebot-<id[:12]>-preview.png`, beside an SVG)."""
    stem = f"imagebot-{image_id[:12]}"
    for file in files:
        name = str(file.get("name") or "")
        base, _, extension = name.rpartition(".")
        drawn = DRAWN.get(extension.lower())
        if base in (stem, f"{stem}-preview") and drawn and file.get("mimetype") in (None, "", drawn):
            return str(file["id"])
    return None


def drawn_attachment(attachments: Iterable[Mapping[str, Any]], name: str) -> str | None:
    """The id of the file a user attached under `name` ({"id", "name", "mimetype"}) if Slack draws it in a block."""
    return next((str(a["id"]) for a in attachments if a.get("name") == name and a.get("mimetype") in DRAWN.values()),
                None)


def current_image(delivered: Delivered, files: Iterable[Mapping[str, Any]], alt_text: str) -> blocks.CardImage | None:
    """What the card shows after `delivered` was uploaded as `files`: the version the next edit uses (of several
    outputs, the first), when Slack can draw it."""
    labelled = list(zip(delivered.images, delivered.versions, strict=False))
    current = next(((record, label) for record, label in labelled if label == delivered.next_edit),
                   labelled[0] if labelled else None)
    if current is None:
        return None
    file_id = drawn_file(files, current[0].id)
    return blocks.CardImage(file_id, current[1], alt_text) if file_id else None


def uploaded_names(uploads: Sequence[Mapping[str, Any]], files: Sequence[Mapping[str, Any]]) -> list[JSON]:
    """files_upload_v2's answer ({"id", "title"}, in the order of the uploads) with the names the uploads gave."""
    return [{"id": file["id"], "name": upload.get("filename")} for upload, file in zip(uploads, files, strict=False)]


class Card:
    """Updates a thread's card (chat.update), with its picture when Slack can draw it."""

    def __init__(self, slack: Slack, *, sleep: Sleep | None = None, waits: Sequence[float] = WAITS) -> None:
        self.slack = slack
        self.sleep = sleep  # injected: tests count the waits instead of waiting (None: `pause`)
        self.waits = tuple(waits)

    async def update(self, key: ThreadKey, text: str, card: list[JSON]) -> bool:
        """chat.update the card at `key.thread_ts`. A picture Slack refuses (`invalid_blocks`: not processed yet) is
        tried again after each of `waits`, then the card goes without it. False if the card was not updated."""
        client = await self.slack(key.team_id)
        pictured = any(block.get("block_id") == blocks.CARD_IMAGE_BLOCK_ID for block in card)
        for wait in (*self.waits, None) if pictured else (None,):
            error = await self._try(client, key, text, card)
            if error is None:
                return True
            if error != "invalid_blocks" or not pictured:
                break
            if wait is None:  # still refused after every wait: the text card, without the picture
                log.info("card %s: Slack would not draw the image; posting it without", key.thread_ts)
                return await self._try(client, key, text, blocks.with_card_image(card, None)) is None
            await (self.sleep or pause)(wait)
        log.warning("could not update the card %s: %s", key.thread_ts, error)
        return False

    async def show(self, key: ThreadKey, image_id: str | None, label: str, alt_text: str = "",
                   file_id: str | None = None, status: str | None = None) -> bool:
        """Make a thread's card show version `label` (stored image `image_id`, or the Slack file `file_id` when it
        is known, as for an image a user uploaded): its file is looked up in the thread. With no file Slack can
        draw, the card shows no picture rather than an older one; `status`: a new status line too. False if the
        thread's parent is no card."""
        client = await self.slack(key.team_id)
        try:
            thread = await self._thread(client, key)
        except SlackApiError as error:
            log.warning("could not read the thread %s: %s", key.thread_ts, error.response.get("error"))
            return False
        if not thread or not blocks.is_card(thread[0].get("blocks")) or thread[0]["ts"] != key.thread_ts:
            return False
        if file_id is None and image_id is not None:
            file_id = drawn_file((file for message in thread for file in message.get("files") or ()), image_id)
        image = blocks.CardImage(file_id, label, alt_text) if file_id else None
        card = blocks.with_card_image(thread[0]["blocks"], image)
        return await self.update(key, thread[0].get("text") or "",
                                 card if status is None else blocks.with_card_status(card, status))

    async def _thread(self, client: AsyncWebClient, key: ThreadKey) -> list[JSON]:
        """The thread's messages, its parent first: a few pages at most (a thread with more shows no picture for
        versions past them)."""
        messages: list[JSON] = []
        cursor = None
        for _ in range(THREAD_PAGES):
            page = await client.conversations_replies(channel=key.channel_id, ts=key.thread_ts, limit=200,
                                                      cursor=cursor)
            messages += page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                break
        return messages

    @staticmethod
    async def _try(client: AsyncWebClient, key: ThreadKey, text: str, card: list[JSON]) -> str | None:
        """One chat.update: None when it took, else Slack's error code."""
        try:
            await client.chat_update(channel=key.channel_id, ts=key.thread_ts, text=text, blocks=card)
        except SlackApiError as error:
            return str(error.response.get("error", "unknown_error"))
        return None
