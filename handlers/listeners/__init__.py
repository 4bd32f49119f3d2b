"""Bolt listeners, one module (or package) per Slack surface; this is the routing table."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime.services import Services
from handlers.delivery.jobs import Delivery
from handlers.listeners import actions, admin, batches, commands, events, messages, middleware, views, workflow


def register_all(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    middleware.register(app, services, delivery)
    commands.register(app, services, delivery)
    messages.register(app, services, delivery)
    actions.register(app, services, delivery)
    admin.register(app, services, delivery)
    views.register(app, services, delivery)
    events.register(app, services, delivery)
    workflow.register(app, services, delivery)
    batches.register(app, services, delivery)
