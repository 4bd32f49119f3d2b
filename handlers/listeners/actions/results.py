"""The buttons under each result. Each press is a job like any other (deduped, durable, budget-checked):

    Retry                 the same request again (an edit starts again from the same version)
    Undo                  the next edit uses the version this one was made from (no API call)
    Use this one          the next edit uses this version (no API call)
    Make it high quality  the same request at quality high
    Variations            three more of the same request

The press is charged to whoever pressed it. Results land in the same thread as new versions.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.rules.replies import Edit, parse_reply
from bot.runtime.services import Services
from handlers.delivery import Flows
from handlers.listeners.actions.presses import (
    NOT_THIS_MESSAGE,
    Press,
    db_now,
    in_message,
    log_refused,
    press_deadline,
    press_of,
    within_ack,
)
from handlers.ui import modals as views
from handlers.ui.errors import explain, refusal
from storage.records import ThreadKey


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    store = services.images.store

    async def db(fn: Any, *args: Any) -> Any:
        return await db_now(services.images.io, fn, *args)

    async def press(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        pressed = press_of(body)
        team, channel, user, thread_ts = pressed.team_id, pressed.channel_id, pressed.user_id, pressed.thread_ts
        place = (team, channel, user, thread_ts)
        checked = await _version(body, pressed, action)
        if checked is None:
            services.jobs.background(flows.tell(place, NOT_THIS_MESSAGE), name="button-refused")
            return
        key, label, version = checked
        origin = await db(store.get_job, version["job_id"]) if version and version["job_id"] else None
        if version is None or origin is None:
            services.jobs.background(flows.tell(place, f"I no longer know {label}."), name="button-unknown")
            return
        parent = await db(store.version_of, key, version["parent_image_id"]) if version["parent_image_id"] else None
        kind, payload = _request(action["action_id"], origin.kind, origin.payload, label,
                                 parent["label"] if parent else None)
        if kind is None:
            services.jobs.background(flows.tell(place, payload["text"]), name="button-note")
            return
        admission = await services.jobs.submit(
            dedupe_key=f"action:{team}:{body.get('trigger_id') or action.get('action_ts')}", kind=kind, team_id=team,
            channel_id=channel, user_id=user, payload=payload, thread_ts=thread_ts,
            message_ts=pressed.message_ts, deadline=press_deadline())
        reason = refusal(admission.status, retry_in=admission.retry_in,
                         limit=services.settings.user_requests_per_minute)
        if reason:
            services.jobs.background(flows.tell(place, reason), name="button-refusal")

    async def _version(body: dict[str, Any], pressed: Press,
                       action: dict[str, Any]) -> tuple[ThreadKey, str, dict[str, Any] | None] | None:
        """(thread, label, its version row if the thread still has it) for a press that names its version
        consistently: the value's image and version, the block_id built from them, one of the message's own
        buttons, and no other image under that label in the message's thread. (The store keeps no record of which
        message carries which buttons, so Slack's copy of the message is what the press is checked against.)
        None, logged, for a press that does not add up."""
        try:
            image_id, label = views.read_result_value(action.get("value") or "")
        except ValueError:
            log_refused(pressed, action, "not a result button value")
            return None
        if action.get("block_id") != views.result_block_id(image_id, label):
            log_refused(pressed, action, "block_id and value disagree")
            return None
        if not in_message(body, action) or not pressed.thread_ts:
            log_refused(pressed, action, "not one of the message's buttons")
            return None
        key = ThreadKey(pressed.team_id, pressed.channel_id, pressed.thread_ts)
        version = await db(store.version, key, label)
        if version is not None and version["image_id"] != image_id:
            log_refused(pressed, action, "the thread's version shows another image")
            return None
        return key, label, version

    for action_id in (views.RETRY, views.UNDO, views.USE, views.HIGH_QUALITY, views.VARIATIONS):
        app.action(action_id)(within_ack(press, flows.tell, services.jobs.background, explain))


def _request(action_id: str, kind: str, payload: dict[str, Any], label: str,
             parent: str | None) -> tuple[str | None, dict[str, Any]]:
    """The job a button asks for: (kind, payload), or (None, {"text": why not})."""
    if action_id == views.USE:
        return "edit", {"text": f"use {label}", "attachments": []}
    if action_id == views.UNDO:
        if parent is None:
            return None, {"text": f"{label} was not made from another image: there is nothing to undo."}
        return "edit", {"text": f"use {parent}", "attachments": []}
    extra = {views.RETRY: "", views.HIGH_QUALITY: " --quality high", views.VARIATIONS: " --n 3"}[action_id]
    if kind == "generate":
        options = dict(payload["options"])
        if action_id == views.HIGH_QUALITY:
            options["quality"] = "high"
        if action_id == views.VARIATIONS:
            options["n"] = 3
        return "generate", {**payload, "options": options, "card": False}
    text = payload.get("text", "")
    base = f"{parent}: " if parent else ""  # the same starting point as the original edit
    return "edit", {**payload, "text": f"{base}{_without_base(text)}{extra}"}


def _without_base(text: str) -> str:
    """An edit's words without a leading "v2:" (the button supplies the base)."""
    command = parse_reply(text)
    return command.text if isinstance(command, Edit) else text
