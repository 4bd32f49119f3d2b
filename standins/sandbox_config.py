"""What the sandbox runs with: which image provider, and on which host."""

from __future__ import annotations

import ipaddress

import httpx

from bot.providers.batches import BatchAPI
from bot.providers.targets import OpenAITarget
from bot.settings import Settings
from standins.images_api import ImageAPIStandIn

BATCH_POLL_SECONDS = 2  # the sandbox's batches end in seconds: imagebot looks at them as often


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


async def batch_standin() -> tuple[ImageAPIStandIn, BatchAPI, httpx.AsyncClient]:
    """The offline sandbox's Batch API: the image API stand-in on loopback, on the real clock, with stages of a
    second or two (OpenAI's take minutes to hours), so `/image batch` runs end to end without a key. Its images
    are the stand-in's drawings, and what they cost is priced but not billed."""
    api = ImageAPIStandIn()
    api.batch_validating_seconds, api.batch_line_seconds, api.batch_cancelling_seconds = 2.0, 1.0, 2.0
    await api.start()
    http = httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(30.0))
    return api, BatchAPI(http, OpenAITarget(api.openai_base_url, api.api_key)), http
