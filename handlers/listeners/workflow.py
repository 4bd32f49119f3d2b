"""The Workflow Builder step "Generate an image with imagebot" (a custom step: Bolt's `app.function`, Slack's
`function_executed` event; https://docs.slack.dev/tools/bolt-python/concepts/custom-steps/).

A run of the step is a job like any other request: recorded before the event is acked (deduplicated on the run's
function_execution_id, so Slack's retries and a restart make one job), in the queue, under the budgets and
channel policies of the person it is for (the step's `user_id` input, "Person who used this workflow" in Workflow
Builder). The job posts the card and the image as /image does, in the step's `channel` or, without one, in a
direct message to that person; then handlers/delivery/steps.py completes the run with the image's outputs, or
fails it with the reason. What cannot become a job fails the run at once, here.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.fail.async_fail import AsyncFail

from bot.errors import UserInputError
from bot.rules.options import parse_fields
from bot.runtime.services import Services
from handlers.delivery.jobs import Delivery
from handlers.delivery.steps import step_payload
from handlers.listeners.middleware import channel_allowed
from handlers.manifest import WORKFLOW_STEP
from handlers.ui.errors import explain, plain, refusal

NOT_HERE = "imagebot is not enabled in that channel; ask a workspace admin, or choose another channel."
OPTIONS = ("size", "quality", "model")


def step_inputs(inputs: dict[str, Any]) -> tuple[str, str, str | None, dict[str, str]]:
    """(prompt, user, channel or None, options by name) from the run's inputs; UserInputError for what a workflow
    cannot have meant (Workflow Builder types them, but a payload is only as good as the workflow that sent it)."""
    prompt, user, channel = inputs.get("prompt"), inputs.get("user_id"), inputs.get("channel") or None
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserInputError("The step needs a prompt: what should the image show?")
    if not isinstance(user, str) or not user.startswith(("U", "W")):
        raise UserInputError("The step needs the person asking (its \"Asked by\" input, a user).")
    if channel is not None and not (isinstance(channel, str) and channel[:1] in ("C", "G", "D")):
        raise UserInputError("The step's channel is not a channel.")
    options = {name: value for name in OPTIONS if isinstance(value := inputs.get(name), str) and value.strip()}
    return prompt, user, channel, options


async def run_step(services: Services, body: dict[str, Any], event: dict[str, Any], fail: AsyncFail) -> None:
    images, settings = services.images, services.settings
    team, execution = body.get("team_id") or "", event["function_execution_id"]
    try:
        prompt, user, channel, values = step_inputs(event.get("inputs") or {})
        parsed = parse_fields(prompt, values, images.default_options, images.choices())
    except UserInputError as error:
        await fail(plain(explain(error)))
        return
    if channel is not None and not channel_allowed(settings, channel):
        await fail(NOT_HERE)
        return
    admission = await services.jobs.submit(
        dedupe_key=f"function:{team}:{execution}", kind="workflow", team_id=team,
        channel_id=channel or user,  # a user id: the direct message with them (Delivery posts the card there)
        user_id=user, payload=step_payload(parsed.prompt, parsed.options, execution_id=execution))
    reason = refusal(admission.status, retry_in=admission.retry_in, limit=settings.user_requests_per_minute)
    if reason:
        await fail(plain(reason))


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    async def on_step(body: dict[str, Any], event: dict[str, Any], fail: AsyncFail) -> None:
        await run_step(services, body, event, fail)

    # Bolt acks the event once this returns (process_before_response): the job row exists by then.
    app.function(WORKFLOW_STEP)(on_step)
