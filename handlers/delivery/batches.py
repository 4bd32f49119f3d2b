"""What happens in Slack for `/image batch` (bot/usecases/batches.py has the batch's life):

- the request's job (kind `batch`) reads the prompts (the command's lines, or an attached TXT or CSV), asks the
  core for the estimate and posts the batch's card with Submit and Cancel;
- Submit sends it (the asker only; budgets checked first), Cancel declines it; `cancel` in its thread stops it;
- the poller (bot/runtime/batch_poller.py) tells this edge how it stands (the card's status line) and, once it has
  ended, what it made: each prompt's images in the card's thread, with the prompt and its cost at batch prices,
  the prompts that failed with their reasons, then a summary.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.errors import ImagebotError, UserInputError
from bot.models import ImageOptions
from bot.providers.batches import BatchInfo
from bot.rules.batch_lines import BatchLine, check_count, lines_of_file, lines_of_text, names_model
from bot.runtime.jobs import Outcome
from bot.runtime.services import Services
from bot.usecases.batches import Batches, Finished
from handlers.delivery import uploads
from handlers.ui import batches as ui
from handlers.ui.errors import explain, invite_hint
from handlers.workspaces import Workspaces
from storage.records import BatchRecord, JobRecord, ThreadKey

log = logging.getLogger(__name__)
Tell = Callable[[JobRecord, str], Awaitable[None]]
ONLY_ASKER = "Only the person who asked for this batch can submit, cancel or stop it."


def batch_payload(text: str, attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"text": text, "attachments": attachments or []}


class BatchDelivery:
    def __init__(self, services: Services, workspaces: Workspaces, batches: Batches, *, tell: Tell) -> None:
        self.services, self.images, self.batches = services, services.images, batches
        self.tell = tell  # privately to a job's user (Delivery's: its response_url, else ephemeral)
        self.workspaces = workspaces
        self.slack = workspaces.client
        self.room = uploads.UploadRoom()

    # the request: read it, post the card -------------------------------------------------------------------------
    async def run(self, job: JobRecord) -> Outcome:
        try:
            model, lines = await self._read(job)
        except UserInputError as error:
            await self._say(job.team_id, job.channel_id, job.thread_ts or job.message_ts, explain(error))
            return Outcome("failed", error_code=getattr(error, "code", "invalid"), error_message=str(error))
        batch, usual = await self.batches.ask(job.team_id, job.channel_id, job.user_id, model, lines)
        text, blocks = self._card(batch, usual, ui.STATES["asked"], ask=True)
        client = await self.slack(job.team_id)
        try:  # top-level, also for a DM or a mention with a file: the card's own thread holds the results
            posted = await client.chat_postMessage(channel=job.channel_id, text=text, blocks=blocks)
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error")
            await self.tell(job, f":warning: I could not post the batch in this channel (`{code}`).{invite_hint(code)}")
            await self.batches.decline(batch.id)
            return Outcome("failed", error_code="not_announced", error_message=f"Slack refused the card: {code}")
        await self.batches.posted(batch.id, str(posted["ts"]), str(posted.get("channel") or job.channel_id))
        return Outcome("done", result={"batch_id": batch.id})

    async def _read(self, job: JobRecord) -> tuple[str, list[BatchLine]]:
        """The batch's prompts: the text's lines, then those of its first TXT or CSV attached."""
        text = job.payload.get("text") or ""
        files = [a for a in job.payload.get("attachments") or []
                 if str(a.get("name", "")).lower().endswith((".csv", ".txt"))]
        choices = self.images.choices()
        options, lines = lines_of_text(text, self.images.default_options, choices, file=bool(files))
        for item in files[:1]:
            data = await self.services.files.download(item["url"], name=item["name"],
                                                      token=await self.workspaces.token(job.team_id))
            lines = [*lines, *lines_of_file(item["name"], data, options, choices)]
        check_count(len(lines))
        model = self.batches.model_for(options, chosen=names_model(text))
        return model, lines

    def _card(self, batch: BatchRecord, usual: int | None, status: str, *,
              ask: bool = False) -> tuple[str, list[dict[str, Any]]]:
        prompts = [r["prompt"] for r in batch.requests]
        return ui.build_batch_card(batch.user_id, prompts, batch.model, batch.estimate_micro, usual, status, batch.id,
                                   ask=ask)

    async def _update(self, batch: BatchRecord, status: str, *, ask: bool = False) -> None:
        if batch.thread_ts is None:
            return
        usual = self.batches.batch_estimate([BatchLine(r["prompt"], ImageOptions(**r["options"]))
                                             for r in batch.requests])[1]
        text, blocks = self._card(batch, usual, status, ask=ask)
        try:
            await (await self.slack(batch.team_id)).chat_update(channel=batch.channel_id, ts=batch.thread_ts,
                                                               text=text, blocks=blocks)
        except SlackApiError as error:
            log.warning("could not update batch %s's card: %s", batch.id, error.response.get("error"))

    # the asker's answers -----------------------------------------------------------------------------------------
    async def submit(self, batch_id: int, user_id: str) -> None:
        batch = await self.batches.get(batch_id)
        if batch is None or batch.key is None:
            return
        if not await self._the_asker(batch, user_id):
            return
        try:
            sent = await self.batches.submit(batch)
        except ImagebotError as error:
            now = await self.batches.get(batch_id)
            if now is not None and (now.summary or {}).get("stuck"):  # OpenAI may or may not have it
                await self.stuck(now, restarted=False)
            else:
                await self._say(batch.team_id, batch.channel_id, batch.thread_ts, explain(error))
            return
        if sent is not None:
            await self._update(sent, ui.STATES["validating"])
            if self.services.batch_poller is not None:
                self.services.batch_poller.wake()

    async def decline(self, batch_id: int, user_id: str) -> None:
        batch = await self.batches.get(batch_id)
        if batch is None:
            return
        if not await self._the_asker(batch, user_id):
            return
        if await self.batches.decline(batch_id):
            await self._update(batch, ui.STATES["declined"])

    async def cancel(self, batch: BatchRecord, user_id: str) -> None:
        """`cancel` in the batch's thread."""
        if not await self._the_asker(batch, user_id):
            return
        try:
            remote = await self.batches.cancel(batch)
        except ImagebotError as error:
            await self._say(batch.team_id, batch.channel_id, batch.thread_ts, explain(error))
            return
        if remote is None:
            await self._say(batch.team_id, batch.channel_id, batch.thread_ts,
                            "This batch is not running, so there is nothing to cancel.")
            return
        await self._say(batch.team_id, batch.channel_id, batch.thread_ts,
                        ":no_entry_sign: Cancelling the batch: whatever OpenAI made by now is still posted here.")
        await self._update(batch, ui.STATES["cancelling"])
        if self.services.batch_poller is not None:
            self.services.batch_poller.wake()

    # the poller's news (BatchEdge) -------------------------------------------------------------------------------
    async def progress(self, batch: BatchRecord, remote: BatchInfo) -> None:
        if remote.status != batch.remote_status and remote.status in ui.STATES:
            counts = f" ({remote.completed + remote.failed}/{remote.total} done)" if remote.total else ""
            await self._update(batch, ui.STATES[remote.status] + counts)

    async def finished(self, finished: Finished) -> None:
        batch = finished.batch
        key = batch.key
        if key is None:
            return
        total = len(finished.lines)
        for line in finished.lines:
            if line.images:
                comment = ui.result_comment(line.number, total, line.prompt, line.cost_micro, line.options.size,
                                            line.options.quality)
                await self._post_images(key, [r.id for r in line.images], line.prompt, comment)
        failed = [line for line in finished.lines if line.error]
        if failed:
            await self._say(key.team_id, key.channel_id, key.thread_ts, "\n".join(
                ui.failed_line(line.number, total, line.prompt, line.error or "") for line in failed[:40]))
        made = sum(1 for line in finished.lines if line.images)
        unknown = sum(1 for line in finished.lines if line.images and line.cost_micro is None)
        summary = ui.summary_text(made, len(failed), finished.total_micro, finished.how, unknown_cost=unknown)
        if finished.error:
            summary += f" OpenAI said: {finished.error}"
        if self.images.provider.provider == "offline":  # the sandbox's Batch API: priced, never billed
            summary += " (offline: nothing billed)"
        await self._say(key.team_id, key.channel_id, key.thread_ts, summary)
        await self._update(batch, summary)

    async def stuck(self, batch: BatchRecord, *, restarted: bool = True) -> None:
        why = ("imagebot restarted while sending this batch" if restarted
               else "OpenAI did not answer when asked to start this batch")
        text = (f":warning: {why}, so imagebot cannot tell whether OpenAI has it. Look at "
                "https://platform.openai.com/batches before asking again: imagebot does not send a batch twice on "
                "its own. Until then its estimate is counted as spent (it may have been billed).")
        await self._say(batch.team_id, batch.channel_id, batch.thread_ts, text)
        await self._update(batch, ":warning: Not known whether OpenAI has this batch: see the thread.")

    async def gave_up(self, batch: BatchRecord, reason: str) -> None:
        await self._say(batch.team_id, batch.channel_id, batch.thread_ts,
                        f":x: {reason}. Its estimate stays counted as spent (it may have been billed); OpenAI's "
                        "batch list (https://platform.openai.com/batches) has its files.")
        await self._update(batch, ":x: Its results could not be read: see the thread.")

    async def _post_images(self, key: ThreadKey, image_ids: list[str], prompt: str, comment: str) -> None:
        async with contextlib.AsyncExitStack() as held:
            files = await uploads.files_of(self.images, {"image_ids": image_ids, "title": prompt}, self.room, held)
            made = await uploads.send_files(self.slack, key, files, comment)
        if made is None:
            await self._say(key.team_id, key.channel_id, key.thread_ts,
                            f":warning: Slack refused the upload of “{prompt[:200]}”; its images are kept.")

    async def _say(self, team_id: str, channel_id: str, thread_ts: str | None, text: str) -> None:
        try:
            await (await self.slack(team_id)).chat_postMessage(channel=channel_id, thread_ts=thread_ts, text=text)
        except SlackApiError as error:
            log.warning("could not post about a batch in %s: %s", channel_id, error.response.get("error"))

    async def _the_asker(self, batch: BatchRecord, user_id: str) -> bool:
        """Whether `user_id` asked for the batch; anyone else is told, privately, that only they can act on it."""
        if user_id == batch.user_id:
            return True
        await self._tell(batch, user_id, ONLY_ASKER)
        return False

    async def _tell(self, batch: BatchRecord, user_id: str, text: str) -> None:
        try:
            await (await self.slack(batch.team_id)).chat_postEphemeral(channel=batch.channel_id, user=user_id,
                                                                      text=text, thread_ts=batch.thread_ts)
        except SlackApiError as error:
            log.warning("could not tell %s privately: %s", user_id, error.response.get("error"))
