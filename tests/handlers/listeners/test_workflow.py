"""The Workflow Builder step, through the real app: the Slack stand-in runs the step as Workflow Builder does (a
function_executed event, the run waiting for functions.completeSuccess / completeError), the image API stand-in
makes the image. Every run ends completed or failed, with words a workflow's author understands, never pending:
not after a refusal, a fault, a redelivery or a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from handlers.manifest import WORKFLOW_STEP, workflow_step
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from storage.store import Store
from tests.conftest import WorkspaceFactory
from tests.handlers.test_reliability import Records, wait_announced
from tests.slack_views import card_text, cards, image_replies

pytestmark = pytest.mark.anyio
ALICE, CHANNEL = "U0ALICE", "C0GENERAL"
WAIT = 60.0  # a bound for what the app does in the background, never a delay


@pytest.fixture(autouse=True)
def step_defined(slack: SlackStandIn) -> None:
    slack.define_function(WORKFLOW_STEP, workflow_step())  # the app's manifest, as Slack knows it


async def settled(workspace: LocalWorkspace) -> list[dict[str, Any]]:
    """The jobs once the queue has settled them: the run ends (completeError) before its job's row is written."""
    await workspace.settle(WAIT)
    return list(await Records(workspace).jobs())


async def run(slack: SlackStandIn, **inputs: Any) -> tuple[str, dict[str, Any]]:
    execution, delivery = await slack.run_function(WORKFLOW_STEP, {"user_id": ALICE, **inputs})
    assert delivery.status == 200, delivery
    return execution, await slack.wait_for_execution(execution, WAIT)


async def test_a_step_posts_the_image_and_completes_with_its_outputs(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    _, done = await run(slack, prompt="a lighthouse at dusk", channel=CHANNEL, size="landscape", quality="low")
    assert done["state"] == "completed", done
    outputs = done["outputs"]
    [card] = cards(slack)
    [reply] = image_replies(slack, card["ts"])
    [file] = reply["files"]
    assert outputs["file_id"] == file["id"] and outputs["permalink"] == slack.file(file["id"])["permalink"]
    assert outputs["version"] == "v1" and outputs["cost_usd"] > 0
    [call] = image_api.requests
    assert call.json["prompt"] == "a lighthouse at dusk" and (call.json["size"], call.json["quality"]) == (
        "1536x1024", "low")
    [entry] = await Records(workspace).ledger()
    assert (entry["kind"], entry["user_id"], entry["channel_id"]) == ("workflow", ALICE, CHANNEL)
    assert round(entry["cost_micro"] / 1_000_000, 6) == outputs["cost_usd"]  # the ledger's figure, from usage
    assert "Done" in card_text(card)
    assert f"*<@{ALICE}> asked for an image with a workflow*" in card_text(card)  # they ran it, typed nothing
    assert card["text"] == f"<@{ALICE}> asked for an image with a workflow: a lighthouse at dusk"


async def test_without_a_channel_the_image_goes_to_the_person_asking(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    _, done = await run(slack, prompt="a red kite")
    assert done["state"] == "completed", done
    [job] = await Records(workspace).jobs()
    assert job["channel_id"].startswith("D")  # the DM Slack named when the card was posted there
    [reply] = image_replies(slack, job["thread_ts"], channel=job["channel_id"])
    assert reply["files"][0]["id"] == done["outputs"]["file_id"]


@pytest.mark.parametrize(("inputs", "words"), [
    ({"prompt": "   "}, "needs a prompt"),
    ({"prompt": "a cat", "quality": "ultra"}, "quality ultra"),
    ({"prompt": "a cat", "model": "gpt-image-1"}, "gpt-image-1"),
    ({"prompt": "a cat", "user_id": "not-a-user"}, "Asked by"),
])
async def test_what_cannot_be_made_fails_the_step_at_once_in_plain_words(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, inputs: dict[str, Any],
        words: str) -> None:
    _, failed = await run(slack, **inputs)
    assert failed["state"] == "failed" and words in failed["error"], failed
    assert ":" not in failed["error"].split()[0] and "`" not in failed["error"]  # no emoji codes, no mrkdwn
    assert not image_api.requests and not await Records(workspace).jobs()


async def test_a_budget_refusal_fails_the_step_and_charges_nothing(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(user_daily_budget_micro=1)
    _, failed = await run(slack, prompt="a lighthouse", channel=CHANNEL)
    assert failed["state"] == "failed" and "budget" in failed["error"].lower(), failed
    assert not image_api.requests
    assert [r["status"] for r in await settled(workspace)] == ["failed"]


async def test_a_channel_imagebot_may_not_post_in_fails_the_step(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    await workspace_factory(denied_channels=frozenset({CHANNEL}))
    _, failed = await run(slack, prompt="a lighthouse", channel=CHANNEL)
    assert failed["state"] == "failed" and "not enabled in that channel" in failed["error"]
    assert not image_api.requests


async def test_a_moderation_block_fails_the_step_with_the_reason(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    image_api.moderation_blocked()
    _, failed = await run(slack, prompt="something refused", channel=CHANNEL)
    assert failed["state"] == "failed" and "safety" in failed["error"].lower(), failed


async def test_a_redelivered_event_is_one_job_and_one_image(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    image_api.pause()
    execution, first = await slack.run_function(WORKFLOW_STEP, {"user_id": ALICE, "prompt": "once", "channel": CHANNEL})
    again = await slack.redeliver_function(execution, first)
    assert (first.status, again.status) == (200, 200)
    image_api.resume()
    done = await slack.wait_for_execution(execution, WAIT)
    await workspace.settle()
    assert done["state"] == "completed"
    assert len(await Records(workspace).jobs()) == 1 and len(image_api.requests) == 1


async def test_a_restart_mid_image_fails_the_step_instead_of_leaving_it_pending(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    image_api.pause()
    execution, delivery = await slack.run_function(WORKFLOW_STEP, {"user_id": ALICE, "prompt": "cut short",
                                                                    "channel": CHANNEL})
    assert delivery.status == 200
    await image_api.wait_for_waiting(1, timeout=WAIT)
    await asyncio.wait_for(first.stop(grace=0.2), WAIT)
    run = slack.execution(execution)
    assert run["state"] == "failed" and "restarted" in run["error"], run
    image_api.resume()


async def test_a_step_queued_at_a_restart_completes_after_it(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory(max_concurrent=1)
    image_api.pause()
    await slack.send_command(ALICE, CHANNEL, "the running one")
    await image_api.wait_for_waiting(1, timeout=WAIT)
    execution, _ = await slack.run_function(WORKFLOW_STEP, {"user_id": "U0BOB", "prompt": "in line",
                                                            "channel": CHANNEL})
    await wait_announced(first.services, 2)
    await asyncio.wait_for(first.stop(grace=0.2), WAIT)
    assert slack.execution(execution)["state"] == "running"  # queued, not started: it runs after the restart
    store = Store.open(first.settings.data_dir)
    try:
        assert [r["status"] for r in store.db.query("SELECT status FROM jobs ORDER BY id")] == [
            "interrupted", "queued"]
    finally:
        store.close()
    image_api.resume()
    second = await workspace_factory(max_concurrent=1)
    done = await slack.wait_for_execution(execution, WAIT)
    await second.settle()
    assert done["state"] == "completed" and done["outputs"]["file_id"]


async def test_outputs_slack_refuses_still_end_the_run(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    definition = workflow_step()
    definition["output_parameters"]["properties"]["file_id"]["type"] = "integer"  # Slack's check now refuses it
    slack.define_function(WORKFLOW_STEP, definition)
    _, failed = await run(slack, prompt="a lighthouse", channel=CHANNEL)
    assert failed["state"] == "failed" and "parameter_validation_failed" in failed["error"], failed


async def test_a_channel_without_the_bot_fails_the_step_with_how_to_fix_it(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    slack.add_channel("C0QUIET", "quiet", members=[ALICE])  # imagebot was never invited
    _, failed = await run(slack, prompt="a lighthouse", channel="C0QUIET")
    assert failed["state"] == "failed" and "not_in_channel" in failed["error"] and "/invite" in failed["error"]
    assert not image_api.requests
    [job] = await settled(workspace)
    assert (job["status"], job["error_code"]) == ("failed", "not_announced")
