"""The card in the channel shows the thread's current image: after each new version, and after undo / use v2 /
use b / an uploaded image moves the thread to another one.

The picture is an image block with `slack_file` (https://docs.slack.dev/reference/block-kit/blocks/image-block):
Slack draws PNG, JPEG and GIF there, so an SVG is shown by its PNG preview and a WEBP not at all. A file uploaded a
moment ago may not be processed yet, and Slack then answers `invalid_blocks` ("invalid slack file"): the update is
tried again after a few bounded waits, then made without the picture (the text card).

Nothing is read back from Slack: the card's blocks are kept as they were last posted, and each upload's file ids
as Slack returned them (bot/usecases/posting.py), so a change is one chat.update. Reading the thread back
(conversations.replies) is held to much lower limits for a newly created, distributed, non-Marketplace app since
May 29, 2025 (https://docs.slack.dev/apis/web-api/rate-limits), and would not find a
user's upload again (its file is not named for the image).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import posting
from bot.usecases.image_service import Delivered, ImageService
from handlers.ui import blocks
from storage.records import PostedFile, ThreadKey

log = logging.getLogger(__name__)
Slack = Callable[[str], Awaitable[AsyncWebClient]]  # a workspace's Web API client, by team id
Sleep = Callable[[float], Awaitable[None]]
JSON = dict[str, Any]

WAITS = (0.5, 1.0, 2.0)  # between tries while Slack processes a just-uploaded file: 3.5 s at most in all
DRAWN = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}  # by file extension


async def pause(seconds: float) -> None:
    """The wait between tries: Card's default, looked up when it waits (a test of the whole app swaps it for one
    that records the waits instead of waiting)."""
    await asyncio.sleep(seconds)


def posted_files(image_ids: Iterable[str], files: Iterable[Mapping[str, Any]]) -> list[PostedFile]:
    """The files an upload made ({"id", "name"} and, when Slack has said, "mimetype"), each for the stored image
    it shows: the upload named for the image (uploads.py: `imagebot-<id[:12]>.<ext>`) and the PNG preview beside
    an SVG (`imagebot-<id[:12]>-preview.png`); drawn when it is a PNG, JPEG or GIF."""
    files = list(files)
    made = []
    for image_id in image_ids:
        stem = f"imagebot-{image_id[:12]}"
        for file in files:
            base, _, extension = str(file.get("name") or "").rpartition(".")
            if base in (stem, f"{stem}-preview"):
                drawn = DRAWN.get(extension.lower())
                made.append(PostedFile(image_id, str(file["id"]), "image" if base == stem else "preview",
                                       drawn is not None and file.get("mimetype") in (None, "", drawn)))
    return made


def drawn_file(files: Iterable[Mapping[str, Any]], image_id: str) -> str | None:
    """The id of the Slack file that draws stored image `image_id` in a block, among an upload's `files`: the
    image itself if it is a PNG, JPEG or GIF, else its PNG preview (beside an SVG)."""
    return next((file.file_id for file in posted_files([image_id], files) if file.drawn), None)


def attached_file(attachments: Iterable[Mapping[str, Any]], name: str, image_id: str) -> PostedFile | None:
    """The file a user attached under `name` ({"id", "name", "mimetype"}) that became stored image `image_id`;
    drawn when Slack draws it in a block."""
    found = next((a for a in attachments if a.get("name") == name), None)
    return None if found is None else PostedFile(image_id, str(found["id"]), "upload",
                                                  found.get("mimetype") in DRAWN.values())


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


CARDS_KEPT = 1024


def _posting(text: str, card: list[JSON]) -> str:
    return json.dumps([text, card], sort_keys=True)


class Card:
    """Updates a thread's card (chat.update), with its picture when Slack can draw it, and keeps what it posted.

    An update to exactly what this process last posted on a card is not sent: a card posted "Generating…" for a
    job that runs at once was updated to the same "Generating…" when it started, a chat.update (Tier 3) and a
    database write for nothing. The last `CARDS_KEPT` cards are remembered, in memory only: after a restart
    the first update is sent whatever it says."""

    def __init__(self, slack: Slack, images: ImageService, *, sleep: Sleep | None = None,
                 waits: Sequence[float] = WAITS) -> None:
        self.slack = slack
        self.images = images  # where the card's last blocks and the threads' files are kept
        self._last: OrderedDict[ThreadKey, str] = OrderedDict()  # key -> text and blocks last posted, as JSON
        self.sleep = sleep  # injected: tests count the waits instead of waiting (None: `pause`)
        self.waits = tuple(waits)

    async def posted(self, key: ThreadKey, text: str, card: list[JSON]) -> None:
        """The card was posted (chat.postMessage) as `text` / `card`: what later changes start from."""
        self._last[key] = _posting(text, card)
        self._last.move_to_end(key)
        while len(self._last) > CARDS_KEPT:
            self._last.popitem(last=False)
        await posting.remember_card(self.images, key, text, card)

    async def update(self, key: ThreadKey, text: str, card: list[JSON]) -> bool:
        """chat.update the card at `key.thread_ts`. A picture Slack refuses (`invalid_blocks`: not processed yet) is
        tried again after each of `waits`, then the card goes without it. False if the card was not updated."""
        if self._last.get(key) == _posting(text, card):
            return True  # Slack shows exactly this already
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
        """Make a thread's card show version `label`: stored image `image_id`, drawn by the Slack file `file_id`
        when the caller has it, else by the file recorded when it was posted. With no file Slack can draw, the card
        shows no picture rather than an older one. The status line becomes `status`, by default "Showing v3, …"
        (the request's own "Done: 1 image, $…" would not describe a later picture). False if imagebot posted no
        card in the thread (a DM's thread) or it could not be updated."""
        posted = await posting.posted_card(self.images, key)
        if posted is None or not blocks.is_card(posted[1]):
            return False
        text, card = posted
        file_id = file_id or await posting.file_for(self.images, key, image_id)
        card = blocks.with_card_image(card, blocks.CardImage(file_id, label, alt_text) if file_id else None)
        return await self.update(key, text, blocks.with_card_status(card, status or blocks.status_showing(label)))

    async def _try(self, client: AsyncWebClient, key: ThreadKey, text: str, card: list[JSON]) -> str | None:
        """One chat.update: None when it took (and what it posted is kept), else Slack's error code."""
        try:
            await client.chat_update(channel=key.channel_id, ts=key.thread_ts, text=text, blocks=card)
        except SlackApiError as error:
            return str(error.response.get("error", "unknown_error"))
        await self.posted(key, text, card)
        return None
