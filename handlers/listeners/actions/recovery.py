"""Buttons: run an interrupted request again; answer a confirmation; upload kept images again after Slack refused
them. What a press may do is decided in the core (bot/usecases/recovery.py); here each press is read, acked and
answered.

Listeners run before Slack gets its answer (process_before_response), so they only read the job, admit new
work and ack; replies through the response_url go out as background work.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.runtime.jobs import Admission
from bot.runtime.services import Services
from bot.usecases.recovery import Pressed, Recovery, Refused
from bot.usecases.thread_images import ImagePruned
from handlers.delivery.jobs import RUN_AGAIN_ACTION, UPLOAD_AGAIN_ACTION, Delivery
from handlers.listeners.actions.presses import (
    NOT_THIS_MESSAGE,
    RUN_ALREADY,
    Press,
    in_message,
    log_refused,
    press_deadline,
    press_of,
    within_ack,
)
from handlers.ui import blocks
from handlers.ui import results as views
from handlers.ui.errors import explain, refusal
from storage.records import JobRecord, ThreadKey

log = logging.getLogger(__name__)
ANSWERED = "That was answered already."


class RecoveryButtons:
    """The listeners of the recovery buttons, bound to the services and the Slack side (Delivery)."""

    def __init__(self, services: Services, delivery: Delivery) -> None:
        self.services = services
        self.delivery = delivery
        self.recovery = Recovery(services.db, services.jobs)

    def reply(self, respond: AsyncRespond, text: str, body: dict[str, Any]) -> None:
        """Tell the presser privately, in the thread of the pressed message when it is in one."""
        if not respond.response_url:  # Slack sends one with every press on a message; a forged press has none
            log.info("a button press came without a response_url; not answered: %s", text[:80])
            return
        pressed = press_of(body)
        thread_ts = pressed.thread_ts if pressed.thread_ts != pressed.message_ts else None
        self.services.jobs.background(_say(respond, text, thread_ts), name="action-reply")

    async def owned_job(self, body: dict[str, Any], action: dict[str, Any],
                        respond: AsyncRespond) -> JobRecord | None:
        """The job the button's value names, if it was asked for where the button was pressed and by the presser."""
        pressed = press_of(body)
        where = Pressed(pressed.team_id, pressed.channel_id, pressed.user_id, pressed.thread_ts,
                        own_button=pressed.ephemeral or in_message(body, action))
        job = await self.recovery.owned_job(str(action.get("value") or ""), where, until=press_deadline())
        if not isinstance(job, Refused):
            return job
        if job.reason == "unknown":
            self.reply(respond, "I no longer know that request.", body)
        elif job.reason == "elsewhere":
            log_refused(pressed, action, job.why)
            self.reply(respond, NOT_THIS_MESSAGE, body)
        else:
            self.reply(respond, f"Only <@{job.owner}>, who asked for it, can do that.", body)
        return None

    def admitted(self, admission: Admission | None, body: dict[str, Any], respond: AsyncRespond, accepted: str,
                 already: str) -> None:
        """Say what became of a request made again: done already (None: the button was used, or a duplicate),
        refused (and why, privately: the pressed message stays), or accepted (the pressed message says so)."""
        if admission is None:
            self.reply(respond, already, body)
            return
        reason = refusal(admission.status, retry_in=admission.retry_in,
                         limit=self.services.settings.user_requests_per_minute)
        if reason:
            self.reply(respond, reason, body)
        elif admission.status == "duplicate":
            self.reply(respond, already, body)
        else:
            self.services.jobs.background(self.replace(press_of(body), respond, accepted), name="action-replace")

    async def replace(self, pressed: Press, respond: AsyncRespond, text: str) -> None:
        """The pressed message says what became of it, its button gone: replace_original through the press's
        response_url, else (that URL gone: 30 minutes, 5 uses) chat.update, which cannot reach an ephemeral one."""
        try:
            response = await respond(text=text, replace_original=True)
            failure = None if response.status_code == 200 else f"HTTP {response.status_code} {response.body!r}"
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as error:  # ValueError: no response_url
            failure = repr(error)
        if failure is None:
            return
        if pressed.ephemeral or not pressed.message_ts:
            log.warning("could not replace a pressed message (%s); it is ephemeral, so it stays", failure)
            return
        try:
            await (await self.delivery.slack(pressed.team_id)).chat_update(
                channel=pressed.channel_id, ts=pressed.message_ts, text=text, blocks=[blocks.section(text)])
        except SlackApiError as error:
            log.warning("could not replace a pressed message (%s, then %s)", failure, error.response.get("error"))

    async def run_again(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                        respond: AsyncRespond) -> None:
        await ack()
        job = await self.owned_job(body, action, respond)
        if job is None:
            return
        admission = await self.recovery.run_again(job, until=press_deadline())
        self.admitted(admission, body, respond, f":arrows_counterclockwise: <@{job.user_id}> is running it again.",
                      RUN_ALREADY)

    async def confirm(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                      respond: AsyncRespond) -> None:
        await ack()
        job = await self.owned_job(body, action, respond)
        if job is None:
            return
        if action["action_id"] == views.CANCEL:
            if not await self.recovery.cancel(job, until=press_deadline()):
                self.reply(respond, ANSWERED, body)
                return
            self.services.jobs.background(self.replace(press_of(body), respond,
                                                       f":x: Cancelled by <@{job.user_id}>; nothing was spent."),
                                          name="action-replace")
            return
        admission = await self.recovery.confirm(job, until=press_deadline())
        self.admitted(admission, body, respond, f":white_check_mark: <@{job.user_id}> confirmed; making it now.",
                      ANSWERED)

    async def upload_again(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                           respond: AsyncRespond) -> None:
        await ack()
        job = await self.owned_job(body, action, respond)
        if job is None or not job.result or not job.thread_ts:
            return
        if not await self.recovery.claim_reupload(job, until=press_deadline()):
            return  # a redelivered click, or uploaded already: one upload per refusal
        self.services.jobs.background(self.upload(job, job.result, job.thread_ts, body, respond),
                                      name=f"upload-again-{job.id}")

    async def upload(self, job: JobRecord, result: dict[str, Any], thread_ts: str, body: dict[str, Any],
                     respond: AsyncRespond) -> None:
        try:
            uploaded = await self.delivery.upload(ThreadKey(job.team_id, job.channel_id, thread_ts), result)
        except ImagePruned as error:  # IMAGEBOT_RETENTION_DAYS removed the image before it was re-sent
            await self.recovery.reuploaded(job, "pruned", result)
            await respond(text=explain(error), response_type="ephemeral", replace_original=False)
            return
        if uploaded:
            await self.recovery.reuploaded(job, "done", result)
            await self.replace(press_of(body), respond, ":white_check_mark: Uploaded.")
        else:
            await self.recovery.reuploaded(job, "refused", result)
            await respond(text=":warning: Slack refused the upload again; try later.", response_type="ephemeral",
                          replace_original=False)


async def _say(respond: AsyncRespond, text: str, thread_ts: str | None) -> None:
    await respond(text=text, response_type="ephemeral", replace_original=False, thread_ts=thread_ts)


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    buttons = RecoveryButtons(services, delivery)
    for action_id, listener in ((RUN_AGAIN_ACTION, buttons.run_again), (views.CONFIRM, buttons.confirm),
                                (views.CANCEL, buttons.confirm), (UPLOAD_AGAIN_ACTION, buttons.upload_again)):
        app.action(action_id)(within_ack(listener, delivery.tell, services.jobs.background, explain))
