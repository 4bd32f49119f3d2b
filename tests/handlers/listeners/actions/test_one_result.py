"""One result per request (issue 15), through the real app against the Slack stand-in: a request's images come in
one upload with one actions message naming them (Use a, Use b, Use c…), "Make it high quality" is offered only
under a result that is not, and an answered confirmation is replaced where it was, its answer in the thread."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from handlers.ui import results as views
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from storage.records import ThreadKey
from tests.conftest import WorkspaceFactory
from tests.handlers.listeners.actions.test_versions import press_payload, start

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
EXPENSIVE = "a cathedral --size landscape --quality high --n 4"  # above the default confirmation threshold


@pytest.fixture
async def workspace(workspace_factory: WorkspaceFactory) -> LocalWorkspace:
    return await workspace_factory(user_requests_per_minute=100)


def actions_messages(slack: SlackStandIn, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.thread(CHANNEL, thread_ts)
            if any(b.get("type") == "actions" for b in m.get("blocks") or [])]


def labels(message: dict[str, Any]) -> list[str]:
    return [e["text"]["text"] for b in message["blocks"] if b.get("type") == "actions" for e in b["elements"]]


def top_level(slack: SlackStandIn) -> list[str]:
    return [m["ts"] for m in slack.messages(CHANNEL) if m.get("thread_ts", m["ts"]) == m["ts"]]


async def test_three_images_come_in_one_upload_with_one_message_whose_buttons_name_them(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await start(slack, workspace, "a fox --n 3")
    uploads = [m for m in slack.thread(CHANNEL, thread_ts) if m.get("files")]
    assert len(uploads) == 1 and len(uploads[0]["files"]) == 3  # one upload, the three images in it
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
    [buttons] = actions_messages(slack, thread_ts)
    assert labels(buttons) == ["Use a", "Use b", "Use c", "Retry", "Make it high quality", "Variations"]
    assert buttons["text"] == "What next for v1a/v1b/v1c?"

    [block] = [b for b in buttons["blocks"] if b.get("type") == "actions"]
    use_b = next(e for e in block["elements"] if e["text"]["text"] == "Use b")
    payload = press_payload(slack, thread_ts, buttons, use_b["action_id"], use_b["value"], block["block_id"])
    assert (await slack.send_interaction(payload)).status == 200
    await workspace.settle()
    store = workspace.services.images.store
    key = ThreadKey(slack.team_id, CHANNEL, thread_ts)
    current = store.get_thread(key).last_image_id
    assert next(r["label"] for r in store.versions(key) if r["image_id"] == current) == "v1b"
    assert any("The next edit uses v1b" in m.get("text", "") for m in slack.thread(CHANNEL, thread_ts))
    assert len(image_api.requests) == 1  # Use b called no API

    # The Use c button's value carried to the Use b button's action is not one of the message's buttons.
    use_c = next(e for e in block["elements"] if e["text"]["text"] == "Use c")
    forged = press_payload(slack, thread_ts, buttons, use_b["action_id"], use_c["value"], block["block_id"])
    assert (await slack.send_interaction(forged)).status == 200
    await workspace.settle()
    assert next(r["label"] for r in store.versions(key)
                if r["image_id"] == store.get_thread(key).last_image_id) == "v1b"


async def test_make_it_high_quality_is_not_offered_under_a_high_quality_result(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    high = await start(slack, workspace, "a fox --quality high")
    [under_high] = actions_messages(slack, high)
    assert "Make it high quality" not in labels(under_high) and "Use this one" in labels(under_high)
    low = await start(slack, workspace, "a fox --quality low")
    [under_low] = actions_messages(slack, low)
    assert labels(under_low) == ["Retry", "Use this one", "Make it high quality", "Variations"]


async def test_an_answered_confirmation_is_replaced_where_it_was_and_answers_in_the_thread(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, EXPENSIVE)
    await workspace.settle()
    [prompt] = [copy.deepcopy(m) for m in slack.messages(CHANNEL) for b in m.get("blocks") or []
                if b.get("block_id") == views.CONFIRMATION_BLOCK]  # as the presser's Slack shows it
    thread_ts = prompt["thread_ts"]
    assert thread_ts != prompt["ts"]  # asked in the card's thread
    channel_before = top_level(slack)
    [generate] = [e for b in prompt["blocks"] if b.get("block_id") == views.CONFIRMATION_BLOCK
                  for e in b["elements"] if e["action_id"] == views.CONFIRM]

    payload = press_payload(slack, thread_ts, prompt, views.CONFIRM, generate["value"], views.CONFIRMATION_BLOCK)
    assert (await slack.send_interaction(payload)).status == 200
    await workspace.settle()
    replaced = next(m for m in slack.thread(CHANNEL, thread_ts) if m["ts"] == prompt["ts"])
    assert "confirmed; making it now" in replaced["text"]
    assert not [b for b in replaced.get("blocks") or [] if b.get("type") == "actions"]  # no live buttons left
    assert len(image_api.requests) == 1 and top_level(slack) == channel_before  # nothing new in the channel
    assert not [e for e in slack.ephemerals(user_id=ALICE) if not e.get("thread_ts")]

    stale = press_payload(slack, thread_ts, prompt, views.CONFIRM, generate["value"], views.CONFIRMATION_BLOCK)
    assert (await slack.send_interaction(stale)).status == 200  # a copy of the prompt from before it was replaced
    await workspace.settle()
    [answered] = [e for e in slack.ephemerals(user_id=ALICE) if e["text"] == "That was answered already."]
    assert answered["thread_ts"] == thread_ts and len(image_api.requests) == 1
