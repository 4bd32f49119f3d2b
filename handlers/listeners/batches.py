"""`/image batch` at the Slack edge: the command (its prompts checked before the ack, so a mistake is answered at
once), a DM or mention saying `batch` with a TXT or CSV attached, the card's Submit and Cancel buttons, and
`cancel` replied in a batch's thread. The work is handlers/delivery/batches.py's (and the core's)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.errors import UserInputError
from bot.rules.batch_lines import lines_of_text, names_model
from bot.runtime.services import Services
from bot.usecases.batches import BatchRefused
from handlers.delivery.batches import batch_payload
from handlers.delivery.jobs import Delivery
from handlers.listeners.actions.presses import in_message, press_of
from handlers.listeners.submissions import submit_command
from handlers.ui import batches as ui
from handlers.ui.errors import explain
from storage.records import BatchRecord, ThreadKey

NO_BATCHES = ("Batches go through OpenAI's Batch API, which imagebot is not set up to use here. Use `/image` "
              "for each prompt instead.")
CANCEL_WORDS = frozenset({"cancel", "stop"})


def check_batch(services: Services, text: str, *, with_file: bool = False) -> None:
    """Raise UserInputError for what the batch's job would refuse anyway: no Batch API, bad lines, no model."""
    batches = services.batches
    if batches is None or batches.client is None:
        raise BatchRefused(NO_BATCHES)
    images = services.images
    options, _ = lines_of_text(text, images.default_options, images.choices(), file=with_file)
    batches.model_for(options, chosen=names_model(text))


async def command(services: Services, ack: AsyncAck, command: dict[str, Any]) -> None:
    """`/image batch …`: the job that posts the batch's card, or at once what is wrong with it."""
    text = command.get("text") or ""
    try:
        check_batch(services, text)
    except UserInputError as error:
        await ack(text=f"{explain(error)}\nSee `/image help` for the options; a batch has one prompt a line.")
        return
    await ack(text=await submit_command(services, command, kind="batch", payload=batch_payload(text)))


async def reply(services: Services, delivery: Delivery, batch: BatchRecord, event: dict[str, Any]) -> None:
    """A reply in a batch's thread: `cancel` stops it; anything else is told what the thread takes."""
    words = (event.get("text") or "").strip().lower().strip(".!")
    jobs = delivery.batch_jobs
    if jobs is None:
        return
    if words in CANCEL_WORDS:
        services.jobs.background(jobs.cancel(batch, event["user"]), name="batch-cancel")
        return
    hint = ("This thread is a batch: reply `cancel` to stop it. To edit one of its images, use the message "
            "shortcut *Edit with imagebot* on it.")
    key = ThreadKey(batch.team_id, batch.channel_id, batch.thread_ts or "")
    services.jobs.background(delivery.tell((key.team_id, key.channel_id, event["user"], key.thread_ts), hint),
                             name="batch-hint")


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    async def pressed(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        jobs = delivery.batch_jobs
        press = press_of(body)
        if jobs is None or not in_message(body, action) or not str(action.get("value", "")).isdigit():
            return
        batch_id = int(action["value"])
        work = jobs.submit if action["action_id"] == ui.SUBMIT else jobs.decline
        services.jobs.background(work(batch_id, press.user_id), name="batch-answer")

    app.action(ui.SUBMIT)(pressed)
    app.action(ui.DECLINE)(pressed)
