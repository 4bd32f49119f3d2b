"""A slash command's job, submitted the one way /image and /image batch both do it."""

from __future__ import annotations

import uuid
from typing import Any

from bot.runtime.services import Services
from handlers.ui.errors import refusal


async def submit_command(services: Services, command: dict[str, Any], *, kind: str, payload: dict[str, Any]) -> str:
    """Submit the command's job; what to ack with: why it was not taken, or "" when it was. A command redelivered
    (Socket Mode resends unacked envelopes) carries the same trigger_id, so it is the same job."""
    trigger = command.get("trigger_id") or uuid.uuid4().hex
    admission = await services.jobs.submit(
        dedupe_key=f"command:{command['team_id']}:{trigger}", kind=kind, team_id=command["team_id"],
        channel_id=command["channel_id"], user_id=command["user_id"], payload=payload,
        response_url=command.get("response_url"))
    return refusal(admission.status, retry_in=admission.retry_in,
                   limit=services.settings.user_requests_per_minute) or ""
