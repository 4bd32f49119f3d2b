"""Slash commands: /image (generate) and /image-admin (reserved for the admin features)."""

from __future__ import annotations

import uuid
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.errors import UserInputError
from bot.options import is_help, parse_command
from bot.services import Services
from handlers import blocks
from handlers.flows import Flows, generate_payload
from handlers.messages import explain, refusal

IMAGE_COMMAND = "/image"
ADMIN_COMMAND = "/image-admin"


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    images = services.images

    async def image(ack: AsyncAck, command: dict[str, Any]) -> None:
        text = command.get("text") or ""
        if is_help(text):
            await ack(text=blocks.help_text(IMAGE_COMMAND))  # the ack body is shown only to the asker
            return
        try:
            parsed = parse_command(text, images.default_options, allowed_models=images.allowed_models,
                                   provider=services.settings.provider)
        except UserInputError as error:
            await ack(text=f"{explain(error)}\nSee `{IMAGE_COMMAND} help` for the options.")
            return
        # A command redelivered (Socket Mode resends unacked envelopes) carries the same trigger_id.
        trigger = command.get("trigger_id") or uuid.uuid4().hex
        admission = await services.jobs.submit(
            dedupe_key=f"command:{command['team_id']}:{trigger}", kind="generate", team_id=command["team_id"],
            channel_id=command["channel_id"], user_id=command["user_id"],
            payload=generate_payload(parsed.prompt, parsed.options), response_url=command.get("response_url"))
        await ack(text=refusal(admission.status, retry_in=admission.retry_in,
                               limit=services.settings.user_requests_per_minute) or "")

    async def admin(ack: AsyncAck) -> None:
        await ack(text="Admin commands (usage reports and budgets) are not in this version of imagebot yet.")

    app.command(IMAGE_COMMAND)(image)
    app.command(ADMIN_COMMAND)(admin)
