"""A button press, and whether it belongs to the message it was pressed in.

Slack signs the whole block_actions payload, `message` (its copy of the message holding the button) included,
so the pressed action must be one of that message's buttons: the same block_id, action_id and value
(https://docs.slack.dev/reference/interaction-payloads/block_actions-payload). A press whose value or block_id
names something else — another version, another request — is refused, never acted on. An ephemeral message
comes without `message`; what can be checked then is the channel and thread, which the handlers do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

NOT_THIS_MESSAGE = ":no_entry_sign: That button doesn't belong to this message, so I did nothing."
RUN_ALREADY = "That was run again already."


@dataclass(frozen=True)
class Press:
    """Where a button was pressed, and by whom."""

    team_id: str
    channel_id: str
    user_id: str
    thread_ts: str | None  # the thread the pressed message is in (or that it starts)
    message_ts: str | None
    ephemeral: bool


def press_of(body: dict[str, Any]) -> Press:
    container = body.get("container") or {}
    message = body.get("message") or {}
    user = body.get("user") or {}
    return Press(
        team_id=user.get("team_id") or (body.get("team") or {}).get("id") or "",
        channel_id=(body.get("channel") or {}).get("id") or container.get("channel_id") or "",
        user_id=user.get("id") or "",
        thread_ts=message.get("thread_ts") or container.get("thread_ts") or message.get("ts"),
        message_ts=container.get("message_ts") or message.get("ts"),
        ephemeral=bool(container.get("is_ephemeral")),
    )


def in_message(body: dict[str, Any], action: dict[str, Any]) -> bool:
    """True when the pressed action is one of the buttons of the message it came from: a block with the action's
    block_id holding an element with its action_id and value. False without Slack's copy of the message."""
    message = body.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("blocks"), list):
        return False
    for block in message["blocks"]:
        if not isinstance(block, dict) or block.get("block_id") != action.get("block_id"):
            continue
        for element in block.get("elements") or []:
            if (isinstance(element, dict) and element.get("action_id") == action.get("action_id")
                    and element.get("value") == action.get("value")):
                return True
    return False


def log_refused(press: Press, action: dict[str, Any], why: str) -> None:
    """One line per refused press; the payload's strings are quoted (%r), so none can start a log line."""
    log.warning("button press refused (%s): action=%r block=%r value=%r team=%r channel=%r message=%r user=%r",
                why, action.get("action_id"), action.get("block_id"), str(action.get("value"))[:200],
                press.team_id, press.channel_id, press.message_ts, press.user_id)
