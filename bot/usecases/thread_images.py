"""A thread's stored images and versions: what an edit starts from, and moving that context (a version, undo,
another output, an upload) without any image API call. Knows nothing of Slack.

SQLite work runs on the database thread (bot/runtime/db_thread.py `DbThread`) and image files are read and written on
worker threads, so the event loop — and with it every ack — never waits on the disk.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.errors import InvalidOption, UserInputError
from bot.models import InputImage
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from storage.records import ImageRecord, RecentImage, ThreadKey, ThreadRecord

log = logging.getLogger(__name__)


class NoImageYet(UserInputError):
    def __init__(self) -> None:
        super().__init__("This thread has no image yet. Attach an image to edit, or start with `/image <prompt>`.")


class ImagePruned(UserInputError):
    """The image a request needs is gone: IMAGEBOT_RETENTION_DAYS removed it (`days`), or its file is missing
    (`days` None). Raised before any image API call, so nothing is sent and nothing is billed."""

    def __init__(self, *, label: str | None, days: int | None) -> None:
        what = f"This thread's image ({label})" if label else "This thread's image"
        gone = (f"was removed after {days} day{'s' if days != 1 else ''} (imagebot keeps images that long)"
                if days else "is no longer stored")
        super().__init__(f":wastebasket: {what} {gone}. Start a new one with `/image <prompt>`, or post an image "
                         "here on its own to edit that instead.")
        self.label = label
        self.days = days


class ThreadImages:
    """The images of a thread and its versions (v1, v2, v3a…), and which one the next edit starts from."""

    def __init__(self, db: DbThread, settings: Settings) -> None:
        self.store = db.store
        self.io = db
        self.settings = settings

    async def save_image(self, data: bytes, fmt: str, **fields: Any) -> ImageRecord:
        """Write the file on a worker thread (it can be megabytes, fsync'd), then record it on the db thread."""
        digest, relative = await asyncio.to_thread(self.store.files.put, data, fmt)
        return await self.io(self.store.record_image, digest, relative, len(data), fmt, **fields)

    # threads ----------------------------------------------------------------------------------------
    async def start_thread(self, key: ThreadKey, *, user_id: str, prompt: str | None) -> ThreadRecord:
        return await self.io(self.store.start_thread, key, created_by=user_id, prompt=prompt)

    async def get_thread(self, key: ThreadKey) -> ThreadRecord | None:
        return await self.io(self.store.get_thread, key)

    async def recent_images(self, team_id: str, user_id: str, limit: int) -> list[RecentImage]:
        """A user's latest images in the workspace, newest first (the App Home lists them)."""
        return await self.io(self.store.recent_images, team_id, user_id, limit)

    async def image_bytes(self, image_id: str, key: ThreadKey | None = None) -> bytes:
        return await self.read_image(await self.kept_image(key, image_id), key)

    async def read_image(self, record: ImageRecord, key: ThreadKey | None = None) -> bytes:
        """The (megabytes of) file from a worker thread, so the loop and the db thread stay free. (How many are held
        at once for uploads is bounded at the edge: handlers/delivery/uploads.py's UploadRoom.)"""
        try:
            return await asyncio.to_thread(self.store.files.get, record.path)
        except FileNotFoundError:
            log.warning("image %s is recorded but its file %s is missing", record.id, record.path)
            raise ImagePruned(label=await self._label(key, record.id), days=None) from None

    async def kept_image(self, key: ThreadKey | None, image_id: str) -> ImageRecord:
        """The image's record; refused (with words for the user) if retention has removed its file."""
        record = await self.io(self.store.get_image, image_id)
        if record.pruned_at is not None:
            raise ImagePruned(label=await self._label(key, record.id), days=self.settings.retention_days)
        return record

    async def _label(self, key: ThreadKey | None, image_id: str) -> str | None:
        row = await self.io(self.store.version_of, key, image_id) if key is not None else None
        return str(row["label"]) if row else None

    async def use_upload(self, key: ThreadKey, image: InputImage) -> str:
        """Make an uploaded image the thread's context for the next edit (no API call, nothing billed); it gets
        the next version label, which is returned."""
        record = await self.save_image(image.data, image.format, origin="upload", key=key, width=image.width,
                                       height=image.height)
        [label] = await self.io(self.store.add_versions, key, [record.id], parent_image_id=None, job_id=None)
        await self.io(self.store.set_last_image, key, record.id)
        return label

    # versions: moving the context needs no API call ---------------------------------------------------
    async def current_version(self, key: ThreadKey) -> str | None:
        """The label of the image the next edit starts from (None before the thread has one)."""
        return await self.io(self.store.next_edit_label, key)

    async def use_version(self, key: ThreadKey, label: str) -> str:
        row = await self.io(self.store.version, key, label)
        if row is None:
            raise InvalidOption(f"This thread has no {label}. {await self._known(key)}")
        await self.kept_image(key, row["image_id"])
        await self.io(self.store.set_last_image, key, row["image_id"])
        return str(row["label"])

    async def undo(self, key: ThreadKey) -> str:
        """Back to the image the current one was made from."""
        thread = await self.get_thread(key)
        current = await self.io(self.store.version_of, key, thread.last_image_id) if thread and \
            thread.last_image_id else None
        if current is None or not current["parent_image_id"]:
            raise InvalidOption("There is nothing to undo: the current image was not made from another one.")
        parent = await self.io(self.store.version_of, key, current["parent_image_id"])
        await self.kept_image(key, current["parent_image_id"])
        await self.io(self.store.set_last_image, key, current["parent_image_id"])
        return str(parent["label"]) if parent else "the previous image"

    async def use_output(self, key: ThreadKey, index: int) -> str:
        """Pick another output of the call that made the current image (v3a → v3b)."""
        thread = await self.get_thread(key)
        current = await self.io(self.store.version_of, key, thread.last_image_id) if thread and \
            thread.last_image_id else None
        if current is None:
            raise NoImageYet()
        siblings = [r for r in await self.io(self.store.versions, key) if r["number"] == current["number"]]
        if len(siblings) < 2 or not 0 <= index < len(siblings):
            raise InvalidOption(f"{current['label']} is the only image of its request. {await self._known(key)}")
        await self.kept_image(key, siblings[index]["image_id"])
        await self.io(self.store.set_last_image, key, siblings[index]["image_id"])
        return str(siblings[index]["label"])

    async def base_record(self, key: ThreadKey, base: str | None) -> ImageRecord | None:
        """The image an edit would start from: version `base`, or the thread's current image."""
        if base:
            image_id: str | None = await self.version_image(key, base)
        else:
            thread = await self.get_thread(key)
            image_id = thread.last_image_id if thread else None
        if not image_id:
            return None
        return await self.kept_image(key, image_id)  # refused before any estimate or confirmation

    async def version_image(self, key: ThreadKey, label: str) -> str:
        row = await self.io(self.store.version, key, label)
        if row is None:
            raise InvalidOption(f"This thread has no {label}. {await self._known(key)}")
        return str(row["image_id"])

    async def _known(self, key: ThreadKey) -> str:
        labels = [r["label"] for r in await self.io(self.store.versions, key)]
        return f"Versions here: {', '.join(labels)}." if labels else "It has no images yet."
