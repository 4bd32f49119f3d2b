"""The buttons under each request's results (Use a / Use b…, Retry, Undo, Make it high quality, Variations). Each
press is a job like any other (deduped, durable, budget-checked); what it asks for is decided in the core
(bot/usecases/follow_ups.py). The press is charged to whoever pressed it. Results land in the same thread as new
versions.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.runtime.services import Services
from bot.usecases.follow_ups import Button, FollowUp, follow_up
from handlers.delivery.jobs import Delivery
from handlers.listeners.actions.presses import (
    NOT_THIS_MESSAGE,
    Press,
    in_message,
    log_refused,
    press_deadline,
    press_of,
    within_ack,
)
from handlers.ui import results as views
from handlers.ui.errors import explain, refusal
from storage.records import ThreadKey

BUTTONS: dict[str, Button] = {views.RETRY: "retry", views.UNDO: "undo", views.USE: "use",
                              views.HIGH_QUALITY: "high_quality", views.VARIATIONS: "variations",
                              **dict.fromkeys(views.USE_OUTPUTS, "use")}


def checked_version(body: dict[str, Any], pressed: Press, action: dict[str, Any]) -> tuple[str, str] | None:
    """(image id, label) for a press that names its version consistently: the value's image and version, a
    block_id naming that version (handlers/ui/results.py `names_version`), and one of the message's own buttons.
    (The store keeps no record of which message carries which buttons, so Slack's copy of the message is what the
    press is checked against.) None, logged, for a press that does not add up."""
    try:
        image_id, label = views.read_result_value(action.get("value") or "")
    except ValueError:
        log_refused(pressed, action, "not a result button value")
        return None
    if not views.names_version(str(action.get("block_id") or ""), image_id, label):
        log_refused(pressed, action, "block_id and value disagree")
        return None
    if not in_message(body, action) or not pressed.thread_ts:
        log_refused(pressed, action, "not one of the message's buttons")
        return None
    return image_id, label


class ResultButtons:
    """The result buttons' listener, bound to the services and the Slack side (Delivery)."""

    def __init__(self, services: Services, delivery: Delivery) -> None:
        self.services = services
        self.delivery = delivery

    def tell(self, pressed: Press, text: str, name: str) -> None:
        place = (pressed.team_id, pressed.channel_id, pressed.user_id, pressed.thread_ts)
        self.services.jobs.background(self.delivery.tell(place, text), name=name)

    async def press(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        pressed = press_of(body)
        checked = checked_version(body, pressed, action)
        if checked is None or pressed.thread_ts is None:
            self.tell(pressed, NOT_THIS_MESSAGE, "button-refused")
            return
        image_id, label = checked
        key = ThreadKey(pressed.team_id, pressed.channel_id, pressed.thread_ts)
        asked = await follow_up(self.services.db, key, label, image_id, BUTTONS[action["action_id"]],
                                until=press_deadline())
        if not isinstance(asked, FollowUp):
            if asked.reason == "mismatch":
                log_refused(pressed, action, "the thread's version shows another image")
                self.tell(pressed, NOT_THIS_MESSAGE, "button-refused")
            elif asked.reason == "gone":
                self.tell(pressed, f"I no longer know {label}.", "button-unknown")
            else:
                self.tell(pressed, f"There is nothing to undo: {label} was not made from another one.",
                          "button-note")
            return
        admission = await self.services.jobs.submit(
            dedupe_key=f"action:{pressed.team_id}:{body.get('trigger_id') or action.get('action_ts')}",
            kind=asked.kind, team_id=pressed.team_id, channel_id=pressed.channel_id, user_id=pressed.user_id,
            payload=asked.payload, thread_ts=pressed.thread_ts, message_ts=pressed.message_ts,
            deadline=press_deadline())
        reason = refusal(admission.status, retry_in=admission.retry_in,
                         limit=self.services.settings.user_requests_per_minute)
        if reason:
            self.tell(pressed, reason, "button-refusal")


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    buttons = ResultButtons(services, delivery)
    for action_id in BUTTONS:
        app.action(action_id)(within_ack(buttons.press, delivery.tell, services.jobs.background, explain))
