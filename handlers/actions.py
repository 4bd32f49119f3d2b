"""Buttons: run an interrupted request again; upload kept images again after Slack refused them.

Listeners run before Slack gets its answer (process_before_response), so they only read the job, admit new
work and ack; replies through the response_url go out as background work.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.service import ImagePruned
from bot.services import Services
from handlers import views
from handlers.flows import RUN_AGAIN_ACTION, UPLOAD_AGAIN_ACTION, Flows
from handlers.messages import explain, refusal
from storage.store import JobRecord, ThreadKey


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    def reply(respond: AsyncRespond, text: str, *, replace: bool = False) -> None:
        kwargs: dict[str, Any] = {"replace_original": True} if replace else {
            "response_type": "ephemeral", "replace_original": False}
        services.jobs.background(respond(text=text, **kwargs), name="action-reply")

    async def owned_job(body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> JobRecord | None:
        value = str(action.get("value") or "")
        job = await services.images.io(services.images.store.get_job, int(value)) if value.isdigit() else None
        if job is None:
            reply(respond, "I no longer know that request.")
            return None
        if body["user"]["id"] != job.user_id:
            reply(respond, f"Only <@{job.user_id}>, who asked for it, can do that.")
            return None
        return job

    async def resubmit(job: JobRecord, payload: dict[str, Any], body: dict[str, Any], action: dict[str, Any],
                       respond: AsyncRespond, accepted: str) -> None:
        """A new job for the same request (a run-again or a confirmed one), in the same thread."""
        admission = await services.jobs.submit(
            # A redelivered click carries the same trigger_id: still one new job.
            dedupe_key=f"action:{job.team_id}:{body.get('trigger_id') or action.get('action_ts')}", kind=job.kind,
            team_id=job.team_id, channel_id=job.channel_id, user_id=job.user_id, payload=payload,
            thread_ts=job.thread_ts, message_ts=job.message_ts, retry_of=job.id)
        reason = refusal(admission.status, retry_in=admission.retry_in,
                         limit=services.settings.user_requests_per_minute)
        if reason:
            reply(respond, reason)
        elif admission.status == "accepted":
            reply(respond, accepted, replace=True)

    async def run_again(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        job = await owned_job(body, action, respond)
        if job is None:
            return
        await resubmit(job, job.payload, body, action, respond,
                       f":arrows_counterclockwise: <@{job.user_id}> is running it again.")

    async def upload_again(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any],
                           respond: AsyncRespond) -> None:
        await ack()
        job = await owned_job(body, action, respond)
        if job is None or not job.result or not job.thread_ts:
            return
        key = ThreadKey(job.team_id, job.channel_id, job.thread_ts)
        result = job.result
        store = services.images.store
        if not await services.images.io(store.claim_reupload, job.id):
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
                await respond(text=":white_check_mark: Uploaded.", replace_original=True)
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
        if not await services.images.io(services.images.store.settle_confirmation, job.id,
                                        "cancelled" if cancel else "confirmed"):
            reply(respond, "That was answered already.")
            return
        if cancel:
            reply(respond, f":x: Cancelled by <@{job.user_id}>; nothing was spent.", replace=True)
            return
        await resubmit(job, {**job.payload, "confirmed": True}, body, action, respond,
                       f":white_check_mark: <@{job.user_id}> confirmed; making it now.")

    app.action(RUN_AGAIN_ACTION)(run_again)
    app.action(views.CONFIRM)(confirm)
    app.action(views.CANCEL)(confirm)
    app.action(UPLOAD_AGAIN_ACTION)(upload_again)
