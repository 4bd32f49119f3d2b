"""Scenario tests: signed Slack requests through the real Bolt app, served over HTTP on loopback, against
the Slack stand-in and the image API stand-in. Nothing of imagebot's own is faked."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.money.pricing import Usage, format_usd
from bot.money.tokens import output_image_tokens
from standins.images_api import ImageAPIStandIn, RecordedRequest
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.catalogue_helpers import caps, catalogue, default_model, live, priced
from tests.conftest import Sleeps, WorkspaceFactory
from tests.slack_views import bot_replies, card_text, cards, image_replies, input_images, png, sha
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
BOB = "U0BOB"


# helpers -----------------------------------------------------------------------------------------------












def edit_schema_view(request: RecordedRequest) -> dict[str, Any]:
    """A multipart edit as the OpenAPI schema sees it: text fields plus binary file fields."""
    view = request.params()
    images = request.files.get("image[]") or request.files.get("image") or []
    view["image"] = ["<binary>"] * len(images)
    if "mask" in request.files:
        view["mask"] = "<binary>"
    return view


async def generate(slack: SlackStandIn, workspace: LocalWorkspace, text: str, user: str = ALICE) -> str:
    delivery = await slack.send_command(user, CHANNEL, text)
    assert delivery.status == 200
    await workspace.settle()
    return cards(slack)[-1]["ts"]


async def reply(slack: SlackStandIn, workspace: LocalWorkspace, thread_ts: str, text: str, user: str = ALICE,
                files: list[tuple[str, bytes, str]] | None = None) -> None:
    await slack.post_message(user, CHANNEL, text, thread_ts=thread_ts, files=files or [])
    await workspace.settle()


# generate ----------------------------------------------------------------------------------------------
async def test_image_command_posts_card_and_uploads_image_with_cost_footnote(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    delivery = await slack.send_command(ALICE, CHANNEL, "a lighthouse at dusk")
    assert delivery.status == 200 and delivery.response_text == ""  # acked with nothing: the card speaks
    await workspace.settle()

    [card] = cards(slack)
    assert "a lighthouse at dusk" in card_text(card) and f"<@{ALICE}>" in card_text(card)
    assert "Done" in card_text(card)  # the status changed from "Generating…" via chat.update
    assert slack.calls_to("chat.update")

    [request] = image_api.requests
    body = request.json
    assert body is not None
    model = default_model()
    assert body["model"] == model and body["prompt"] == "a lighthouse at dusk"
    assert "response_format" not in body and "style" not in body
    openapi_validator("CreateImageRequest").validate(body)

    [result] = image_replies(slack, card["ts"])
    [file] = result["files"]
    uploaded = slack.file_bytes(file["id"])
    with Image.open(io.BytesIO(uploaded)) as image:
        assert image.size == (1024, 1024)

    # The footnote's cost is the ledger's, and the ledger's is the stand-in's usage × the price table.
    [row] = workspace.services.images.store.ledger_rows()
    usage = Usage(input_text_tokens=row["input_text_tokens"], output_image_tokens=row["output_image_tokens"])
    out = output_image_tokens(caps(model), "1024x1024", "medium")
    assert row["output_image_tokens"] == out and not row["input_image_tokens"] and not row["output_text_tokens"]
    assert row["cost_micro"] == priced(model).cost(usage) == catalogue().price_table().cost(model, usage)
    footnote = result["text"]
    for expected in (model, "1024x1024", "medium", f"{out:,} out", format_usd(row["cost_micro"]),
                     f"thread so far: {format_usd(row['cost_micro'])}"):
        assert expected in footnote
    assert json.loads(row["image_ids"]) == [sha(uploaded)]  # the bytes posted are the bytes kept


async def test_options_are_mapped_to_api_fields(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                workspace: LocalWorkspace) -> None:
    # A live model other than the default, so that --model is seen to be sent, which takes every option asked for.
    model = next(m for m in live(where=lambda c: c.transparent and "webp" in c.formats and "high" in c.qualities
                                 and c.max_n >= 2 and not c.sizes.problems("1024x1536"))
                 if m != default_model())
    thread_ts = await generate(slack, workspace, "a fox --size portrait --quality high --n 2 --format webp "
                                                 f"--transparent --model {model}")
    [request] = image_api.requests
    assert request.json == {**request.json, "model": model, "size": "1024x1536", "quality": "high",
                            "n": 2, "output_format": "webp", "background": "transparent", "prompt": "a fox"}
    openapi_validator("CreateImageRequest").validate(request.json)
    [result] = image_replies(slack, thread_ts)
    assert len(result["files"]) == 2
    for file in result["files"]:
        with Image.open(io.BytesIO(slack.file_bytes(file["id"]))) as image:
            assert (image.format, image.size, image.mode) == ("WEBP", (1024, 1536), "RGBA")


async def test_help_answers_privately_and_no_text_opens_the_form(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                 workspace: LocalWorkspace) -> None:
    delivery = await slack.send_command(ALICE, CHANNEL, "help")
    assert "--quality low|medium|high|auto" in delivery.response_text
    empty = await slack.send_command(ALICE, CHANNEL, "   ")
    assert empty.status == 200 and empty.response_text == ""
    await workspace.settle()
    assert not cards(slack) and not image_api.requests
    assert len(slack.ephemerals(user_id=ALICE)) == 1
    [form] = slack.views
    assert form["callback_id"] == "imagebot_image_modal" and form["private_metadata"] == CHANNEL


def _or(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def _dall_e_3_refusal(workspace: LocalWorkspace) -> str:
    # dall-e-3 on purpose: a model imagebot never supported, named in the catalogue's "gone" list.
    gone = catalogue().gone("dall-e-3")
    assert gone is not None
    models = ", ".join(workspace.services.images.choices().models)  # the live models, as the app sees today
    return f"`dall-e-3` was shut down on {gone.shutdown.isoformat()}. Its replacement is {gone.replacement}. " \
           f"Models: {models}."


@pytest.mark.parametrize(("text", "expected"), [
    ("a cat --size huge", "square, portrait, landscape"),
    ("a cat --quality best", _or(caps(default_model()).qualities)),
    ("a cat --n 9", "1 to 4"),
    ("a cat --colour red", "Unknown option `--colour`"),
    ("--size square", "Add a prompt"),
    ("a cat --model dall-e-3", _dall_e_3_refusal),
    ("x" * 32_001, "the limit is 32,000"),
])
async def test_bad_input_gets_a_private_specific_answer_and_no_api_call(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, text: str,
        expected: str | Callable[[LocalWorkspace], str]) -> None:
    if callable(expected):
        expected = expected(workspace)
    delivery = await slack.send_command(ALICE, CHANNEL, text)
    assert delivery.status == 200 and expected in delivery.response_text
    await workspace.settle()
    assert not image_api.requests and not slack.calls_to("chat.postMessage")


# edits -------------------------------------------------------------------------------------------------
async def test_reply_edits_last_image_and_second_edit_chains(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                             workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse at dusk")
    first = slack.file_bytes(image_replies(slack, thread_ts)[0]["files"][0]["id"])

    await reply(slack, workspace, thread_ts, "make the sky purple")
    edit = image_api.requests[-1]
    assert edit.operation == "edits" and edit.content_type == "multipart/form-data"
    assert edit.params()["prompt"] == "make the sky purple" and edit.params()["model"] == default_model()
    [(_, _, sent)] = input_images(edit)
    assert sha(sent) == sha(first)  # the thread's last image, byte for byte
    openapi_validator("CreateImageEditRequest").validate(edit_schema_view(edit))
    second = slack.file_bytes(image_replies(slack, thread_ts)[-1]["files"][0]["id"])
    assert sha(second) != sha(first)

    await reply(slack, workspace, thread_ts, "now add snow")
    [(_, _, sent)] = input_images(image_api.requests[-1])
    assert sha(sent) == sha(second)  # the chain continues from the edit's output

    # While it worked, the reply wore a reaction, removed when done.
    assert slack.calls_to("reactions.add") and slack.calls_to("reactions.remove")
    rows = workspace.services.images.store.ledger_rows()
    assert [r["kind"] for r in rows] == ["generate", "edit", "edit"]
    last_footnote = image_replies(slack, thread_ts)[-1]["text"]
    assert f"thread so far: {format_usd(sum(r['cost_micro'] for r in rows))}" in last_footnote
    assert rows[1]["input_image_tokens"] > 0 and "image in" in last_footnote


async def test_thread_context_survives_a_restart(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                 workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    thread_ts = await generate(slack, first, "a red barn")
    await reply(slack, first, thread_ts, "paint it blue")
    latest = slack.file_bytes(image_replies(slack, thread_ts)[-1]["files"][0]["id"])
    await first.stop()

    second = await workspace_factory()  # same data dir, new process state
    await reply(slack, second, thread_ts, "add a rainbow")
    [(_, _, sent)] = input_images(image_api.requests[-1])
    assert sha(sent) == sha(latest)
    assert len(image_replies(slack, thread_ts)) == 3


async def test_reply_with_attachment_adds_reference_after_last_image(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse")
    last = slack.file_bytes(image_replies(slack, thread_ts)[-1]["files"][0]["id"])
    balloon = png("red")
    await reply(slack, workspace, thread_ts, "add this balloon", user=BOB,
                files=[("balloon.png", balloon, "image/png")])

    sent = [data for _, _, data in input_images(image_api.requests[-1])]
    assert [sha(d) for d in sent] == [sha(last), sha(balloon)]
    [download] = slack.calls_to("download")
    assert download.token == slack.bot_token  # fetched from url_private with the bot token
    assert "2 image" not in image_replies(slack, thread_ts)[-1]["text"]  # one output image
    assert len(image_replies(slack, thread_ts)) == 2


async def test_attachment_becomes_base_in_thread_without_image(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                               workspace: LocalWorkspace) -> None:
    image_api.moderation_blocked()
    thread_ts = await generate(slack, workspace, "something blocked")
    assert not image_replies(slack, thread_ts)

    photo = png("green", (300, 200))
    await reply(slack, workspace, thread_ts, "turn this into a watercolour", files=[("photo.png", photo, "image/png")])
    edit = image_api.requests[-1]
    assert [sha(d) for _, _, d in input_images(edit)] == [sha(photo)]
    assert len(image_replies(slack, thread_ts)) == 1


async def test_attachment_without_words_becomes_context_without_api_call(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse")
    photo = png("blue")
    await reply(slack, workspace, thread_ts, "", files=[("mine.png", photo, "image/png")])
    assert len(image_api.requests) == 1
    assert "Reply with what to change" in bot_replies(slack, thread_ts)[-1]["text"]
    await reply(slack, workspace, thread_ts, "make it night")
    assert [sha(d) for _, _, d in input_images(image_api.requests[-1])] == [sha(photo)]


@pytest.mark.parametrize(("filename", "data", "expected"), [
    ("notes.txt", b"just some words, not a picture", "not an image I can read"),
    ("broken.png", png()[:200], "not an image I can read"),
])
async def test_bad_attachment_gets_a_message_and_no_api_call(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace,
        filename: str, data: bytes, expected: str) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse")
    await reply(slack, workspace, thread_ts, "use this", files=[(filename, data, "application/octet-stream")])
    assert len(image_api.requests) == 1
    assert expected in bot_replies(slack, thread_ts)[-1]["text"]


async def test_attachment_from_foreign_host_is_refused_without_sending_token(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse")
    foreign = {"id": "F0EVIL", "name": "x.png", "mimetype": "image/png", "size": 10,
               "url_private": "https://attacker.example.com/x.png"}
    await slack.deliver_event({"type": "message", "subtype": "file_share", "channel": CHANNEL, "user": ALICE,
                               "text": "edit with this", "ts": "1999999999.000100", "thread_ts": thread_ts,
                               "channel_type": "channel", "files": [foreign]})
    await workspace.settle()
    assert "not hosted by Slack" in bot_replies(slack, thread_ts)[-1]["text"]
    assert len(image_api.requests) == 1


# errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("fault", "expected"), [
    (lambda api: api.moderation_blocked(categories=("violence",)), "safety system blocked this request"),
    (lambda api: api.rate_limit(retry_after=7, times=3), "Try again in about 7 seconds"),
    (lambda api: api.quota_exhausted(), "out of quota or credit"),
    (lambda api: api.auth_error(), "rejected imagebot's API key"),
    (lambda api: api.org_not_verified(), "platform.openai.com/settings/organization/general"),
    (lambda api: api.queue_error(400, {"error": {"message": "Invalid value for size.", "type":
                                                 "invalid_request_error", "param": "size", "code": "invalid_value"}}),
     "rejected the request `size`"),
    (lambda api: api.server_error(times=3), "try again in a moment"),
    (lambda api: api.garbage(), "not JSON"),
])
async def test_each_api_error_becomes_one_clear_message(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, fault: Any, expected: str) -> None:
    fault(image_api)
    thread_ts = await generate(slack, workspace, "a lighthouse")
    [message] = bot_replies(slack, thread_ts)
    assert expected in message["text"]
    assert ":warning:" in card_text(cards(slack)[-1]) and "Done" not in card_text(cards(slack)[-1])
    [row] = workspace.services.images.store.ledger_rows()
    assert row["status"] == "error" and row["cost_micro"] is None


async def test_moderation_block_names_categories(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                 workspace: LocalWorkspace) -> None:
    image_api.moderation_blocked(categories=("violence",))
    thread_ts = await generate(slack, workspace, "a battle")
    text = bot_replies(slack, thread_ts)[0]["text"]
    assert "violence" in text and "rephras" in text


async def test_rate_limit_then_success_honours_retry_after(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                           workspace: LocalWorkspace, sleeps: Sleeps) -> None:
    image_api.rate_limit(retry_after=5)
    image_api.server_error()
    thread_ts = await generate(slack, workspace, "a lighthouse")
    assert [r.status for r in image_api.requests] == [429, 500, 200]
    assert sleeps.delays[0] >= 5  # waited at least what Retry-After asked
    assert len(image_replies(slack, thread_ts)) == 1
    [row] = workspace.services.images.store.ledger_rows()
    assert row["status"] == "ok"  # one call in the ledger, one charge


async def test_slack_rate_limit_on_post_is_retried(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                   workspace: LocalWorkspace) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    thread_ts = await generate(slack, workspace, "a lighthouse")
    assert [c.status for c in slack.calls_to("chat.postMessage")][:2] == [429, 200]
    assert len(image_replies(slack, thread_ts)) == 1


async def test_card_cannot_be_posted_tells_user_privately(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                          workspace: LocalWorkspace) -> None:
    slack.fail_next("chat.postMessage", status=200, error="not_in_channel")
    await slack.send_command(ALICE, CHANNEL, "a lighthouse")
    await workspace.settle()
    assert not image_api.requests
    assert any("/invite @imagebot" in e.get("text", "") for e in slack.ephemerals(user_id=ALICE))


# what imagebot ignores ---------------------------------------------------------------------------------
async def test_ignored_messages_cause_no_api_call_and_no_404(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                             workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a lighthouse")
    calls_before = len(slack.calls)
    base = {"type": "message", "channel": CHANNEL, "channel_type": "channel"}
    events = [
        {**base, "user": "U0OTHER", "bot_id": "B0OTHER", "text": "I am another bot", "ts": "1990000000.000001",
         "thread_ts": thread_ts},
        {**base, "subtype": "bot_message", "bot_id": "B0OTHER", "text": "classic bot", "ts": "1990000000.000002",
         "thread_ts": thread_ts},
        {**base, "subtype": "message_changed", "hidden": True, "ts": "1990000000.000003",
         "message": {"user": ALICE, "text": "edited", "ts": thread_ts, "thread_ts": thread_ts},
         "previous_message": {"user": ALICE, "text": "before", "ts": thread_ts}},
        {**base, "subtype": "message_deleted", "hidden": True, "ts": "1990000000.000004", "deleted_ts": thread_ts},
        {**base, "user": ALICE, "text": "top-level chatter", "ts": "1990000000.000005"},
    ]
    for event in events:
        delivery = await slack.deliver_event(event)
        assert delivery.status == 200, delivery.response_text
    chatter = await slack.post_message(BOB, CHANNEL, "lunch?")
    await slack.post_message(ALICE, CHANNEL, "a reply in a thread that is not an image thread",
                             thread_ts=chatter["ts"])
    await workspace.settle()

    assert len(image_api.requests) == 1
    assert [c.method for c in slack.calls[calls_before:]] == []  # not even a reaction
    # The bot's own messages echoed back by Slack were all answered 200 and never acted on.
    assert all(d.status == 200 for d in slack.deliveries)


async def test_unsigned_and_stale_requests_are_rejected(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                        workspace: LocalWorkspace) -> None:
    assert slack.app_request_url
    async with httpx.AsyncClient() as client:
        unsigned = await client.post(slack.app_request_url, content=b"command=%2Fimage&text=hi",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
        assert unsigned.status_code == 401
        stale = await slack.send_command(ALICE, CHANNEL, "a cat", headers={"X-Slack-Request-Timestamp": "1000"})
        assert stale.status == 401
    assert not image_api.requests


# Azure -------------------------------------------------------------------------------------------------
async def test_azure_routes_by_deployment_with_api_key(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                       workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory("azure")
    thread_ts = await generate(slack, workspace, "a lighthouse")
    await reply(slack, workspace, thread_ts, "make it night")
    generation, edit = image_api.requests
    for request in (generation, edit):
        assert request.flavor == "azure"
        assert request.path.startswith("/openai/deployments/gpt-image-1/images/")
        assert request.query["api-version"] == "2025-04-01-preview"
        assert request.headers["api-key"] == image_api.azure_api_key and "authorization" not in request.headers
    assert input_images(edit)
    assert len(image_replies(slack, thread_ts)) == 2
    assert workspace.services.images.store.ledger_rows()[0]["provider"] == "azure"


async def test_azure_content_filter_is_a_moderation_block(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                          workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory("azure")
    for spelling in ("inner_error", "innererror"):
        image_api.azure_content_filter(spelling=spelling)
        thread_ts = await generate(slack, workspace, f"blocked {spelling}")
        assert "safety system blocked" in bot_replies(slack, thread_ts)[-1]["text"]


async def test_offline_provider_labels_results(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                               workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory("offline")
    thread_ts = await generate(slack, workspace, "a lighthouse")
    assert not image_api.requests
    assert "offline" in image_replies(slack, thread_ts)[0]["text"]
    assert "offline" in card_text(cards(slack)[0])



async def test_a_cold_burst_checks_the_token_once(slack: SlackStandIn, workspace: LocalWorkspace) -> None:
    deliveries = await asyncio.gather(*(slack.send_command(ALICE, CHANNEL, "help") for _ in range(20)))
    assert all(d.status == 200 for d in deliveries)
    assert len(slack.calls_to("auth.test")) == 1


async def test_channel_allow_and_deny_lists_refuse_privately(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                             workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(allowed_channels=frozenset({CHANNEL}), denied_channels=frozenset())
    refused = await slack.send_command(ALICE, "C0RANDOM", "a lighthouse")  # not on the allow-list
    assert refused.status == 200 and "not enabled in this channel" in refused.response_text
    allowed = await slack.send_command(ALICE, CHANNEL, "a lighthouse")
    assert allowed.status == 200 and allowed.response_text == ""
    await workspace.settle()
    assert len(image_api.requests) == 1 and not [m for m in slack.messages("C0RANDOM") if m.get("bot_id")]
    await workspace.stop()

    # Later the channel is denied: a reply in its existing image thread is refused privately, with no API call.
    thread_ts = cards(slack)[-1]["ts"]
    denied = await workspace_factory(denied_channels=frozenset({CHANNEL}))
    await slack.post_message(ALICE, CHANNEL, "make it night", thread_ts=thread_ts)
    await denied.settle()
    assert len(image_api.requests) == 1
    assert any("not enabled in this channel" in e.get("text", "") for e in slack.ephemerals(user_id=ALICE))
