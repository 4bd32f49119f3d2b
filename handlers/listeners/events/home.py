"""The App Home tab: when a user opens it, their own summary is published there with views.publish.

Slack sends `app_home_opened` each time someone opens the app's Home or Messages tab. The listener only reads
the event and returns (Bolt acks it); the queries and views.publish run after, as a background task. A
redelivered event publishes the same view again, which is harmless.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.services import Services
from bot.usecases.home import home_summary
from handlers.delivery.jobs import Delivery
from handlers.listeners.middleware import team_of
from handlers.ui.home import build_home

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    async def home_opened(body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not user:
            return  # the Messages tab: nothing to publish
        team = team_of(body)
        # `client` carries this request's workspace token, so the view goes to the workspace the event came from.
        services.jobs.background(publish(client, team, user), name="home")

    async def publish(client: AsyncWebClient, team_id: str, user_id: str) -> None:
        view = build_home(await home_summary(services.images, services.settings, team_id, user_id))
        try:
            await client.views_publish(user_id=user_id, view=view)
        except SlackApiError as error:
            # Most likely the Home tab is not switched on for the app (manifest: features.app_home).
            log.warning("could not publish the App Home for %s: %s", user_id,
                        error.response.get("error", "unknown_error"))

    app.event("app_home_opened")(home_opened)
