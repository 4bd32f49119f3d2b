"""What happens in Slack for a job: the card, the work, the images in the thread, the footnote.

`Delivery` is the job queue's handler (bot/runtime/jobs.py `JobHandler`): it announces a job at once (a card for
/image, a reaction for a reply), runs it when the queue gives it a slot, and tells the user when a restart
cut it short. Every request ends in an image or in a message that says why not: expected errors (the error
tree) are explained where the user will see them; unexpected ones still tell the user something went wrong.

What a reply asks for is decided in the core (bot/usecases/edits.py); here it is shown. The status message that
counts the seconds is progress.py beside this; the images, their footnote and buttons uploads.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.errors import AttachmentError, ImagebotError, ModelUnavailable
from bot.models import ImageOptions
from bot.money.pricing import format_usd
from bot.runtime.jobs import Outcome
from bot.runtime.services import Services
from bot.usecases import edits, posting
from bot.usecases.image_service import Delivered
from handlers.delivery import uploads
from handlers.delivery.batches import BatchDelivery
from handlers.delivery.card import Card, attached_file, current_image, posted_files, uploaded_names
from handlers.delivery.notices import Notices
from handlers.delivery.progress import Progress, show_progress
from handlers.delivery.steps import Steps, is_step
from handlers.ui import blocks
from handlers.ui.errors import budget_owner, explain, invite_hint
from handlers.ui.results import build_confirmation, build_grid_message
from handlers.workspaces import Workspaces
from storage.records import JobRecord, ThreadKey

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
    return {"prompt": prompt, "options": dict(vars(options)), "card": card}  # plain values: no asdict walk


def edit_payload(text: str, attachments: Sequence[Attachment]) -> dict[str, Any]:
    return {"text": text, "attachments": [dataclasses.asdict(a) for a in attachments]}


def _generates(job: JobRecord) -> bool:
    return job.kind in ("generate", "workflow")  # a workflow step's job is a generation (handlers/delivery/steps.py)


def _has_card(job: JobRecord) -> bool:
    """/image posts a card whose thread holds the images; a DM's request uses the message's own thread."""
    return _generates(job) and job.payload.get("card", True)


def _key(job: JobRecord) -> ThreadKey:
    assert job.thread_ts, f"job {job.id} has no thread yet"
    return ThreadKey(job.team_id, job.channel_id, job.thread_ts)


class Delivery:
    def __init__(self, services: Services, workspaces: Workspaces, *, progress_interval: float = 20.0) -> None:
        self.services = services
        self.images = services.images
        self.workspaces = workspaces
        self.slack = workspaces.client  # `await self.slack(team_id)`: a Web API client with that workspace's token
        self.progress_interval = progress_interval  # seconds between elapsed-time updates
        self.card = Card(self.slack, self.images)  # the card in the channel, showing the thread's current image
        self.room = uploads.UploadRoom()
        self.notices = Notices(services, workspaces)
        self.steps = Steps(self.slack)
        self.batch_jobs = (BatchDelivery(services, workspaces, services.batches, tell=self._tell_privately)
                           if services.batches else None)

    # announce ----------------------------------------------------------------------------------------
    async def announce(self, job: JobRecord, ahead: int | None) -> JobRecord | None:
        if job.kind == "batch":
            return job  # the batch's own card, once its prompts are read
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
        text, card = blocks.build_card(job.user_id, job.payload["prompt"], self._options(job), status,
                                       workflow=is_step(job))
        try:
            posted = await (await self.slack(job.team_id)).chat_postMessage(channel=job.channel_id, text=text,
                                                                            blocks=card)
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error")
            hint = invite_hint(code)
            await self._tell_privately(job, f":warning: I could not post in this channel (`{code}`).{hint}")
            if is_step(job):
                await self.steps.fail(job, f"imagebot could not post in that channel ({code}).{hint}")
            return None
        # A workflow step's job without a channel posts to its user's id: Slack answers with their DM's channel.
        job = dataclasses.replace(job, thread_ts=posted["ts"], channel_id=posted.get("channel") or job.channel_id)
        await posting.attach_card(self.images, job.id, _key(job), user_id=job.user_id, prompt=job.payload["prompt"])
        await self.card.posted(_key(job), text, card)
        return job

    # run ---------------------------------------------------------------------------------------------
    async def run(self, job: JobRecord) -> Outcome:
        if job.kind == "batch" and self.batch_jobs is not None:  # `/image batch`: its card (handlers/delivery/batches)
            return await self.batch_jobs.run(job)
        return await (self.steps.run(job, self._run) if is_step(job) else self._run(job))

    async def _run(self, job: JobRecord) -> Outcome:
        try:
            if _generates(job):
                return await self._generate(job)
            return await self._edit(job)
        except ImagebotError as error:
            reason = explain(error, model=self._options(job).model if _generates(job) else None)
            if isinstance(error, ModelUnavailable):
                live = ", ".join(f"`{m}`" for m in self.images.choices().models[:5])
                reason += f" Live models: {live}." if live else ""
                await self._model_gone(error.model or self._options(job).model, job.team_id)
            await self._say(_key(job), reason)
            if _generates(job):
                await self._update_card(job, blocks.status_failed(reason))
            return Outcome("failed", error_code=getattr(error, "code", type(error).__name__), error_message=reason)
        except Exception:
            await self._say(_key(job), ":warning: Something went wrong on my side; the error is logged.")
            if _generates(job):
                await self._update_card(job, blocks.status_failed("Failed: an internal error."))
            raise
        finally:
            if not _has_card(job):
                await self._react(job, add=False)

    def _threshold(self, job: JobRecord) -> int | None:
        """Above IMAGEBOT_CONFIRM_ABOVE_USD a request is asked about first, unless this is its confirmed run."""
        if job.payload.get("confirmed") or is_step(job):  # a workflow has nobody to ask: budgets still apply
            return None
        return self.services.settings.confirm_above_micro

    async def _ask(self, job: JobRecord, asking: edits.Confirmation) -> Outcome:
        """The estimate with Generate / Cancel; nothing is spent."""
        estimate = asking.estimate_micro
        confirmation = build_confirmation(estimate, asking.summary, str(job.id), caveats=asking.caveats)
        await self._post(job, f"This will cost about {format_usd(estimate)}. Generate?", confirmation, thread=True)
        await self._update_card(job, f":moneybag: Waiting for <@{job.user_id}> to confirm about "
                                     f"{format_usd(estimate)}.")
        return Outcome("done", error_code="awaiting_confirmation", result={"estimate_micro": estimate})

    async def _generate(self, job: JobRecord) -> Outcome:
        options, prompt = self._options(job), job.payload["prompt"]
        asking = await edits.confirmation(self.images, _key(job), options, prompt, threshold=self._threshold(job))
        if asking is not None:
            return await self._ask(job, asking)
        await self._update_card(job, blocks.status_working())
        async with self._progress(job) as progress:
            delivered = await self.images.generate(_key(job), job.user_id, prompt, options, job_id=job.id,
                                                   on_partial=progress.on_partial, kind=job.kind)
            outcome, image = await self._deliver(job, delivered, title=prompt)
            progress.ended(outcome)
        if not _has_card(job):  # Retry / Variations under a result: the thread's card shows the new version
            await self._show(_key(job), delivered, image)
            return outcome
        status = (blocks.status_done(len(delivered.images), delivered.cost_micro, delivered.result.provider)
                  if outcome.status == "done"
                  else blocks.status_failed("Made, but Slack refused the upload: see the thread."))
        await self._update_card(job, status, image)
        return outcome

    async def _edit(self, job: JobRecord) -> Outcome:
        """A reply in the thread: what it means is the core's (bot/usecases/edits.py); here it is shown."""
        key = _key(job)
        attachments = await self._fetch(job.team_id, [Attachment(**a) for a in job.payload.get("attachments", [])])
        plan = await edits.take_reply(self.images, key, job.payload.get("text", ""), attachments,
                                      threshold=self._threshold(job))
        if isinstance(plan, edits.UploadKept):
            image, change = plan.upload.image, plan.upload.change
            note = f" ({blocks.escape(change)})" if change else ""
            await self._say(key, f":frame_with_picture: Got {blocks.escape(image.name)}{note}: it is {plan.label} "
                                 "now. Reply with what to change and I will edit it.")
            image_id = await self.images.version_image(key, plan.label)
            mine = attached_file(job.payload.get("attachments", []), image.name, image_id)
            await posting.remember_files(self.images, key, [mine] if mine else [])  # the user's own file
            await self.card.show(key, image_id, plan.label, image.name)
            return Outcome("done", result={"context": plan.label})
        if isinstance(plan, edits.ContextMoved):
            await self._say(key, f":leftwards_arrow_with_hook: Undone: the next edit uses {plan.label}." if plan.undone
                            else f":point_right: The next edit uses {plan.label}.")
            await self.card.show(key, await self.images.version_image(key, plan.label), plan.label)
            return Outcome("done", result={"context": plan.label})
        if isinstance(plan, edits.Grid):
            return await self._grid(key, plan)
        if plan.confirmation is not None:
            return await self._ask(job, plan.confirmation)
        async with self._progress(job) as progress:
            delivered = await edits.make_edit(self.images, key, job.user_id, plan, job_id=job.id,
                                              on_partial=progress.on_partial)
            outcome, shown = await self._deliver(job, delivered, title=plan.prompt, notes=plan.notes)
            progress.ended(outcome)
        await self._show(key, delivered, shown)
        return outcome

    def _progress(self, job: JobRecord) -> contextlib.AbstractAsyncContextManager[Progress]:
        return show_progress(self.slack, _key(job), self.progress_interval)

    async def _grid(self, key: ThreadKey, grid: edits.Grid) -> Outcome:
        """The current image with a labelled 4x4 grid, drawn on a copy, for region edits (no API call)."""
        if not await uploads.send_grid(self.slack, key, grid.png, grid.version, build_grid_message(grid.version)):
            await self._say(key, ":warning: Slack refused the grid image; try again in a moment.")
        return Outcome("done", result={"grid": grid.version})

    async def _fetch(self, team_id: str, attachments: Sequence[Attachment]) -> list[edits.Attached]:
        prepared = []
        for item in attachments:
            if item.size is not None and item.size > 50 * 1024 * 1024:
                raise AttachmentError(f"{item.name} is over the 50 MB limit.", filename=item.name)
            data = await self.services.files.download(item.url, name=item.name,
                                                       token=await self.workspaces.token(team_id))
            prepared.append(await edits.attach(self.images, item.name, data))
        return prepared

    # interrupted -------------------------------------------------------------------------------------
    async def interrupted(self, job: JobRecord) -> None:
        text = (":warning: This request was interrupted by a restart before it finished. It may already have "
                "been billed, so I have not run it again on my own.")
        notice = blocks.build_notice(text, button=("Run it again", RUN_AGAIN_ACTION, str(job.id)))
        if is_step(job):
            await self.steps.fail(job, "imagebot was restarted while making this image; run the workflow again.")
        if job.thread_ts:
            await self._post(job, text, notice, thread=True)
            await self._update_card(job, blocks.status_failed("Interrupted by a restart: see the thread."))
            if not _has_card(job):
                await self._react(job, add=False)
        else:
            await self._tell_privately(job, text, notice)

    # Slack output ------------------------------------------------------------------------------------
    async def _deliver(self, job: JobRecord, delivered: Delivered, *, title: str,
                       notes: tuple[str, ...] = ()) -> tuple[Outcome, blocks.CardImage | None]:
        """Upload the images into the thread with the cost footnote as their comment; and the picture the card
        shows now (None: none Slack can draw, or the upload was refused)."""
        result = {"image_ids": [r.id for r in delivered.images], "cost_micro": delivered.cost_micro,
                  "comment": uploads.comment(delivered, notes), "title": title}
        await self._alert(job.team_id, delivered)
        files = await self._upload(_key(job), result)
        if files is not None:
            result.update(files=[file["id"] for file in files], versions=list(delivered.versions))
            await uploads.post_buttons(self.slack, _key(job), delivered)
            return Outcome("done", result=result), current_image(delivered, files, title)
        text = (":warning: I made the image but Slack refused the upload. It is kept: press the button to try "
                "the upload again.")
        await self._post(job, text, blocks.build_notice(text, button=("Upload again", UPLOAD_AGAIN_ACTION,
                                                                      str(job.id))), thread=True)
        return Outcome("failed", error_code="upload_failed", error_message="Slack refused the upload",
                       result=result), None

    async def upload(self, key: ThreadKey, result: dict[str, Any]) -> bool:
        """Upload stored images (by id) into the thread again (the Upload again button); its card then shows the
        thread's current image and says so. False if Slack refused."""
        files = await self._upload(key, result)
        if files is None:
            return False
        if label := await self.images.current_version(key):
            image_id = await self.images.version_image(key, label)
            await self.card.show(key, image_id, label, result["title"],
                                 status=blocks.status_uploaded(len(result["image_ids"])))
        return True

    async def _upload(self, key: ThreadKey, result: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The upload: the files Slack made, each with the name it was given, and kept as the files that show
        their images in the thread (for the card); None if Slack refused."""
        async with contextlib.AsyncExitStack() as held:  # the bytes' room, until Slack has them
            files = await uploads.files_of(self.images, result, self.room, held)
            made = await uploads.send_files(self.slack, key, files, result["comment"])
        if made is None:
            return None
        named = uploaded_names(files, made)
        await posting.remember_files(self.images, key, posted_files(result["image_ids"], named))
        return named

    async def _show(self, key: ThreadKey, delivered: Delivered, image: blocks.CardImage | None) -> None:
        """A new version in a thread whose card another job posted: the card shows it, or no picture when Slack
        cannot draw it (a WEBP) or refused the upload, rather than an older version."""
        label = image.label if image else delivered.next_edit or next(iter(delivered.versions), None)
        if label:
            await self.card.show(key, None, label, image.alt_text if image else "",
                                 file_id=image.file_id if image else None)

    async def _alert(self, team_id: str, delivered: Delivered) -> None:
        """Budget marks crossed (80 %, 100 %): one message each, to the workspace's report channel."""
        for alert in delivered.alerts:
            budget = alert.budget
            await self.notify_team(team_id, blocks.budget_alert_text(
                budget_owner(budget.scope, budget.target), budget.period, alert.threshold, alert.spent_micro,
                budget.limit_micro))

    async def _model_gone(self, model: str, team_id: str) -> None:
        await self.notices.model_gone(model, team_id)

    async def notify_team(self, team_id: str, text: str) -> bool:
        return await self.notices.team(team_id, text)

    async def notify_admins(self, text: str) -> bool:
        return await self.notices.admins(text)

    async def report_channel(self, team_id: str) -> str | None:
        return await self.notices.report_channel(team_id)

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
            if is_step(job_or_place):
                await self.steps.fail(job_or_place, text)
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

    async def _update_card(self, job: JobRecord, status: str, image: blocks.CardImage | None = None) -> None:
        if not _has_card(job) or not job.thread_ts:  # no card, or none posted yet: nothing to update
            return
        text, card = blocks.build_card(job.user_id, job.payload["prompt"], self._options(job), status, image,
                                       workflow=is_step(job))
        await self.card.update(_key(job), text, card)

    async def _react(self, job: JobRecord, *, add: bool) -> None:
        if not job.message_ts:  # no message of the user's own to mark
            return
        client = await self.slack(job.team_id)
        method = client.reactions_add if add else client.reactions_remove
        try:
            await method(channel=job.channel_id, timestamp=job.message_ts, name=WORKING_REACTION)
        except SlackApiError as error:  # a missing reaction is cosmetic, never a reason to fail the edit
            log.info("reaction %s failed: %s", "add" if add else "remove", error.response.get("error"))

    @staticmethod
    def _options(job: JobRecord) -> ImageOptions:
        return ImageOptions(**job.payload["options"])

