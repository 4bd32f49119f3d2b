"""The real imagebot app served over HTTP on loopback and wired to the Slack stand-in.

Used by the sandbox, the offline demo and the scenario tests: the app is built and started by the composition
root (imagebot/compose.py) exactly as `imagebot serve --http` starts it, and the stand-in delivers signed requests
to its /slack/events endpoint as Slack would.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from bot.providers.base import ImageProvider
from bot.providers.batches import BatchAPI
from bot.runtime.services import Services
from bot.settings import Settings
from handlers.manifest import EVENTS_PATH
from imagebot.compose import Imagebot
from standins.slack import SlackStandIn


def settings_for(slack: SlackStandIn, data_dir: Path, base: Settings | None = None, **overrides: Any) -> Settings:
    """Settings that point imagebot at the stand-in (and keep everything else from `base`)."""
    return dataclasses.replace(
        base or Settings(),
        slack_bot_token=slack.bot_token,
        slack_signing_secret=slack.signing_secret,
        slack_app_token=None,
        slack_api_url=slack.api_url,
        data_dir=data_dir,
        **overrides,
    )


class LocalWorkspace:
    def __init__(self, settings: Settings, slack: SlackStandIn, *, provider: ImageProvider | None = None,
                 progress_interval: float = 20.0, batch_client: BatchAPI | None = None) -> None:
        self.settings = settings
        self.slack = slack
        self._provider = provider
        self._batch_client = batch_client  # the Batch API `/image batch` uses instead of the settings' one
        self._progress_interval = progress_interval
        self.bot: Imagebot | None = None

    @property
    def services(self) -> Services | None:
        """The running app's services; None before `start()` and after `stop()`."""
        return self.bot.services if self.bot is not None else None

    async def start(self) -> LocalWorkspace:
        self.bot = Imagebot.build(self.settings, provider=self._provider, progress_interval=self._progress_interval,
                                  batch_client=self._batch_client)
        await self.bot.start(host="127.0.0.1", port=0)  # as `imagebot serve --http`: recovery before serving
        self.slack.app_request_url = f"http://127.0.0.1:{self.bot.port}{EVENTS_PATH}"
        return self

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until every job the app accepted has finished and Slack has delivered its echoes."""
        assert self.services is not None
        if not await self.services.jobs.wait_idle(timeout):
            raise TimeoutError(f"imagebot jobs still running after {timeout}s")
        await self.slack.drain()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop as SIGTERM does: no new requests, running jobs get `grace` seconds, the rest are interrupted."""
        if self.bot is not None:
            await self.bot.stop(grace=grace)
            self.bot = None

    async def __aenter__(self) -> LocalWorkspace:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
