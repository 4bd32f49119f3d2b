"""Progress people can see: streamed previews (IMAGEBOT_PARTIAL_IMAGES) and the elapsed time while it works."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.money.tokens import output_image_tokens
from bot.providers.image_api import ImageAPI
from bot.providers.targets import OpenAITarget
from bot.settings import Settings
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace, settings_for
from tests.catalogue_helpers import caps, catalogue, default_model
from tests.conftest import Sleeps, WorkspaceFactory

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"


async def test_streamed_previews_reach_slack_then_the_final_image(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(partial_images=2)
    await slack.send_command("U0ALICE", CHANNEL, "a lighthouse")
    await workspace.settle()
    [request] = image_api.requests
    assert request.json["stream"] is True and request.json["partial_images"] == 2
    card = slack.messages(CHANNEL)[0]
    thread = slack.thread(CHANNEL, card["ts"])
    status = next(m for m in thread if "Finished in" in m.get("text", ""))
    updates = [c for c in slack.calls_to("chat.update") if c.params.get("ts") == status["ts"]
               or c.json_param("ts") == status["ts"]]
    previews = [c for c in updates if "slack_file" in str(c.params.get("blocks"))]
    assert len(previews) >= 1  # the second preview replaced the first in the same status message
    private = [c for c in slack.calls_to("files.completeUploadExternal") if not c.params.get("channel_id")]
    assert len(private) == 2  # each preview uploaded privately, shown by id
    [result] = [m for m in thread if m.get("files")]
    assert "Includes 2 streamed preview(s)" in result["text"]
    row = workspace.services.images.store.ledger_rows()[0]
    settings = workspace.services.settings
    assert request.json["model"] == default_model() and caps(default_model()).streams("png")
    image = output_image_tokens(caps(default_model()), settings.size, settings.quality)
    assert row["output_image_tokens"] == image + 2 * catalogue().inputs.partial_image_tokens  # previews, counted once


@pytest.fixture
async def ticking(slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path,
                  sleeps: Sleeps) -> AsyncIterator[LocalWorkspace]:
    """A workspace whose progress status ticks every 50 ms (instead of every 20 s); retries wait for nothing."""
    base = Settings(provider="openai", openai_api_key=image_api.api_key, openai_base_url=image_api.openai_base_url)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False) as http:
        settings = dataclasses.replace(settings_for(slack, tmp_path / "data", base))
        api = ImageAPI(http, OpenAITarget(settings.openai_base_url, settings.openai_api_key or ""), sleep=sleeps)
        workspace = LocalWorkspace(settings, slack, provider=api, progress_interval=0.05)
        await workspace.start()
        yield workspace
        await workspace.stop()


async def test_the_status_shows_elapsed_time_while_the_api_works(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                 ticking: LocalWorkspace) -> None:
    image_api.pause()
    await slack.send_command("U0ALICE", CHANNEL, "a slow lighthouse")
    await image_api.wait_for_waiting(1, timeout=30)
    status = await slack.wait_for(lambda: next((m for m in slack.messages(CHANNEL)
                                                if "Working…" in m.get("text", "")), None), timeout=30)
    assert status["text"].endswith(" s")
    image_api.resume()
    await ticking.settle()
    final = next(m for m in slack.messages(CHANNEL) if m["ts"] == status["ts"])
    assert "Finished in" in final["text"] and "the image is below" in final["text"]


async def working_status(slack: SlackStandIn) -> dict:
    return await slack.wait_for(lambda: next((m for m in slack.messages(CHANNEL)
                                              if "Working…" in m.get("text", "")), None), timeout=30)


def now(slack: SlackStandIn, message: dict) -> dict:
    return next(m for m in slack.messages(CHANNEL) if m["ts"] == message["ts"])


async def test_a_request_that_fails_after_the_status_showed_is_not_called_finished(
        slack: SlackStandIn, image_api: ImageAPIStandIn, ticking: LocalWorkspace) -> None:
    image_api.hang()
    await slack.send_command("U0ALICE", CHANNEL, "a lighthouse that never comes")
    await image_api.wait_for_requests(1, timeout=30)
    status = await working_status(slack)
    await image_api.stop()  # the hung call is cut off and the retries find nobody: the request fails
    await ticking.settle()
    final = now(slack, status)
    assert "Finished" not in final["text"] and "below" in final["text"]
    assert final["text"].startswith(":warning: No image after") and final["text"].endswith(" s: see below.")
    thread = slack.thread(CHANNEL, status["thread_ts"])
    assert not [m for m in thread if m.get("files")]
    after = [m for m in thread if m.get("bot_id") and float(m["ts"]) > float(status["ts"])]
    assert after and after[-1]["text"].startswith(":warning:")  # why, below the status


async def test_an_image_slack_refused_to_post_is_not_called_finished(
        slack: SlackStandIn, image_api: ImageAPIStandIn, ticking: LocalWorkspace) -> None:
    image_api.pause()
    await slack.send_command("U0ALICE", CHANNEL, "a lighthouse Slack will not take")
    await image_api.wait_for_waiting(1, timeout=30)
    status = await working_status(slack)
    slack.fail_next("files.completeUploadExternal", status=200, error="invalid_arguments")  # not retried
    image_api.resume()
    await ticking.settle()
    final = now(slack, status)
    assert final["text"].startswith(":warning: No image after") and "Finished" not in final["text"]
    assert any("Upload again" in str(m.get("blocks")) for m in slack.messages(CHANNEL)
               if float(m["ts"]) > float(status["ts"]))
