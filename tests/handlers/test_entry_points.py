"""Image threads that start where slash commands cannot: a mention with an image, and direct messages."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.slack_views import input_images, sha

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


def png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), color).save(out, format="PNG")
    return out.getvalue()




def bot_files(slack: SlackStandIn, channel: str, thread_ts: str) -> list[dict]:
    return [m for m in slack.thread(channel, thread_ts) if m.get("bot_id") and m.get("files")]


async def test_a_mention_with_an_image_starts_an_image_thread_with_it_as_v1(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    photo = png()
    root = await slack.post_message(ALICE, CHANNEL, f"<@{slack.bot_user_id}> turn this into a watercolour",
                                    files=[("photo.png", photo, "image/png")])
    await workspace.settle()
    assert len(image_api.requests) == 1  # the message and app_mention events made one job
    edit = image_api.requests[0]
    assert [sha(d) for _, _, d in input_images(edit)] == [sha(photo)]
    assert edit.params()["prompt"] == "turn this into a watercolour"
    [result] = bot_files(slack, CHANNEL, root["ts"])
    assert "*v2* (from v1)" in result["text"]
    await slack.post_message(ALICE, CHANNEL, "now make it night", thread_ts=root["ts"])  # the thread edits on
    await workspace.settle()
    assert sha(input_images(image_api.requests[-1])[0][2]) == sha(slack.file_bytes(result["files"][0]["id"]))


async def test_a_mention_without_an_image_gets_a_hint_and_no_call(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    await slack.post_message(ALICE, CHANNEL, f"<@{slack.bot_user_id}> hello")
    await workspace.settle()
    assert not image_api.requests
    assert any("Attach an image" in e.get("text", "") for e in slack.ephemerals(user_id=ALICE))


async def test_a_direct_message_is_a_generation_in_its_thread_and_replies_edit(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    slack.add_channel("D0ALICE", "alice-dm", is_im=True, members=[ALICE])
    root = await slack.post_message(ALICE, "D0ALICE", "a lighthouse at dusk --size landscape")
    await workspace.settle()
    [generation] = image_api.requests
    assert generation.json["prompt"] == "a lighthouse at dusk" and generation.json["size"] == "1536x1024"
    [result] = bot_files(slack, "D0ALICE", root["ts"])
    assert "*v1*" in result["text"]
    assert not [m for m in slack.messages("D0ALICE") if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]]
    reactions = [c.params.get("name") for c in slack.calls_to("reactions.add")]
    assert "hourglass_flowing_sand" in reactions  # progress on the user's own message, not a card

    await slack.post_message(ALICE, "D0ALICE", "make the sky purple", thread_ts=root["ts"])
    await workspace.settle()
    assert image_api.requests[-1].operation == "edits"
    assert sha(input_images(image_api.requests[-1])[0][2]) == sha(slack.file_bytes(result["files"][0]["id"]))
