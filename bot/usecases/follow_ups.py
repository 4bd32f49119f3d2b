"""What a press on one of a result's buttons asks for: a new job like any other (deduped, durable, budget-checked).

    retry          the same request again (an edit starts again from the same version)
    undo           the next edit uses the version this one was made from (no API call), answered as the
                   `undo` reply is
    use            the next edit uses this version (no API call)
    high_quality   the same request at quality high
    variations     three more of the same request

The press names its version by label and image; the thread must still show that image under that label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.rules.replies import Edit, parse_reply
from bot.runtime.db_thread import DbThread
from storage.records import ThreadKey

Button = Literal["retry", "undo", "use", "high_quality", "variations"]
_EXTRA: dict[Button, str] = {"retry": "", "high_quality": " --quality high", "variations": " --n 3", "use": "",
                             "undo": ""}


@dataclass(frozen=True)
class FollowUp:
    """The job a button asks for."""

    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class NotAsked:
    """Why a press asks for nothing: the thread shows another image under the label (`mismatch`), the version or
    the request that made it is gone (`gone`), or there is nothing to undo (`no_parent`)."""

    reason: Literal["mismatch", "gone", "no_parent"]


async def follow_up(db: DbThread, key: ThreadKey, label: str, image_id: str, button: Button, *,
                    until: float | None) -> FollowUp | NotAsked:
    """The job a press on the buttons under `label` (showing `image_id`) in the thread `key` asks for. Its reads
    keep to `until` (a time.monotonic() deadline: the press's ack)."""
    store = db.store
    version = await db.attempt(store.version, key, label, until=until)
    if version is not None and version["image_id"] != image_id:
        return NotAsked("mismatch")
    origin = await db.attempt(store.get_job, version["job_id"], until=until) if version and version["job_id"] else None
    if version is None or origin is None:
        return NotAsked("gone")
    parent = (await db.attempt(store.version_of, key, version["parent_image_id"], until=until)
              if version["parent_image_id"] else None)
    return request_for(button, origin.kind, origin.payload, label, parent["label"] if parent else None)


def request_for(button: Button, kind: str, payload: dict[str, Any], label: str,
                parent: str | None) -> FollowUp | NotAsked:
    """The job a button asks for, from the request that made the version (`kind`, `payload`) and the label of the
    version it was made from (`parent`)."""
    if button == "use":
        return FollowUp("edit", {"text": f"use {label}", "attachments": []})
    if button == "undo":
        if parent is None:
            return NotAsked("no_parent")
        return FollowUp("edit", {"text": f"undo to {parent}", "attachments": []})
    if kind == "generate":
        options = dict(payload["options"])
        if button == "high_quality":
            options["quality"] = "high"
        if button == "variations":
            options["n"] = 3
        return FollowUp("generate", {**payload, "options": options, "card": False})
    text = payload.get("text", "")
    base = f"{parent}: " if parent else ""  # the same starting point as the original edit
    return FollowUp("edit", {**payload, "text": f"{base}{_without_base(text)}{_EXTRA[button]}"})


def _without_base(text: str) -> str:
    """An edit's words without a leading "v2:" (the button supplies the base)."""
    command = parse_reply(text)
    return command.text if isinstance(command, Edit) else text
