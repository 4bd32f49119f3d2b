"""What the Slack edge reads and records around posting a job, so that it never calls storage itself: the card's
thread, what it posted (the card's last blocks, the files that show each image:
kept so the card changes without reading the thread back), and where a workspace's notices go."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from bot.errors import StorageUnavailable
from bot.usecases.image_service import ImageService
from storage.faults import unavailable
from storage.records import PostedFile, ThreadKey

log = logging.getLogger(__name__)


async def attach_card(images: ImageService, job_id: int, key: ThreadKey, *, user_id: str, prompt: str) -> None:
    """A generate job's card is posted: its thread starts, and the job is linked to it, in one transaction (a job
    is never linked to a card whose thread is unknown, nor the reverse)."""
    await images.io(images.store.attach_thread, job_id, key, created_by=user_id, prompt=prompt)


async def _keep(images: ImageService, what: str, write: Callable[..., None], *args: Any) -> None:
    """Record what was posted. A database that cannot take it now (full, failing, locked) fails nothing: what is
    posted is posted, and the card only cannot follow it later."""
    try:
        await images.io(write, *args)
    except Exception as error:
        if not (isinstance(error, StorageUnavailable) or unavailable(error)):
            raise
        log.warning("could not keep %s: %s", what, error)


async def remember_card(images: ImageService, key: ThreadKey, text: str, blocks: list[dict[str, Any]]) -> None:
    """The thread's card now reads `text` / `blocks`, as posted."""
    await _keep(images, f"the card {key.thread_ts}", images.store.remember_card, key, text, blocks)


async def posted_card(images: ImageService, key: ThreadKey) -> tuple[str, list[dict[str, Any]]] | None:
    """The text and blocks the thread's card was last posted with; None if no card was posted there."""
    return await images.io(images.store.posted_card, key)


async def remember_files(images: ImageService, key: ThreadKey, files: Sequence[PostedFile]) -> None:
    """The Slack files an upload made in the thread, each for the stored image it shows."""
    if files:
        await _keep(images, f"the files of {key.thread_ts}", images.store.remember_files, key, list(files))


async def file_for(images: ImageService, key: ThreadKey, image_id: str | None) -> str | None:
    """The Slack file that draws stored image `image_id` in the thread (the newest); None when there is none."""
    return None if image_id is None else await images.io(images.store.drawn_file, key, image_id)


async def report_channel(images: ImageService, team_id: str, *, fallback: str | None) -> str | None:
    """Where a workspace's reports and notices go: the channel its admins chose, else `fallback`."""
    chosen = await images.io(images.store.team_report_channel, team_id)
    return chosen or fallback
