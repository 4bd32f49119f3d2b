"""What happens in Slack for a job: the card, the work, the images in the thread, the footnote.

`Flows` is the job queue's handler (bot/runtime/jobs.py `JobHandler`): it announces a job at once (a card for
/image, a reaction for a reply), runs it when the queue gives it a slot, and tells the user when a restart
cut it short. Every request ends in an image or in a message that says why not: expected errors (the error
tree) are explained where the user will see them; unexpected ones still tell the user something went wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.errors import AttachmentError, ImagebotError, ModelUnavailable
from bot.images import imaging
from bot.images.regions import (
    build_mask,
    check_markup,
    check_user_mask,
    draw_grid,
    is_markup_name,
    is_mask_name,
    parse_region_reply,
)
from bot.models import ImageOptions, InputImage, PartialImage
from bot.money.pricing import format_usd
from bot.providers.image_api import OnPartial
from bot.rules.options import parse_command
from bot.rules.replies import Edit, ShowGrid, Undo, UseOutput, UseVersion, parse_reply
from bot.runtime.jobs import Outcome
from bot.runtime.services import Services
from bot.usecases.image_service import Delivered, NoImageYet
from handlers.ui import blocks
from handlers.ui.errors import budget_owner, explain
from handlers.ui.modals import build_confirmation, build_grid_message, build_result_actions
from handlers.workspaces import Workspaces
from storage.store import JobRecord, ThreadKey

log = logging.getLogger(__name__)
WORKING_REACTION = "hourglass_flowing_sand"
RUN_AGAIN_ACTION = "imagebot_run_again"
UPLOAD_AGAIN_ACTION = "imagebot_upload_again"


@dataclass(frozen=True)
class Attachment:
    id: str
    name: str
    url: str
    size: int | None
    mimetype: str


def generate_payload(prompt: str, options: ImageOptions, *, card: bool = True) -> dict[str, Any]:
    return {"prompt": prompt, "options": dataclasses.asdict(options), "card": card}


def edit_payload(text: str, attachments: Sequence[Attachment]) -> dict[str, Any]:
    return {"text": text, "attachments": [dataclasses.asdict(a) for a in attachments]}


def _has_card(job: JobRecord) -> bool:
    """/image posts a card whose thread holds the images; a DM's request uses the message's own thread."""
    return job.kind == "generate" and job.payload.get("card", True)


def _key(job: JobRecord) -> ThreadKey:
    assert job.thread_ts, f"job {job.id} has no thread yet"
    return ThreadKey(job.team_id, job.channel_id, job.thread_ts)


@dataclass
class _Progress:
    """What the status message needs from the work it watches: where previews go, and whether the image was
    posted (set through `ended`, so an error on the way leaves it False)."""

    on_partial: OnPartial
    posted: bool = False

    def ended(self, outcome: Outcome) -> Outcome:
        self.posted = outcome.status == "done"
        return outcome


class Flows:
    def __init__(self, services: Services, workspaces: Workspaces, *, progress_interval: float = 20.0) -> None:
        self.services = services
        self.images = services.images
        self.workspaces = workspaces
        self.slack = workspaces.client  # `await self.slack(team_id)`: a Web API client with that workspace's token
        self.progress_interval = progress_interval  # seconds between elapsed-time updates

    # announce ----------------------------------------------------------------------------------------
    async def announce(self, job: JobRecord, ahead: int | None) -> JobRecord | None:
        if _has_card(job):
            return await self._announce_card(job, ahead)
        # A reply (or a DM): progress is a reaction on the user's own message; results go in its thread.
        await self._react(job, add=True)
        if ahead:
            await self._say(_key(job), blocks.status_queued(ahead))
        return job

    async def _announce_card(self, job: JobRecord, ahead: int | None) -> JobRecord | None:
        status = blocks.status_working() if ahead is None else blocks.status_queued(ahead)
        if job.thread_ts:  # run again, or a queued job resumed after a restart: the card is there already
            await self._update_card(job, status)
            return job
        text, card = blocks.build_card(job.user_id, job.payload["prompt"], self._options(job), status)
        try:
            posted = await (await self.slack(job.team_id)).chat_postMessage(channel=job.channel_id, text=text,
                                                                            blocks=card)
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error")
            hint = " Invite me with `/invite @imagebot` and try again." if code in (
                "not_in_channel", "channel_not_found") else ""
            await self._tell_privately(job, f":warning: I could not post in this channel (`{code}`).{hint}")
            return None
        job = dataclasses.replace(job, thread_ts=posted["ts"])
        # One transaction: a job is never linked to a card whose thread is unknown, nor the reverse.
        await self.images.io(self.images.store.attach_thread, job.id, _key(job), created_by=job.user_id,
                             prompt=job.payload["prompt"])
        return job

    # run ---------------------------------------------------------------------------------------------
    async def run(self, job: JobRecord) -> Outcome:
        try:
            if job.kind == "generate":
                return await self._generate(job)
            return await self._edit(job)
        except ImagebotError as error:
            reason = explain(error, model=self._options(job).model if job.kind == "generate" else None)
            if isinstance(error, ModelUnavailable):
                live = ", ".join(f"`{m}`" for m in self.images.choices().models[:5])
                reason += f" Live models: {live}." if live else ""
                await self._model_gone(error.model or self._options(job).model, job.team_id)
            await self._say(_key(job), reason)
            if job.kind == "generate":
                await self._update_card(job, blocks.status_failed(reason))
            return Outcome("failed", error_code=getattr(error, "code", type(error).__name__), error_message=reason)
        except Exception:
            await self._say(_key(job), ":warning: Something went wrong on my side; the error is logged.")
            if job.kind == "generate":
                await self._update_card(job, blocks.status_failed("Failed: an internal error."))
            raise
        finally:
            if not _has_card(job):
                await self._react(job, add=False)

    async def _costly(self, job: JobRecord, options: ImageOptions, prompt: str,
                      inputs: tuple[tuple[int, int], ...] = ()) -> Outcome | None:
        """Above IMAGEBOT_CONFIRM_ABOVE_USD, ask first: the estimate with Generate / Cancel; nothing is spent."""
        threshold = self.services.settings.confirm_above_micro
        if threshold is None or job.payload.get("confirmed"):
            return None
        # Priced as it will be sent: the channel's policy and a shut-down model's replacement applied first, and a
        # request that can never be made refused rather than asked about.
        options, _ = await self.images.prepare(_key(job), options)
        self.images.check_inputs(options, len(inputs))
        estimate = self.images.estimate(options, prompt, inputs)
        if estimate is None or estimate <= threshold:
            return None
        summary = f"{options.n} × {options.model} {options.size} {options.quality}: “{prompt[:200]}”"
        confirmation = build_confirmation(estimate, summary, str(job.id), caveats=self.images.estimate_caveats(options))
        await self._post(job, f"This will cost about {format_usd(estimate)}. Generate?", confirmation, thread=True)
        await self._update_card(job, f":moneybag: Waiting for <@{job.user_id}> to confirm about "
                                     f"{format_usd(estimate)}.")
        return Outcome("done", error_code="awaiting_confirmation", result={"estimate_micro": estimate})

    async def _generate(self, job: JobRecord) -> Outcome:
        options = self._options(job)
        if (waiting := await self._costly(job, options, job.payload["prompt"])) is not None:
            return waiting
        await self._update_card(job, blocks.status_working())
        async with self._progress(job) as progress:
            delivered = await self.images.generate(_key(job), job.user_id, job.payload["prompt"], options,
                                                   job_id=job.id, on_partial=progress.on_partial)
            outcome = progress.ended(await self._deliver(job, delivered, title=job.payload["prompt"]))
        status = (blocks.status_done(len(delivered.images), delivered.cost_micro, delivered.result.provider)
                  if outcome.status == "done"
                  else blocks.status_failed("Made, but Slack refused the upload: see the thread."))
        await self._update_card(job, status)
        return outcome

    async def _edit(self, job: JobRecord) -> Outcome:
        key = _key(job)
        thread = await self.images.get_thread(key)
        raw = [Attachment(**a) for a in job.payload.get("attachments", [])]
        attachments = await self._fetch(job.team_id, raw)
        prompt_text = job.payload.get("text", "").strip()
        if not prompt_text and attachments:
            # An image with no words: it becomes the picture the next edit starts from; nothing is billed.
            image, change = attachments[-1]
            label = await self.images.use_upload(key, image)
            note = f" ({blocks.escape(change)})" if change else ""
            await self._say(key, f":frame_with_picture: Got {blocks.escape(image.name)}{note}: it is {label} now. "
                                 "Reply with what to change and I will edit it.")
            return Outcome("done", result={"context": label})
        command = parse_reply(prompt_text) if not attachments else Edit(prompt_text)
        if isinstance(command, Undo | UseVersion | UseOutput):
            # Moving the context: no image API call, nothing billed.
            if isinstance(command, Undo):
                label = await self.images.undo(key)
                text = f":leftwards_arrow_with_hook: Undone: the next edit uses {label}."
            elif isinstance(command, UseVersion):
                label = await self.images.use_version(key, command.label)
                text = f":point_right: The next edit uses {label}."
            else:
                label = await self.images.use_output(key, command.index)
                text = f":point_right: The next edit uses {label}."
            await self._say(key, text)
            return Outcome("done", result={"context": label})
        if isinstance(command, ShowGrid):
            return await self._grid(key)
        has_image = thread is not None and thread.last_image_id is not None
        region, text = parse_region_reply(command.text)
        # An attachment named mask*.png is the user's own mask for the base image, markup*.png marks drawn over it
        # (arrows, circles, notes) for models that read markup; the rest are references.
        masks = [a for a, item in zip(attachments, raw, strict=True) if is_mask_name(item.name)]
        markups = [a for a, item in zip(attachments, raw, strict=True) if is_markup_name(item.name)]
        references = [a for a, item in zip(attachments, raw, strict=True)
                      if not is_mask_name(item.name) and not is_markup_name(item.name)]
        defaults = await self.images.edit_defaults(key, references[0][0] if references and not has_image else None)
        parsed = parse_command(text, defaults, self.images.choices())
        mask, markup, notes = None, None, []
        if markups and (masks or region is not None):
            raise AttachmentError("A reply takes a mask (or a region) or markup, not both: the image API reads one "
                                  "or the other. Send them in two replies.")
        if parsed.options.input_fidelity == "high":
            notes.append("high input fidelity: the inputs cost more input image tokens")
        if region is not None or masks:
            base = await self.images.base_record(key, command.base)
            if base is None:
                raise NoImageYet()
            if masks:
                image, _ = masks[0]
                mask = await asyncio.to_thread(check_user_mask, image.data, base.width or 0, base.height or 0,
                                               image.name)
                notes.append(f"edited where {image.name} is transparent")
            else:
                assert region is not None
                # A region is sent as a mask even to models that read markup: a mask bounds the change to the
                # cells asked for, where a drawn box is only guidance and could be painted into the picture.
                mask = await asyncio.to_thread(build_mask, region, base.width or 0, base.height or 0)
                notes.append(f"edited region {region.name}")
        if markups:
            base = await self.images.base_record(key, command.base)
            if base is None:
                raise NoImageYet()
            image, _ = markups[0]
            markup = await asyncio.to_thread(check_markup, image.data, base.width or 0, base.height or 0,
                                             image.name)
            notes.append(f"following the marks in {image.name}")
        base_image = await self.images.base_record(key, command.base)
        dims = ((base_image.width or 1024, base_image.height or 1024),) if base_image else ()
        dims += tuple((image.width, image.height) for image, _ in references)
        if (waiting := await self._costly(job, parsed.options, parsed.prompt, dims)) is not None:
            return waiting
        async with self._progress(job) as progress:
            delivered = await self.images.edit(key, job.user_id, parsed.prompt, parsed.options, references,
                                               job_id=job.id, base=command.base, mask=mask, markup=markup,
                                               on_partial=progress.on_partial)
            return progress.ended(await self._deliver(job, delivered, title=parsed.prompt, notes=tuple(notes)))

    @contextlib.asynccontextmanager
    async def _progress(self, job: JobRecord) -> AsyncIterator[_Progress]:
        """While the image is made and posted: a status message in the thread that shows the elapsed time (updated
        every `progress_interval` seconds, well inside chat.update's rate limit) and, when previews stream in
        (IMAGEBOT_PARTIAL_IMAGES), each preview as it arrives. It ends saying the image is below only when the
        image was posted (`_Progress.ended` with a done outcome); otherwise — an error, a refused upload, a
        shutdown — that there is no image, and the message saying why follows it."""
        key = _key(job)
        started = time.monotonic()
        status: dict[str, str] = {}
        client = await self.slack(job.team_id)

        async def show(text: str, preview: str | None = None) -> None:
            message_blocks = blocks.build_progress(text, preview)
            try:
                if "ts" not in status:
                    posted = await client.chat_postMessage(channel=key.channel_id, thread_ts=key.thread_ts,
                                                           text=text, blocks=message_blocks)
                    status["ts"] = posted["ts"]
                else:
                    await client.chat_update(channel=key.channel_id, ts=status["ts"], text=text,
                                             blocks=message_blocks)
            except SlackApiError as error:  # progress is a courtesy: never a reason to fail the request
                log.info("progress update failed: %s", error.response.get("error"))

        async def ticker() -> None:
            while True:
                await asyncio.sleep(self.progress_interval)
                await show(f":hourglass_flowing_sand: Working… {round(time.monotonic() - started)} s")

        async def on_partial(partial: PartialImage) -> None:
            upload = await client.files_upload_v2(  # no channel: a private file the message can show
                file=partial.data, filename=f"preview-{partial.index + 1}.{partial.format}", title="preview")
            await show(f":eyes: Preview {partial.index + 1}…", upload["file"]["id"])

        progress = _Progress(on_partial)
        task = asyncio.get_running_loop().create_task(ticker())
        try:
            yield progress
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if "ts" in status:
                seconds = round(time.monotonic() - started)
                await show(f":white_check_mark: Finished in {seconds} s: the image is below." if progress.posted
                           else f":warning: No image after {seconds} s: see below.")

    async def _grid(self, key: ThreadKey) -> Outcome:
        """The current image with a labelled 4x4 grid, drawn on a copy, for region edits (no API call)."""
        record = await self.images.base_record(key, None)
        if record is None:
            raise NoImageYet()
        grid = await asyncio.to_thread(draw_grid, await self.images.read_image(record, key))
        version = await self.images.current_version(key) or "the current image"
        try:
            client = await self.slack(key.team_id)
            await client.files_upload_v2(channel=key.channel_id, thread_ts=key.thread_ts, file=grid,
                                         filename=f"grid-{version}.png", title=f"Grid over {version}",
                                         initial_comment=build_grid_message(version))
        except (SlackClientError, aiohttp.ClientError, OSError) as error:
            log.warning("grid upload failed: %s", error)
            await self._say(key, ":warning: Slack refused the grid image; try again in a moment.")
        return Outcome("done", result={"grid": version})

    async def _fetch(self, team_id: str, attachments: Sequence[Attachment]) -> list[tuple[InputImage, str | None]]:
        prepared = []
        for item in attachments:
            if item.size is not None and item.size > 50 * 1024 * 1024:
                raise AttachmentError(f"{item.name} is over the 50 MB limit.", filename=item.name)
            data = await self.services.files.download(item.url, name=item.name,
                                                       token=await self.workspaces.token(team_id))
            prepared.append(await self.images.prepare_attachment(data, item.name))
        return prepared

    # interrupted -------------------------------------------------------------------------------------
    async def interrupted(self, job: JobRecord) -> None:
        text = (":warning: This request was interrupted by a restart before it finished. It may already have "
                "been billed, so I have not run it again on my own.")
        notice = blocks.build_notice(text, button=("Run it again", RUN_AGAIN_ACTION, str(job.id)))
        if job.thread_ts:
            await self._post(job, text, notice, thread=True)
            await self._update_card(job, blocks.status_failed("Interrupted by a restart: see the thread."))
            if not _has_card(job):
                await self._react(job, add=False)
        else:
            await self._tell_privately(job, text, notice)

    # Slack output ------------------------------------------------------------------------------------
    async def _deliver(self, job: JobRecord, delivered: Delivered, *, title: str,
                       notes: tuple[str, ...] = ()) -> Outcome:
        """Upload the images into the thread with the cost footnote as their comment."""
        result = {"image_ids": [r.id for r in delivered.images], "cost_micro": delivered.cost_micro,
                  "comment": self._comment(delivered, notes), "title": title}
        await self._alert(job.team_id, delivered)
        if await self.upload(_key(job), result):
            await self._buttons(_key(job), delivered)
            return Outcome("done", result=result)
        text = (":warning: I made the image but Slack refused the upload. It is kept: press the button to try "
                "the upload again.")
        await self._post(job, text, blocks.build_notice(text, button=("Upload again", UPLOAD_AGAIN_ACTION,
                                                                      str(job.id))), thread=True)
        return Outcome("failed", error_code="upload_failed", error_message="Slack refused the upload",
                       result=result)

    async def _buttons(self, key: ThreadKey, delivered: Delivered) -> None:
        """Under each result: Retry, Undo, Use this one, Make it high quality, Variations."""
        actions = [build_result_actions(record.id, version, can_undo=bool(record.parent_id))
                   for record, version in zip(delivered.images, delivered.versions, strict=True)]
        try:
            client = await self.slack(key.team_id)
            await client.chat_postMessage(channel=key.channel_id, thread_ts=key.thread_ts,
                                          text=f"What next for {'/'.join(delivered.versions)}?", blocks=actions)
        except SlackApiError as error:  # the image is there; the buttons are a convenience
            log.warning("could not post the buttons: %s", error.response.get("error"))

    async def upload(self, key: ThreadKey, result: dict[str, Any]) -> bool:
        """Upload stored images (by id) into the thread. False if Slack refused."""
        ids = result["image_ids"]
        uploads = []
        for index, image_id in enumerate(ids, start=1):
            record = await self.images.io(self.images.store.get_image, image_id)
            suffix = "jpg" if record.format == "jpeg" else record.format
            data = await self.images.image_bytes(image_id)
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
        try:
            await (await self.slack(key.team_id)).files_upload_v2(
                file_uploads=uploads, channel=key.channel_id, thread_ts=key.thread_ts,
                initial_comment=result["comment"])
        except (SlackClientError, aiohttp.ClientError, OSError, ValueError) as error:
            # SlackApiError: a method said no; SlackRequestError: the byte upload to upload_url failed;
            # aiohttp / OS errors: the connection did.
            log.warning("upload refused by Slack: %s", getattr(error, "response", None) or error)
            return False
        return True

    def _comment(self, delivered: Delivered, notes: tuple[str, ...] = ()) -> str:
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
        comment = blocks.footnote_text(note)
        if delivered.result.partials:
            comment += f"\n_Includes {delivered.result.partials} streamed preview(s); previews are billed._"
        if delivered.converted:
            changes = "; ".join(blocks.escape(change) for change in delivered.converted)
            comment += f"\n_To suit the image API: {changes}_"
        return comment

    async def _alert(self, team_id: str, delivered: Delivered) -> None:
        """Budget marks crossed (80 %, 100 %): one message each, to the workspace's report channel."""
        for alert in delivered.alerts:
            budget = alert.budget
            await self.notify_team(team_id, blocks.budget_alert_text(
                budget_owner(budget.scope, budget.target), budget.period, alert.threshold, alert.spent_micro,
                budget.limit_micro))

    async def _model_gone(self, model: str, team_id: str) -> None:
        """The API said a model is gone: its workspace's admins hear it once (per model, across restarts)."""
        key = f"model-unavailable:{team_id}:{model}"
        if not await self.images.claim_notice(key):
            return
        text = (f":warning: The image API refused `{model}` as shut down or unknown, so requests for it fail (nothing "
                "is charged). Set IMAGEBOT_MODEL to a live model; `imagebot doctor` lists what the key can use.")
        if not await self.notify_team(team_id, text):
            await self.images.release_notice(key)

    async def notify_team(self, team_id: str, text: str) -> bool:
        """Post `text` (a budget alert, a model notice) to a workspace's report channel; False when there is none or
        Slack refused it (logged with the text, so it is not lost)."""
        channel = await self.report_channel(team_id)
        if channel is None:
            log.warning("admin notice (no report channel to post it to): %s", text)
            return False
        try:
            await (await self.slack(team_id)).chat_postMessage(channel=channel, text=text)
        except (SlackApiError, ImagebotError) as error:
            log.warning("could not post an admin notice to %s (%s): %s", team_id, error, text)
            return False
        return True

    async def notify_admins(self, text: str) -> bool:
        """Post `text` to every workspace's report channel (ModelWatch's notices); False when none took it."""
        posted = [await self.notify_team(team, text) for team in await self.workspaces.teams()]
        return any(posted)

    async def report_channel(self, team_id: str) -> str | None:
        """Where a workspace's reports and budget alerts go: the channel its admins chose with `/image-admin
        report-channel`, else (single workspace) IMAGEBOT_REPORT_CHANNEL."""
        chosen = await self.images.io(self.images.store.team_report_channel, team_id)
        if chosen:
            return chosen
        return None if self.workspaces.multi else self.services.settings.report_channel

    async def _say(self, key: ThreadKey, text: str) -> None:
        try:
            client = await self.slack(key.team_id)
            await client.chat_postMessage(channel=key.channel_id, thread_ts=key.thread_ts, text=text)
        except SlackApiError as error:
            log.warning("could not post in %s/%s: %s", key.channel_id, key.thread_ts, error.response.get("error"))

    async def _post(self, job: JobRecord, text: str, notice: list[dict[str, Any]], *, thread: bool) -> None:
        try:
            await (await self.slack(job.team_id)).chat_postMessage(
                channel=job.channel_id, thread_ts=job.thread_ts if thread else None, text=text, blocks=notice)
        except SlackApiError as error:
            log.warning("could not post a notice for job %s: %s", job.id, error.response.get("error"))

    async def tell(self, job_or_place: JobRecord | tuple[str, str, str, str | None], text: str) -> None:
        """A private message to a user (a refusal) where they asked: (team, channel, user, thread_ts) or a job."""
        if isinstance(job_or_place, JobRecord):  # the job cannot go on (JobHandler.tell): its card says so too
            await self._tell_privately(job_or_place, text)
            await self._update_card(job_or_place, blocks.status_failed(f"No image: {text}"))
            return
        team, channel, user, thread_ts = job_or_place
        try:
            client = await self.slack(team)
            await client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts)
        except SlackApiError as error:
            log.warning("could not tell %s privately: %s", user, error.response.get("error"))

    async def _tell_privately(self, job: JobRecord, text: str, notice: list[dict[str, Any]] | None = None) -> None:
        """Ephemeral: through the command's response_url when there is one (it works even where the bot may
        not post), else chat.postEphemeral."""
        if job.response_url:
            try:
                webhook = AsyncWebhookClient(job.response_url, timeout=30)
                response = await webhook.send(text=text, blocks=notice, response_type="ephemeral")
                if response.status_code == 200:
                    return
            except OSError as error:
                log.warning("response_url failed for job %s: %s", job.id, error)
        try:
            await (await self.slack(job.team_id)).chat_postEphemeral(
                channel=job.channel_id, user=job.user_id, text=text, blocks=notice, thread_ts=job.thread_ts)
        except SlackApiError as error:
            log.warning("could not tell %s privately: %s", job.user_id, error.response.get("error"))

    async def _update_card(self, job: JobRecord, status: str) -> None:
        if not _has_card(job):
            return
        text, card = blocks.build_card(job.user_id, job.payload["prompt"], self._options(job), status)
        try:
            await (await self.slack(job.team_id)).chat_update(channel=job.channel_id, ts=job.thread_ts, text=text,
                                                              blocks=card)
        except SlackApiError as error:
            log.warning("could not update the card %s: %s", job.thread_ts, error.response.get("error"))

    async def _react(self, job: JobRecord, *, add: bool) -> None:
        client = await self.slack(job.team_id)
        method = client.reactions_add if add else client.reactions_remove
        try:
            await method(channel=job.channel_id, timestamp=job.message_ts, name=WORKING_REACTION)
        except SlackApiError as error:  # a missing reaction is cosmetic, never a reason to fail the edit
            log.info("reaction %s failed: %s", "add" if add else "remove", error.response.get("error"))

    @staticmethod
    def _options(job: JobRecord) -> ImageOptions:
        return ImageOptions(**job.payload["options"])


def _title(prompt: str, index: int, count: int) -> str:
    title = re.sub(r"\s+", " ", prompt).strip()[:120] or "image"
    return f"{title} ({index}/{count})" if count > 1 else title
