"""The sandbox's Workflow Builder: run imagebot's step ("Generate an image with imagebot") as a one-step workflow
from a button, as Slack's Workflow Builder would (a function_executed event; the run waits for the app's
functions.completeSuccess or completeError), and show each run's outcome.

    POST /api/workflow   {user, channel?, prompt, size?, quality?}: the step runs for `user`, posting in `channel`
                         (a channel, not a DM) or, without one, in their DM with imagebot
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from handlers.manifest import WORKFLOW_STEP, workflow_step
from standins.slack import Delivery, SlackStandIn

STEP_TIMEOUT = 35.0  # a delivery to the app gives up after 30 s itself


def define_step(slack: SlackStandIn) -> None:
    slack.define_function(WORKFLOW_STEP, workflow_step())  # imagebot's manifest, as Slack would have it


def runs(slack: SlackStandIn, user_id: str) -> list[dict[str, Any]]:
    """The step's runs for `user_id`, newest first: what the page shows under "Workflows"."""
    return [{"id": execution_id, "state": run["state"], "prompt": str(run["inputs"].get("prompt") or ""),
             "outputs": run["outputs"], "error": run["error"]}
            for execution_id, run in reversed(slack.executions.items()) if run["inputs"].get("user_id") == user_id]


async def run_step(slack: SlackStandIn, user_id: str, channel_id: str | None, body: dict[str, Any]) -> Delivery:
    inputs = {"user_id": user_id, "prompt": str(body.get("prompt") or "")}
    if channel_id:
        inputs["channel"] = channel_id
    for name in ("size", "quality"):
        if body.get(name):
            inputs[name] = str(body[name])
    _, delivery = await asyncio.wait_for(slack.run_function(WORKFLOW_STEP, inputs), STEP_TIMEOUT)
    return delivery


def answer(delivery: Delivery) -> web.Response:
    if delivery.status != 200:
        return web.json_response({"error": delivery.error or f"the app answered HTTP {delivery.status}"}, status=502)
    return web.json_response({"ok": True})
