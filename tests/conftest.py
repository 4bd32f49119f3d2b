"""Shared fixtures. Async tests run on anyio's pytest plugin (shipped with httpx's anyio dependency).

The far side of every wire is a stand-in on loopback: `slack` (standins/slack/) and `image_api`
(standins/images_api/). `workspace` starts the real imagebot app against them over signed HTTP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.money.catalogue import Catalogue
from bot.providers.batches import BatchAPI
from bot.providers.image_api import ImageAPI
from bot.providers.targets import AzureTarget, OpenAITarget
from bot.settings import Settings
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace, settings_for


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_slack_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bolt and slack_sdk fall back to SLACK_* variables; tests must never see the developer's."""
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID",
                 "SLACK_CLIENT_SECRET", "OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as standin:
        yield standin


@pytest.fixture
async def image_api() -> AsyncIterator[ImageAPIStandIn]:
    async with ImageAPIStandIn() as standin:
        yield standin


@dataclasses.dataclass
class Sleeps:
    """Records the retry waits the image client asked for, without waiting: a clock seam, not a fake API."""

    delays: list[float] = dataclasses.field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


WorkspaceFactory = Callable[..., Awaitable[LocalWorkspace]]


@pytest.fixture
async def workspace_factory(slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path,
                            sleeps: Sleeps) -> AsyncIterator[WorkspaceFactory]:
    """Start the real app against the stand-ins; `provider` is openai (default), azure or offline.

    Call it again with the same data dir to model a restart (stop the first one before)."""
    started: list[LocalWorkspace] = []
    clients: list[httpx.AsyncClient] = []

    async def start(provider: str = "openai", **overrides: Any) -> LocalWorkspace:
        base = Settings(provider=provider, openai_api_key=image_api.api_key, openai_base_url=image_api.openai_base_url)
        if provider == "azure":
            # The stand-in's deployment serves gpt-image-1, which Azure still offers under limited access:
            # IMAGEBOT_MODEL names the deployment's model.
            base = dataclasses.replace(base, azure_endpoint=image_api.azure_endpoint, model="gpt-image-1",
                                       azure_api_key=image_api.azure_api_key, azure_deployment="gpt-image-1")
        settings = settings_for(slack, tmp_path / "data", base, **overrides)
        api, batches = None, None
        if provider in ("openai", "azure"):
            http = httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False)
            clients.append(http)
            target = (OpenAITarget(settings.openai_base_url, settings.openai_api_key or "") if provider == "openai"
                      else AzureTarget(settings.azure_endpoint or "", settings.azure_api_key or "",
                                       settings.azure_deployment or "", settings.azure_api_version))
            api = ImageAPI(http, target, sleep=sleeps,
                           end_user_field=Catalogue.load().provider(provider).end_user_field)
            if isinstance(target, OpenAITarget):  # `/image batch`: the same stand-in, the same unwaited retries
                batches = BatchAPI(http, target, sleep=sleeps)
        workspace = LocalWorkspace(settings, slack, provider=api, batch_client=batches)
        await workspace.start()
        started.append(workspace)
        return workspace

    yield start
    for workspace in started:
        await workspace.stop()
    for client in clients:
        await client.aclose()


@pytest.fixture
async def workspace(workspace_factory: WorkspaceFactory) -> LocalWorkspace:
    return await workspace_factory()


async def token_checked(slack: SlackStandIn, times: int = 1) -> None:
    """Until the stand-in has seen `times` auth.test calls: imagebot checks its token when it starts
    (Workspaces.warm), in the background. Bounded; never a timing a test depends on."""
    await slack.wait_for(lambda: len(slack.calls_to("auth.test")) >= times, 30)
