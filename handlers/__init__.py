"""The Slack edge. One module per Slack surface; this is the routing table."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services import Services
from handlers import actions, admin, buttons, commands, home, install, middleware, modals, threads
from handlers.flows import Flows


def register_all(app: AsyncApp, services: Services, flows: Flows) -> None:
    middleware.register(app, services, flows)
    commands.register(app, services, flows)
    threads.register(app, services, flows)
    actions.register(app, services, flows)
    admin.register(app, services, flows)
    modals.register(app, services, flows)
    buttons.register(app, services, flows)
    home.register(app, services, flows)
    install.register(app, services, flows)
