"""What the sandbox runs with: which image provider, and on which host."""

from __future__ import annotations

import ipaddress

from bot.settings import Settings


def image_provider(settings: Settings) -> str:
    """The provider the sandbox uses: the configured one when its API key is set, else the offline renderer."""
    if settings.provider == "openai" and settings.openai_api_key:
        return "openai"
    if settings.provider == "azure" and settings.azure_endpoint and settings.azure_api_key:
        return "azure"
    return "offline"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
