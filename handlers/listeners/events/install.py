"""A workspace removes imagebot or revokes its token: that workspace's stored tokens are deleted at once.

Slack sends `app_uninstalled` when the app is removed, and `tokens_revoked` when tokens are revoked (the
bot's among them). Both mean the same here: nothing can be said in that workspace any more. The workspace's
threads, images and ledger stay (its admins may reinstall; retention and backups apply as usual); only the
tokens go. Bolt's own handlers are not used: with a revoked bot token they delete the bot row but leave the
installation row, through which the dead token would still be found.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.runtime.services import Services
from handlers.delivery.jobs import Delivery

log = logging.getLogger(__name__)


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    async def forget(body: dict[str, Any], why: str) -> None:
        team, enterprise = body.get("team_id"), body.get("enterprise_id")
        if not delivery.workspaces.multi:
            log.warning("%s for workspace %s: SLACK_BOT_TOKEN no longer works; imagebot cannot answer there", why,
                        team)
            return
        await delivery.workspaces.forget(team, enterprise)

    @app.event("app_uninstalled")
    async def uninstalled(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await forget(body, "app_uninstalled")

    @app.event("tokens_revoked")
    async def revoked(ack: AsyncAck, body: dict[str, Any], event: dict[str, Any]) -> None:
        await ack()
        if (event.get("tokens") or {}).get("bot"):
            await forget(body, "tokens_revoked")
