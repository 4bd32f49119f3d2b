"""block_actions: the buttons under each result (results), and the ones that recover an interrupted request or
an upload Slack refused (recovery). `presses` checks that a press belongs to the message it was pressed in."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime.services import Services
from handlers.delivery.jobs import Delivery
from handlers.listeners.actions import recovery, results


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    recovery.register(app, services, delivery)
    results.register(app, services, delivery)
