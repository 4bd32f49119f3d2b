"""The status message in a job's thread while its image is made and posted: the elapsed time, and each streamed
preview (IMAGEBOT_PARTIAL_IMAGES) as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.models import PartialImage
from bot.runtime.jobs import Outcome
from handlers.ui import blocks
from storage.records import ThreadKey

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What the status message needs from the work it watches: where previews go (`on_partial`), and whether the
    image was posted (set through `ended`, so an error on the way leaves it False)."""

    client: AsyncWebClient
    key: ThreadKey
    posted: bool = False
    started: float = field(default_factory=time.monotonic)
    _ts: str | None = None  # the status message, once posted

    def ended(self, outcome: Outcome) -> Outcome:
        self.posted = outcome.status == "done"
        return outcome

    @property
    def seconds(self) -> int:
        return round(time.monotonic() - self.started)

    async def show(self, text: str, preview: str | None = None) -> None:
        message_blocks = blocks.build_progress(text, preview)
        try:
            if self._ts is None:
                posted = await self.client.chat_postMessage(channel=self.key.channel_id, thread_ts=self.key.thread_ts,
                                                            text=text, blocks=message_blocks)
                self._ts = posted["ts"]
            else:
                await self.client.chat_update(channel=self.key.channel_id, ts=self._ts, text=text,
                                              blocks=message_blocks)
        except SlackApiError as error:  # progress is a courtesy: never a reason to fail the request
            log.info("progress update failed: %s", error.response.get("error"))

    async def on_partial(self, partial: PartialImage) -> None:
        upload = await self.client.files_upload_v2(  # no channel: a private file the message can show
            file=partial.data, filename=f"preview-{partial.index + 1}.{partial.format}", title="preview")
        await self.show(f":eyes: Preview {partial.index + 1}…", upload["file"]["id"])

    async def finish(self) -> None:
        if self._ts is not None:
            await self.show(f":white_check_mark: Finished in {self.seconds} s: the image is below." if self.posted
                            else f":warning: No image after {self.seconds} s: see below.")


@contextlib.asynccontextmanager
async def show_progress(slack: Callable[[str], Awaitable[AsyncWebClient]], key: ThreadKey,
                        interval: float) -> AsyncIterator[Progress]:
    """While the image is made and posted: a status message in the thread that shows the elapsed time (updated every
    `interval` seconds, well inside chat.update's rate limit) and, when previews stream in, each preview as it
    arrives. It ends saying the image is below only when the image was posted (`Progress.ended` with a done
    outcome); otherwise — an error, a refused upload, a shutdown — that there is no image, and the message saying
    why follows it."""
    started = time.monotonic()
    status = Progress(await slack(key.team_id), key, started=started)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(interval)
            await status.show(f":hourglass_flowing_sand: Working… {status.seconds} s")

    task = asyncio.get_running_loop().create_task(ticker())
    try:
        yield status
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await status.finish()
