"""Bolt listeners, one module (or package) per Slack surface; this is the routing table."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime.services import Services
from handlers.delivery import Flows
from handlers.listeners import actions, admin, commands, events, messages, middleware, views


def register_all(app: AsyncApp, services: Services, flows: Flows) -> None:
    middleware.register(app, services, flows)
    commands.register(app, services, flows)
    messages.register(app, services, flows)
    actions.register(app, services, flows)
    admin.register(app, services, flows)
    views.register(app, services, flows)
    events.register(app, services, flows)
