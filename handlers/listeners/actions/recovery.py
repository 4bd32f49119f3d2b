"""Buttons: run an interrupted request again; upload kept images again after Slack refused them.

Listeners run before Slack gets its answer (process_before_response), so they only read the job, admit new
work and ack; replies through the response_url go out as background work.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.runtime.services import Services
from bot.usecases.thread_images import ImagePruned
from handlers.delivery import RUN_AGAIN_ACTION, UPLOAD_AGAIN_ACTION, Flows
from handlers.listeners.actions.presses import (
    NOT_THIS_MESSAGE,
    RUN_ALREADY,
    Press,
    db_now,
    in_message,
    log_refused,
    press_deadline,
    press_of,
    within_ack,
)
from handlers.ui import blocks
from handlers.ui import modals as views
from handlers.ui.errors import explain, refusal
from storage.records import JobRecord, ThreadKey

log = logging.getLogger(__name__)
ANSWERED = "That was answered already."


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    def reply(respond: AsyncRespond, text: str) -> None:
        if not respond.response_url:  # Slack sends one with every press on a message; a forged press has none
            log.info("a button press came without a response_url; not answered: %s", text[:80])
            return
        services.jobs.background(respond(text=text, response_type="ephemeral", replace_original=False),
                                 name="action-reply")

    async def owned_job(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> JobRecord | None:
        """The job the button's value names, if it was asked for where the button was pressed and by the presser."""
        value = str(action.get("value") or "")
        # A job id is a SQLite integer: a longer run of digits (or a non-ASCII digit) names no job, and must not
        # reach SQLite, which refuses integers past 2**63 with an overflow.
        is_id = value.isascii() and value.isdigit() and len(value) <= 18
        job = await db_now(services.images.io, services.images.store.get_job, int(value)) if is_id else None
        pressed = press_of(body)
        if job is None:
            reply(respond, "I no longer know that request.")
            return None
        if not _belongs(job, pressed, body, action):
            reply(respond, NOT_THIS_MESSAGE)
            return None
        if pressed.user_id != job.user_id:
            reply(respond, f"Only <@{job.user_id}>, who asked for it, can do that.")
            return None
        return job

    async def resubmit(job: JobRecord, payload: dict[str, Any], dedupe_key: str, body: dict[str, Any],
                       respond: AsyncRespond, accepted: str, already: str) -> None:
        """A new job for the same request (a run-again or a confirmed one), in the same thread. `dedupe_key` names
        the button's one use, so a second press (a redelivery, a click on a stale copy, after a restart) finds the
        job made by the first instead of making another."""
        admission = await services.jobs.submit(
            dedupe_key=dedupe_key, kind=job.kind, team_id=job.team_id, channel_id=job.channel_id,
            user_id=job.user_id, payload=payload, thread_ts=job.thread_ts, message_ts=job.message_ts,
            retry_of=job.id, deadline=press_deadline())
        reason = refusal(admission.status, retry_in=admission.retry_in,
                         limit=services.settings.user_requests_per_minute)
        if reason:
            reply(respond, reason)
        elif admission.status == "duplicate":
            reply(respond, already)
        else:
            services.jobs.background(replace(press_of(body), respond, accepted), name="action-replace")

    async def replace(pressed: Press, respond: AsyncRespond, text: str) -> None:
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
            await (await flows.slack(pressed.team_id)).chat_update(
                channel=pressed.channel_id, ts=pressed.message_ts, text=text, blocks=[blocks.section(text)])
        except SlackApiError as error:
            log.warning("could not replace a pressed message (%s, then %s)", failure, error.response.get("error"))

    async def run_again(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        job = await owned_job(body, action, respond)
        if job is None:
            return
        # One press, one rerun: the claim is atomic in the store, and the rerun is deduped on the interrupted job.
        key = f"rerun:{job.id}"
        if not await db_now(services.images.io, services.images.store.claim_rerun, job.id, key):
            reply(respond, RUN_ALREADY)
            return
        await resubmit(job, job.payload, key, body, respond,
                       f":arrows_counterclockwise: <@{job.user_id}> is running it again.", RUN_ALREADY)

    async def upload_again(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                           respond: AsyncRespond) -> None:
        await ack()
        job = await owned_job(body, action, respond)
        if job is None or not job.result or not job.thread_ts:
            return
        key = ThreadKey(job.team_id, job.channel_id, job.thread_ts)
        result = job.result
        store = services.images.store
        if not await db_now(services.images.io, store.claim_reupload, job.id):
            return  # a redelivered click, or uploaded already: one upload per refusal

        async def upload() -> None:
            try:
                uploaded = await flows.upload(key, result)
            except ImagePruned as error:  # IMAGEBOT_RETENTION_DAYS removed the image before it was re-sent
                await services.images.io(store.update_job, job.id, error_code="image_pruned")
                await respond(text=explain(error), response_type="ephemeral", replace_original=False)
                return
            if uploaded:
                await services.images.io(store.finish_job, job.id, "done", result=result)
                await replace(press_of(body), respond, ":white_check_mark: Uploaded.")
            else:
                await services.images.io(store.update_job, job.id, error_code="upload_failed")
                await respond(text=":warning: Slack refused the upload again; try later.", response_type="ephemeral",
                              replace_original=False)

        services.jobs.background(upload(), name=f"upload-again-{job.id}")

    async def confirm(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        job = await owned_job(body, action, respond)
        if job is None:
            return
        cancel = action["action_id"] == views.CANCEL
        if not await db_now(services.images.io, services.images.store.settle_confirmation, job.id,
                                        "cancelled" if cancel else "confirmed"):
            reply(respond, ANSWERED)
            return
        if cancel:
            services.jobs.background(replace(press_of(body), respond,
                                             f":x: Cancelled by <@{job.user_id}>; nothing was spent."),
                                     name="action-replace")
            return
        await resubmit(job, {**job.payload, "confirmed": True}, f"confirmed:{job.id}", body, respond,
                       f":white_check_mark: <@{job.user_id}> confirmed; making it now.", ANSWERED)

    for action_id, listener in ((RUN_AGAIN_ACTION, run_again), (views.CONFIRM, confirm), (views.CANCEL, confirm),
                                (UPLOAD_AGAIN_ACTION, upload_again)):
        app.action(action_id)(within_ack(listener, flows.tell, services.jobs.background, explain))


def _belongs(job: JobRecord, pressed: Press, body: dict[str, Any], action: dict[str, Any]) -> bool:
    """Whether the job a button names was asked for where the button was pressed: its workspace and channel, its
    thread, and the button one of that message's own (an ephemeral message comes without a copy to check)."""
    if (pressed.team_id, pressed.channel_id) != (job.team_id, job.channel_id):
        why = "the request is another channel's"
    elif job.thread_ts is not None and pressed.thread_ts != job.thread_ts:
        why = "the request is another thread's"
    elif not pressed.ephemeral and not in_message(body, action):
        why = "not one of the message's buttons"
    else:
        return True
    log_refused(pressed, action, why)
    return False
