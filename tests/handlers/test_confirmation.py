"""Money before it is spent: above IMAGEBOT_CONFIRM_ABOVE_USD the bot asks first, and nothing is spent until yes."""

from __future__ import annotations

from typing import Any

import pytest

from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
EXPENSIVE = "a cathedral --size landscape --quality high --n 4"  # 4 × 6208 tokens × $40/M ≈ $0.99


def confirmation(slack: SlackStandIn) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    for message in reversed(slack.messages(CHANNEL)):
        for block in message.get("blocks") or []:
            if block.get("type") == "actions" and any(e["action_id"] == "imagebot_confirm"
                                                      for e in block["elements"]):
                return message, {e["action_id"]: e for e in block["elements"]}
    raise AssertionError("no confirmation posted")


async def click(slack: SlackStandIn, workspace: LocalWorkspace, action: str, user: str = ALICE) -> None:
    message, buttons = confirmation(slack)
    payload = {"type": "block_actions", "user": {"id": user, "team_id": slack.team_id},
               "team": {"id": slack.team_id}, "channel": {"id": CHANNEL}, "trigger_id": f"c-{len(slack.calls)}",
               "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL,
                             "thread_ts": message.get("thread_ts")},
               "message": message, "response_url": slack.new_response_url(user, CHANNEL),
               "actions": [{"action_id": action, "value": buttons[action]["value"], "type": "button",
                            "block_id": "x", "action_ts": "2.0"}]}
    assert (await slack.send_interaction(payload)).status == 200
    await workspace.settle()


async def test_an_expensive_request_waits_for_yes(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                  workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
    await workspace.settle()
    message, _ = confirmation(slack)
    assert "about *$0.99" in str(message["blocks"]) and not image_api.requests  # nothing spent yet
    await click(slack, workspace, "imagebot_confirm", user="U0BOB")  # not Bob's request
    assert not image_api.requests
    await click(slack, workspace, "imagebot_confirm")
    [request] = image_api.requests
    assert request.json["n"] == 4 and request.json["quality"] == "high"
    await click(slack, workspace, "imagebot_confirm")  # a second press of the same button: answered already
    assert len(image_api.requests) == 1


async def test_cancel_spends_nothing_and_cheap_requests_do_not_ask(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                   workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
    await workspace.settle()
    await click(slack, workspace, "imagebot_cancel")
    await click(slack, workspace, "imagebot_confirm")  # too late: it was cancelled
    assert not image_api.requests
    assert any("Cancelled" in str(c.params) for c in slack.calls_to("response_url"))
    await slack.send_command(ALICE, CHANNEL, "a cat")  # about $0.04: no question asked
    await workspace.settle()
    assert len(image_api.requests) == 1
