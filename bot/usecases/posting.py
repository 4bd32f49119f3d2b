"""What the Slack edge reads and records around posting a job, so that it never calls storage itself: the card's
thread, the stored images it uploads, and where a workspace's notices go."""

from __future__ import annotations

from bot.usecases.image_service import ImageService
from storage.records import ImageRecord, ThreadKey


async def attach_card(images: ImageService, job_id: int, key: ThreadKey, *, user_id: str, prompt: str) -> None:
    """A generate job's card is posted: its thread starts, and the job is linked to it, in one transaction (a job
    is never linked to a card whose thread is unknown, nor the reverse)."""
    await images.io(images.store.attach_thread, job_id, key, created_by=user_id, prompt=prompt)


async def stored_image(images: ImageService, image_id: str) -> tuple[ImageRecord, bytes]:
    """A stored image's record and bytes, to upload; ImagePruned when retention has removed its file."""
    record = await images.io(images.store.get_image, image_id)
    return record, await images.image_bytes(image_id)


async def report_channel(images: ImageService, team_id: str, *, fallback: str | None) -> str | None:
    """Where a workspace's reports and notices go: the channel its admins chose, else `fallback`."""
    chosen = await images.io(images.store.team_report_channel, team_id)
    return chosen or fallback
