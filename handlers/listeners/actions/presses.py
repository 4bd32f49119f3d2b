"""A button press, and whether it belongs to the message it was pressed in.

Slack signs the whole block_actions payload, `message` (its copy of the message holding the button) included,
so the pressed action must be one of that message's buttons: the same block_id, action_id and value
(https://docs.slack.dev/reference/interaction-payloads/block_actions-payload). A press whose value or block_id
names something else — another version, another request — is refused, never acted on. An ephemeral message
comes without `message`; what can be checked then is the channel and thread, which the handlers do.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from bot.errors import StorageUnavailable
from bot.runtime.db_thread import ack_deadline

log = logging.getLogger(__name__)
Tell = Callable[[tuple[str, str, str, str | None], str], Awaitable[None]]
Listener = Callable[..., Awaitable[None]]
# The press being answered: when its database work must be done by (time.monotonic()), so the ack never waits on a
# locked or stuck database (bot/runtime/db_thread.py). Set by `within_ack`, read by `press_deadline`.
_DEADLINE: ContextVar[float | None] = ContextVar("press_deadline", default=None)

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


def within_ack(listener: Listener, tell: Tell, background: Callable[..., None],
               explain: Callable[[Any], str]) -> Listener:
    """A button listener whose database work (until `press_deadline()`) shares one ack deadline, and whose press,
    when the database cannot answer in time (full, failing, locked), is acked and told so privately, not a 500."""

    @functools.wraps(listener)  # Bolt reads the argument names through __wrapped__
    async def bounded(**kwargs: Any) -> None:
        token = _DEADLINE.set(ack_deadline())
        try:
            await listener(**kwargs)
        except StorageUnavailable as error:
            pressed = press_of(kwargs.get("body") or {})
            background(tell((pressed.team_id, pressed.channel_id, pressed.user_id, pressed.thread_ts),
                            explain(error)), name="press-unavailable")
        finally:
            _DEADLINE.reset(token)

    return bounded


def press_deadline() -> float | None:
    """The current press's ack deadline (None outside `within_ack`): the `until` of its database work, the use
    cases' (bot/usecases/recovery.py, follow_ups.py) and the admission's."""
    return _DEADLINE.get()
