"""The /image command: generate (and `/image usage`, a user's own spend); /image-admin: listeners/admin.py."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.errors import UserInputError
from bot.money.billing import estimated_note
from bot.money.budgets import Standing
from bot.money.pricing import format_usd
from bot.rules.batch_lines import is_batch
from bot.rules.options import is_help, parse_command
from bot.runtime.services import Services
from handlers.delivery.jobs import Delivery, generate_payload
from handlers.listeners import batches
from handlers.listeners.submissions import submit_command
from handlers.listeners.views import open_image_form
from handlers.ui.errors import explain
from handlers.ui.help import build_help

IMAGE_COMMAND = "/image"


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    images = services.images

    async def image(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        text = command.get("text") or ""
        if not text.strip():
            await ack()  # the form opens right after (views.open wants the trigger within 3 s)
            services.jobs.background(open_image_form(services, delivery, command), name="image-form")
            return
        if is_batch(text):  # `/image batch` and a prompt a line (handlers/listeners/batches.py)
            await batches.command(services, ack, command)
            return
        if is_help(text):
            # The ack body is Slack's first answer, shown only to the asker.
            summary, help_blocks = build_help(IMAGE_COMMAND, images.choices(), images.default_options.model)
            await ack(text=summary, blocks=help_blocks, response_type="ephemeral")
            return
        if text.strip().lower() == "usage":
            await ack()
            services.jobs.background(usage(command, respond), name="usage")
            return
        try:
            parsed = parse_command(text, images.default_options, images.choices())
        except UserInputError as error:
            await ack(text=f"{explain(error)}\nSee `{IMAGE_COMMAND} help` for the options.")
            return
        await ack(text=await submit_command(services, command, kind="generate",
                                            payload=generate_payload(parsed.prompt, parsed.options)))

    async def usage(command: dict[str, Any], respond: AsyncRespond) -> None:
        """A user's own spend today and this month, and what is left of their budgets (privately)."""
        standing = await images.budgets.standing(command["team_id"], command["user_id"], command["channel_id"])
        await respond(text=usage_text(standing, offline=services.settings.provider == "offline"),
                      response_type="ephemeral")

    app.command(IMAGE_COMMAND)(image)


OFFLINE_USAGE = ("_imagebot is using its offline renderer: the spend is what the model would cost; nothing is "
                 "billed._")


def usage_text(standing: Standing, *, offline: bool = False) -> str:
    """`/image usage`'s answer: the user's spend today and this month, and what is left of each of their budgets;
    with the offline renderer (`offline`), that the spend is priced but not billed."""
    lines = [f"*Your imagebot spend*: {format_usd(standing.today_micro)} today, "
             f"{format_usd(standing.month_micro)} this month."]
    if estimated_note(standing.month_estimated):
        lines[0] += f" This month {estimated_note(standing.month_estimated)}."
    for line in standing.budgets:
        budget = line.budget
        owner = {"user": "your", "channel": "this channel's", "workspace": "the workspace's"}[budget.scope]
        lines.append(f"• {owner} {budget.period} budget: {format_usd(line.left_micro)} "
                     f"left of {format_usd(budget.limit_micro)}")
    if len(lines) == 1:
        lines.append("No budget applies to you.")
    if offline:
        lines.append(OFFLINE_USAGE)
    return "\n".join(lines)
