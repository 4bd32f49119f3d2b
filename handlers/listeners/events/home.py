"""The App Home tab: when a user opens it, their own summary is published there with views.publish.

Slack sends `app_home_opened` each time someone opens the app's Home or Messages tab. The listener only reads
the event and returns (Bolt acks it); the queries and views.publish run after, as a background task. A
redelivered event publishes the same view again, which is harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from handlers.delivery import Flows
from handlers.listeners.middleware import team_of
from handlers.ui.home import HomeSummary, build_home

log = logging.getLogger(__name__)
RECENT_IMAGES = 5


async def home_summary(services: Services, team_id: str, user_id: str, now: datetime | None = None) -> HomeSummary:
    """The user's spend this month and today, the user and workspace budgets that apply to them, and their latest
    images, all within `team_id`."""
    images = services.images
    now = now or datetime.now(images.budgets.tz)
    # No channel here: a channel's budget depends on where the user asks (/image usage there shows it).
    standing = await images.budgets.standing(team_id, user_id, "", now)
    recent = await images.recent_images(team_id, user_id, RECENT_IMAGES)
    return HomeSummary(user_id=user_id, month_label=now.astimezone(images.budgets.tz).strftime("%B %Y"),
                       month_micro=standing.month_micro, today_micro=standing.today_micro,
                       timezone=services.settings.timezone, budgets=standing.budgets, recent=tuple(recent),
                       offline=services.settings.provider == "offline")


def register(app: AsyncApp, services: Services, flows: Flows) -> None:
    async def home_opened(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not user:
            return  # the Messages tab: nothing to publish
        team = team_of(body)
        # `client` carries this request's workspace token, so the view goes to the workspace the event came from.
        services.jobs.background(publish(client, team, user), name="home")

    async def publish(client: AsyncWebClient, team_id: str, user_id: str) -> None:
        view = build_home(await home_summary(services, team_id, user_id))
        try:
            await client.views_publish(user_id=user_id, view=view)
        except SlackApiError as error:
            # Most likely the Home tab is not switched on for the app (manifest: features.app_home).
            log.warning("could not publish the App Home for %s: %s", user_id,
                        error.response.get("error", "unknown_error"))

    app.event("app_home_opened")(home_opened)
