"""The card in the channel shows the thread's current image (issue 15): through the real app against the Slack
stand-in, which checks `slack_file` as Slack does; and Card's retries and fallback on their own."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.models import ImageOptions
from handlers.delivery import card as card_module
from handlers.delivery.card import Card, attached_file, drawn_file, posted_files
from handlers.ui.blocks import CARD_IMAGE_BLOCK_ID, CardImage, build_card
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from storage.records import PostedFile, ThreadKey
from tests import catalogue_helpers as models
from tests.conftest import Sleeps, WorkspaceFactory
from tests.handlers.test_reliability import UPLOAD_AGAIN, notices, press
from tests.handlers.test_scenarios import ALICE, CHANNEL, generate, reply
from tests.slack_views import card_text, cards, image_replies, png

pytestmark = pytest.mark.anyio


def picture(message: dict[str, Any]) -> dict[str, Any] | None:
    """The card's picture block, if it has one."""
    found = [b for b in message.get("blocks") or [] if b["type"] == "image"]
    assert len(found) <= 1
    return found[0] if found else None


def shown(slack: SlackStandIn, thread_ts: str) -> tuple[str, str] | None:
    """(file id, title) of the picture the thread's card shows now."""
    block = picture(slack.thread(CHANNEL, thread_ts)[0])
    return (block["slack_file"]["id"], block["title"]["text"]) if block else None


def result_file(slack: SlackStandIn, thread_ts: str, index: int = -1) -> str:
    return str(image_replies(slack, thread_ts)[index]["files"][0]["id"])


# through the app ---------------------------------------------------------------------------------------------
async def test_the_card_shows_each_new_version_and_follows_undo_and_use(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse at dusk")
    [card] = cards(slack)
    first = result_file(slack, thread_ts)
    assert shown(slack, thread_ts) == (first, "v1")
    assert picture(card)["alt_text"] == "a lighthouse at dusk"  # type: ignore[index]
    assert "Done" in card_text(card) and "a lighthouse at dusk" in card_text(card)

    await reply(slack, workspace, thread_ts, "make the sky purple")
    second = result_file(slack, thread_ts)
    assert second != first and shown(slack, thread_ts) == (second, "v2")
    assert "a lighthouse at dusk" in card_text(slack.thread(CHANNEL, thread_ts)[0])  # the rest of the card stays

    status = card_text(slack.thread(CHANNEL, thread_ts)[0])
    assert "Showing v2" in status and "Done: 1 image" not in status  # the status says which picture it shows

    await reply(slack, workspace, thread_ts, "undo")
    assert shown(slack, thread_ts) == (first, "v1")
    assert "Showing v1" in card_text(slack.thread(CHANNEL, thread_ts)[0])
    await reply(slack, workspace, thread_ts, "use v2")
    assert shown(slack, thread_ts) == (second, "v2")

    upload = png("blue")
    await reply(slack, workspace, thread_ts, "", files=[("mine.png", upload, "image/png")])
    mine = next(m for m in slack.thread(CHANNEL, thread_ts) if m.get("user") == ALICE and m.get("files"))
    assert shown(slack, thread_ts) == (mine["files"][0]["id"], "v3")  # the user's own file, which the bot sees
    assert slack.calls_to("conversations.replies") == []  # the card is changed from what imagebot kept


async def test_after_a_restart_undo_still_shows_the_right_picture(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace,
        workspace_factory: WorkspaceFactory) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse at dusk")
    first = result_file(slack, thread_ts)
    await reply(slack, workspace, thread_ts, "make the sky purple")
    second = result_file(slack, thread_ts)
    await workspace.stop()

    again = await workspace_factory()  # the same data dir: what was posted is known from storage
    await reply(slack, again, thread_ts, "undo")
    assert shown(slack, thread_ts) == (first, "v1")
    card = slack.thread(CHANNEL, thread_ts)[0]
    assert "a lighthouse at dusk" in card_text(card) and "1024x1024" in card_text(card)  # the rest of it stays
    assert "Showing v1" in card_text(card)
    await reply(slack, again, thread_ts, "use v2")
    assert shown(slack, thread_ts) == (second, "v2")
    assert slack.calls_to("conversations.replies") == []


async def test_a_version_from_a_users_upload_shows_its_picture_when_used_again(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse")
    first = result_file(slack, thread_ts)
    await reply(slack, workspace, thread_ts, "", files=[("mine.png", png("blue"), "image/png")])
    mine = next(m for m in slack.thread(CHANNEL, thread_ts) if m.get("user") == ALICE and m.get("files"))
    assert shown(slack, thread_ts) == (mine["files"][0]["id"], "v2")

    await reply(slack, workspace, thread_ts, "use v1")
    assert shown(slack, thread_ts) == (first, "v1")
    await reply(slack, workspace, thread_ts, "use v2")
    assert shown(slack, thread_ts) == (mine["files"][0]["id"], "v2")  # found again: kept when it became v2
    updates = slack.calls_to("chat.update")
    assert updates and slack.calls_to("conversations.replies") == []


async def test_several_images_show_the_one_the_next_edit_uses(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a fox --n 3")
    files = [f["id"] for m in image_replies(slack, thread_ts) for f in m["files"]]
    assert len(files) == 3 and shown(slack, thread_ts) == (files[0], "v1a")
    await reply(slack, workspace, thread_ts, "use b")
    assert shown(slack, thread_ts) == (files[1], "v1b")


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """The waits between the app's tries at the card, recorded instead of waited."""
    waits = Sleeps()
    monkeypatch.setattr(card_module, "pause", waits)
    return waits


async def test_a_file_slack_is_still_processing_is_tried_again_after_bounded_waits(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, waited: Sleeps) -> None:
    slack.delay_file_processing(times=2)
    thread_ts = await generate(slack, workspace, "a lighthouse")

    assert shown(slack, thread_ts) == (result_file(slack, thread_ts), "v1")
    assert waited.delays == list(card_module.WAITS[:2])
    pictured = [c for c in slack.calls_to("chat.update") if "slack_file" in str(c.json_param("blocks"))]
    assert len(pictured) == 3  # two refused while the file was processed, then drawn


async def test_after_every_wait_the_card_goes_without_the_picture(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, waited: Sleeps) -> None:
    slack.delay_file_processing(times=100)
    thread_ts = await generate(slack, workspace, "a lighthouse")

    [card] = cards(slack)
    assert picture(card) is None and "Done" in card_text(card)  # the text card, still saying it is done
    assert waited.delays == list(card_module.WAITS) and sum(waited.delays) <= 5
    assert image_replies(slack, thread_ts)  # the image itself is in the thread


async def test_an_svg_shows_its_png_preview(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                            workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(model=models.live_with(lambda c: c.svg))
    thread_ts = await generate(slack, workspace, "a logo of a fox --format svg")
    _, preview = image_replies(slack, thread_ts)[0]["files"]
    assert shown(slack, thread_ts) == (preview["id"], "v1") and slack.file(preview["id"])["mimetype"] == "image/png"


async def test_a_webp_is_not_drawn_so_the_card_has_no_picture(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                             workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(model=models.live_with(lambda c: "webp" in c.formats))
    thread_ts = await generate(slack, workspace, "a fox --format webp")
    assert image_replies(slack, thread_ts) and shown(slack, thread_ts) is None
    assert "Done" in card_text(cards(slack)[0])

    thread_ts = await generate(slack, workspace, "a fox")
    assert shown(slack, thread_ts) == (result_file(slack, thread_ts), "v1")
    await reply(slack, workspace, thread_ts, "make it snow --format webp")
    assert len(image_replies(slack, thread_ts)) == 2 and shown(slack, thread_ts) is None  # not v1 any more


async def test_upload_again_puts_the_image_on_the_card(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                      workspace: LocalWorkspace) -> None:
    slack.fail_next("files.completeUploadExternal", status=200, error="invalid_arguments")
    thread_ts = await generate(slack, workspace, "a lighthouse")
    assert shown(slack, thread_ts) is None and "refused the upload" in card_text(cards(slack)[0])
    [notice] = notices(slack, thread_ts, UPLOAD_AGAIN)

    await slack.send_interaction(press(slack, ALICE, notice, UPLOAD_AGAIN))
    await workspace.settle()
    assert shown(slack, thread_ts) == (result_file(slack, thread_ts), "v1")
    status = card_text(cards(slack)[0])
    assert "uploaded again" in status and "refused" not in status and "a lighthouse" in status


# Card on its own, against the stand-in ----------------------------------------------------------------------
@pytest.fixture
async def posted(slack: SlackStandIn, workspace: LocalWorkspace) -> tuple[Card, ThreadKey, Sleeps]:
    """A card posted in the channel, and a Card for it that keeps what it posts in the app's storage."""
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)

    async def workspace_client(team_id: str) -> AsyncWebClient:
        return client

    text, blocks = build_card(ALICE, "a cat", models_options(), "working")
    message = await client.chat_postMessage(channel=CHANNEL, text=text, blocks=blocks)
    waits = Sleeps()
    assert workspace.services is not None
    card = Card(workspace_client, workspace.services.images, sleep=waits, waits=(1.0, 2.0))
    key = ThreadKey(slack.team_id, CHANNEL, message["ts"])
    await card.posted(key, text, blocks)
    return card, key, waits


def models_options() -> ImageOptions:
    return ImageOptions(model=models.default_model())


async def test_update_tries_again_after_each_wait_then_goes_without_the_picture(
        slack: SlackStandIn, posted: tuple[Card, ThreadKey, Sleeps]) -> None:
    card, key, waits = posted
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    slack.delay_file_processing(times=2)
    file_id = (await client.files_upload_v2(file=png(), filename="imagebot-abc.png"))["file"]["id"]
    text, blocks = build_card(ALICE, "a cat", models_options(), "done", CardImage(file_id, "v1", "a cat"))

    assert await card.update(key, text, blocks) is True
    assert waits.delays == [1.0, 2.0] and slack.thread(CHANNEL, key.thread_ts)[0]["blocks"] == blocks

    slack.delay_file_processing(times=3)
    later = (await client.files_upload_v2(file=png(), filename="imagebot-def.png"))["file"]["id"]
    text, blocks = build_card(ALICE, "a cat", models_options(), "done", CardImage(later, "v2", "a cat"))
    assert await card.update(key, text, blocks) is True
    assert waits.delays == [1.0, 2.0, 1.0, 2.0]  # bounded: two waits, then the text card
    kept = slack.thread(CHANNEL, key.thread_ts)[0]["blocks"]
    assert [b.get("block_id") for b in kept if b.get("block_id") == CARD_IMAGE_BLOCK_ID] == []
    assert kept == [b for b in blocks if b["type"] != "image"]


async def test_other_refusals_are_not_tried_again(slack: SlackStandIn, posted: tuple[Card, ThreadKey, Sleeps]) -> None:
    card, key, waits = posted
    text, blocks = build_card(ALICE, "a cat", models_options(), "done", CardImage("F0NOPE", "v1", "a cat"))
    slack.fail_next("chat.update", status=200, error="message_not_found")
    assert await card.update(key, text, blocks) is False
    assert waits.delays == []


def test_the_drawn_file_is_the_image_itself_or_its_png_preview() -> None:
    image_id = "0123456789abcdef"
    stem = f"imagebot-{image_id[:12]}"
    assert drawn_file([{"id": "F1", "name": f"{stem}.png"}], image_id) == "F1"
    assert drawn_file([{"id": "F1", "name": f"{stem}.jpg", "mimetype": "image/jpeg"}], image_id) == "F1"
    assert drawn_file([{"id": "F1", "name": f"{stem}.gif"}], image_id) == "F1"
    assert drawn_file([{"id": "F1", "name": f"{stem}.svg"}, {"id": "F2", "name": f"{stem}-preview.png"}],
                      image_id) == "F2"
    assert drawn_file([{"id": "F1", "name": f"{stem}.webp"}], image_id) is None
    assert drawn_file([{"id": "F1", "name": "imagebot-ffffffffffff.png"}], image_id) is None
    assert drawn_file([{"id": "F1", "name": f"{stem}.png", "mimetype": "image/webp"}], image_id) is None


def test_an_attached_file_is_drawn_only_when_it_is_a_png_jpeg_or_gif() -> None:
    attached = [{"id": "F1", "name": "cat.webp", "mimetype": "image/webp"},
                {"id": "F2", "name": "cat.png", "mimetype": "image/png"}]
    assert attached_file(attached, "cat.png", "I1") == PostedFile("I1", "F2", "upload", drawn=True)
    assert attached_file(attached, "cat.webp", "I1") == PostedFile("I1", "F1", "upload", drawn=False)
    assert attached_file(attached, "dog.png", "I1") is None


def test_an_uploads_files_are_kept_for_the_image_each_shows() -> None:
    first, second = "0123456789abcdef", "fedcba9876543210"
    made = [{"id": "F1", "name": f"imagebot-{first[:12]}.svg"},
            {"id": "F2", "name": f"imagebot-{first[:12]}-preview.png"},
            {"id": "F3", "name": f"imagebot-{second[:12]}.webp"}, {"id": "F4", "name": "grid-v1.png"}]
    assert posted_files([first, second], made) == [
        PostedFile(first, "F1", "image", drawn=False), PostedFile(first, "F2", "preview", drawn=True),
        PostedFile(second, "F3", "image", drawn=False)]


async def test_an_update_to_what_the_card_already_shows_is_not_sent(
        slack: SlackStandIn, posted: tuple[Card, ThreadKey, Sleeps]) -> None:
    card, key, _ = posted
    text, blocks = build_card(ALICE, "a cat", models_options(), "working")  # as posted
    assert await card.update(key, text, blocks) is True
    assert slack.calls_to("chat.update") == []

    done = build_card(ALICE, "a cat", models_options(), "done")
    assert await card.update(key, *done) is True
    assert await card.update(key, *done) is True  # the second: what it shows already
    assert len(slack.calls_to("chat.update")) == 1
    assert await card.update(key, text, blocks) is True  # back to an earlier text: sent
    assert len(slack.calls_to("chat.update")) == 2
    assert card_text(slack.thread(CHANNEL, key.thread_ts)[0]) == card_text({"blocks": blocks})


async def test_a_card_for_a_job_that_runs_at_once_is_updated_once(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    """Posted "Generating…", then updated once, with its picture and "Done"; not first to "Generating…" again."""
    thread_ts = await generate(slack, workspace, "a lighthouse")
    updates = [c for c in slack.calls_to("chat.update") if c.params.get("ts") == thread_ts
               or c.json_param("ts") == thread_ts]
    assert len(updates) == 1
    assert "Done" in card_text(slack.thread(CHANNEL, thread_ts)[0])
