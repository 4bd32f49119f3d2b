"""Events API events other than messages: the App Home tab (home), and uninstalls and revoked tokens (install)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.runtime.services import Services
from handlers.delivery.jobs import Delivery
from handlers.listeners.events import home, install


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    home.register(app, services, delivery)
    install.register(app, services, delivery)
