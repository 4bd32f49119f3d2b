"""Slash commands: /image (generate) and /image-admin (reserved for the admin features)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import UserInputError
from bot.options import is_help, parse_command
from bot.services import Services
from handlers import blocks
from handlers.flows import CommandRequest, Flows
from handlers.messages import explain

IMAGE_COMMAND = "/image"
ADMIN_COMMAND = "/image-admin"


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    images = services.images

    async def image(ack: AsyncAck, command: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
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
        request = CommandRequest(team_id=command["team_id"], channel_id=command["channel_id"],
                                 user_id=command["user_id"], prompt=parsed.prompt, options=parsed.options)
        try:
            services.jobs.submit(flows.generate(client, request, respond), name=f"generate:{command['user_id']}")
        except RuntimeError:
            await ack(text=":hourglass: imagebot is restarting; try again in a minute.")
            return
        await ack()

    async def admin(ack: AsyncAck) -> None:
        await ack(text="Admin commands (usage reports and budgets) are not in this version of imagebot yet.")

    app.command(IMAGE_COMMAND)(image)
    app.command(ADMIN_COMMAND)(admin)
