"""Money before it is spent: above IMAGEBOT_CONFIRM_ABOVE_USD the bot asks first, and nothing is spent until yes."""

from __future__ import annotations

from typing import Any

import pytest

from bot.models import ImageOptions
from bot.money.budgets import estimate_micro
from bot.money.pricing import format_usd
from bot.rules.options import parse_command
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.catalogue_helpers import catalogue, choices, default_model

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
EXPENSIVE = "a cathedral --size landscape --quality high --n 4"  # four large high-quality images on the default


def estimate(text: str) -> int:
    """The catalogue's estimate for an /image command on the default model, as the app should compute it."""
    parsed = parse_command(text, ImageOptions(model=default_model()), choices())
    micro = estimate_micro(catalogue().price_table(), catalogue(), parsed.options, parsed.prompt)
    assert micro is not None, "the default model has a price"
    return micro


def confirmation(slack: SlackStandIn) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    for message in reversed(slack.messages(CHANNEL)):
        for block in message.get("blocks") or []:
            if block.get("type") == "actions" and any(e["action_id"] == "imagebot_confirm"
                                                      for e in block["elements"]):
                return message, {e["action_id"]: e for e in block["elements"]}
    raise AssertionError("no confirmation posted")


async def click(slack: SlackStandIn, workspace: LocalWorkspace, action: str, user: str = ALICE,
                shown: tuple[dict[str, Any], dict[str, dict[str, Any]]] | None = None) -> None:
    """A press on the confirmation; `shown`: on a copy of it seen before it was answered (and replaced)."""
    message, buttons = shown or confirmation(slack)
    payload = {"type": "block_actions", "user": {"id": user, "team_id": slack.team_id},
               "team": {"id": slack.team_id}, "channel": {"id": CHANNEL}, "trigger_id": f"c-{len(slack.calls)}",
               "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL,
                             "thread_ts": message.get("thread_ts")},
               "message": message, "response_url": slack.new_response_url(user, CHANNEL),
               "actions": [{"action_id": action, "value": buttons[action]["value"], "type": "button",
                            "block_id": "imagebot_confirmation", "action_ts": "2.0"}]}
    assert (await slack.send_interaction(payload)).status == 200
    await workspace.settle()


async def test_an_expensive_request_waits_for_yes(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                  workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
    await workspace.settle()
    threshold = workspace.services.settings.confirm_above_micro
    assert threshold is not None and estimate(EXPENSIVE) > threshold
    message, _ = confirmation(slack)
    assert f"about *{format_usd(estimate(EXPENSIVE))}*" in str(message["blocks"])
    assert not image_api.requests  # nothing spent yet
    await click(slack, workspace, "imagebot_confirm", user="U0BOB")  # not Bob's request
    assert not image_api.requests
    shown = confirmation(slack)
    await click(slack, workspace, "imagebot_confirm")
    [request] = image_api.requests
    assert request.json["n"] == 4 and request.json["quality"] == "high"
    await click(slack, workspace, "imagebot_confirm", shown=shown)  # a second press of the same button: answered
    assert len(image_api.requests) == 1


async def test_cancel_spends_nothing_and_cheap_requests_do_not_ask(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                   workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
    await workspace.settle()
    shown = confirmation(slack)
    await click(slack, workspace, "imagebot_cancel")
    await click(slack, workspace, "imagebot_confirm", shown=shown)  # too late: it was cancelled
    assert not image_api.requests
    assert any("Cancelled" in str(c.params) for c in slack.calls_to("response_url"))
    threshold = workspace.services.settings.confirm_above_micro
    assert threshold is not None and estimate("a cat") <= threshold
    await slack.send_command(ALICE, CHANNEL, "a cat")  # below the threshold: no question asked
    await workspace.settle()
    assert len(image_api.requests) == 1
