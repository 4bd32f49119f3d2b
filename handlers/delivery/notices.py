"""Notices to a workspace's admins, in its report channel: budget marks crossed, a model the API says is gone,
ModelWatch's news. (Delivery's notify_team / notify_admins / report_channel.)"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.errors import ImagebotError
from bot.runtime.services import Services
from bot.usecases import posting
from handlers.workspaces import Workspaces

log = logging.getLogger(__name__)


class Notices:
    def __init__(self, services: Services, workspaces: Workspaces) -> None:
        self.services, self.images, self.workspaces = services, services.images, workspaces
        self.slack = workspaces.client

    async def model_gone(self, model: str, team_id: str) -> None:
        """The API said a model is gone: its workspace's admins hear it once (per model, across restarts)."""
        key = f"model-unavailable:{team_id}:{model}"
        if not await self.images.claim_notice(key):
            return
        text = (f":warning: The image API refused `{model}` as shut down or unknown, so requests for it fail (nothing "
                "is charged). Set IMAGEBOT_MODEL to a live model; `imagebot doctor` lists what the key can use.")
        if not await self.team(team_id, text):
            await self.images.release_notice(key)

    async def team(self, team_id: str, text: str) -> bool:
        """Post `text` (a budget alert, a model notice) to a workspace's report channel; False when there is none or
        Slack refused it (logged with the text, so it is not lost)."""
        channel = await self.report_channel(team_id)
        if channel is None:
            log.warning("admin notice (no report channel to post it to): %s", text)
            return False
        try:
            await (await self.slack(team_id)).chat_postMessage(channel=channel, text=text)
        except (SlackApiError, ImagebotError) as error:
            log.warning("could not post an admin notice to %s (%s): %s", team_id, error, text)
            return False
        return True

    async def admins(self, text: str) -> bool:
        """Post `text` to every workspace's report channel (ModelWatch's notices); False when none took it."""
        posted = [await self.team(team, text) for team in await self.workspaces.teams()]
        return any(posted)

    async def report_channel(self, team_id: str) -> str | None:
        """Where a workspace's reports and budget alerts go: the channel its admins chose with `/image-admin
        report-channel`, else (single workspace) IMAGEBOT_REPORT_CHANNEL."""
        return await posting.report_channel(
            self.images, team_id, fallback=None if self.workspaces.multi else self.services.settings.report_channel)
