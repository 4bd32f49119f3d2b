"""Today's image API through the real app: the live default, shut-down models replaced and said so, the API saying
a model is gone, what the live models can do (GIF, SVG, markup, safety_identifier) and Azure's gpt-image-1.

Models are picked from the catalogue by what they can do (tests/catalogue_helpers.py); the image API stand-in
refuses what the real API refuses, shut-down models included.
"""

from __future__ import annotations

import io
import logging
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from standins.images_api import ImageAPIStandIn, RecordedRequest
from standins.slack import SlackStandIn
from tests import catalogue_helpers as models
from tests.conftest import WorkspaceFactory
from tests.handlers.test_scenarios import ALICE, CHANNEL, generate, reply
from tests.slack_views import bot_replies, card_text, cards, image_replies, png
from tests.standins.openapi import openapi_validator

pytestmark = pytest.mark.anyio
REPORTS = "C0RANDOM"  # a channel the Slack stand-in has, with the bot in it


def image_calls(api: ImageAPIStandIn) -> list[RecordedRequest]:
    """The generations and edits the app sent (not its daily GET /v1/models)."""
    return [r for r in api.requests if r.path.rstrip("/").endswith(("/generations", "/edits"))]


async def test_with_a_key_and_nothing_else_a_live_model_is_called(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory()  # provider openai, no IMAGEBOT_MODEL
    thread_ts = await generate(slack, workspace, "a lighthouse at dusk")
    [request] = image_calls(image_api)
    assert request.json is not None and request.json["model"] == models.default_model()
    assert models.default_model() in models.live()
    openapi_validator("CreateImageRequest").validate(request.json)
    [result] = image_replies(slack, thread_ts)
    assert models.default_model() in result["text"]
    assert "Done" in card_text(cards(slack)[-1])


async def test_a_shut_down_imagebot_model_is_replaced_logged_and_noted(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory,
        caplog: pytest.LogCaptureFixture) -> None:
    retired = models.shut_down()[0]
    status = models.catalogue().status(retired, "openai")
    assert status.replacement and status.shutdown
    with caplog.at_level(logging.WARNING, logger="bot.runtime.services"):
        workspace = await workspace_factory(model=retired)
    [line] = [r.getMessage() for r in caplog.records if "IMAGEBOT_MODEL" in r.getMessage()]
    assert retired in line and status.shutdown.isoformat() in line and status.replacement in line

    thread_ts = await generate(slack, workspace, "a lighthouse at dusk")
    [request] = image_calls(image_api)
    assert request.json is not None and request.json["model"] == status.replacement  # never the dead one
    [result] = image_replies(slack, thread_ts)
    assert f"{retired} was shut down on {status.shutdown.isoformat()}; this used {status.replacement}" in \
        result["text"]


async def test_a_thread_started_on_a_model_since_shut_down_still_edits_with_the_replacement(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory()
    model = models.default_model()
    thread_ts = await generate(slack, workspace, "a lighthouse at dusk")
    # The catalogue learns the model is shut down (as an operator's IMAGEBOT_MODELS, or a date passing, would say).
    replacement = next(m for m in models.live() if m != model)
    catalogue = models.catalogue_from({"models": {model: {"status": {"openai": {
        "state": "shut_down", "shutdown": "2026-12-01", "replacement": replacement}}}}})
    assert workspace.services is not None
    workspace.services.images.catalogue = catalogue
    image_api.shut_down.add(model)

    await reply(slack, workspace, thread_ts, "make the sky purple")
    edit = image_calls(image_api)[-1]
    assert edit.params()["model"] == replacement
    [_, result] = image_replies(slack, thread_ts)
    assert f"{model} was shut down on 2026-12-01; this used {replacement}" in result["text"]


async def test_a_shut_down_or_unknown_model_option_gets_the_live_models(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    await workspace_factory()
    retired = models.shut_down()[0]
    status = models.catalogue().status(retired, "openai")
    delivery = await slack.send_command(ALICE, CHANNEL, f"a fox --model {retired}")
    assert delivery.status == 200
    text = delivery.response_text
    assert f"`{retired}` was shut down on {status.shutdown}" in text and f"replacement is {status.replacement}" in text
    for live in models.live():
        assert live in text
    unknown = await slack.send_command(ALICE, CHANNEL, "a fox --model gpt-image-9000")
    assert "not available here" in unknown.response_text and models.default_model() in unknown.response_text
    assert image_calls(image_api) == []  # nothing was sent, nothing billed
    assert cards(slack) == []


async def test_the_api_saying_a_model_is_gone_is_one_clear_message_nothing_charged_admins_told_once(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(report_channel=REPORTS)
    model = models.default_model()
    image_api.shut_down.add(model)  # the catalogue says live; the API says 404 model_not_found
    for prompt in ("a lighthouse", "a fox"):
        thread_ts = await generate(slack, workspace, prompt)
        [message] = bot_replies(slack, thread_ts)
        assert f"no longer serves `{model}`" in message["text"] and "nothing was charged" in message["text"]
        assert "invalid request" not in message["text"].lower()
        assert image_replies(slack, thread_ts) == []
    assert workspace.services is not None
    rows = workspace.services.images.store.ledger_rows()
    assert [r["status"] for r in rows] == ["error", "error"] and all(not r["cost_micro"] for r in rows)
    assert {r["error_code"] for r in rows} == {"model_unavailable"}
    notices = [m for m in slack.messages(REPORTS) if model in m.get("text", "")]
    assert len(notices) == 1 and "IMAGEBOT_MODEL" in notices[0]["text"]


async def test_gif_is_uploaded_as_it_came_and_svg_with_a_png_preview(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    model = models.live_with(lambda c: c.gif is not None and c.svg)
    workspace = await workspace_factory(model=model)
    thread_ts = await generate(slack, workspace, "a spinning star --format gif --frames 4 --frame-ms 120")
    body = image_calls(image_api)[-1].json
    assert body is not None and body["output_format"] == "gif" and body["frame_count"] == 4
    assert body["frame_duration_ms"] == 120 and "stream" not in body
    [result] = image_replies(slack, thread_ts)
    [file] = result["files"]
    with Image.open(io.BytesIO(slack.file_bytes(file["id"]))) as gif:
        assert gif.format == "GIF" and gif.n_frames == 4

    thread_ts = await generate(slack, workspace, "a logo of a fox --format svg")
    assert image_calls(image_api)[-1].json["output_format"] == "svg"  # type: ignore[index]
    [result] = image_replies(slack, thread_ts)
    svg_file, preview = result["files"]
    root = ET.fromstring(slack.file_bytes(svg_file["id"]))
    assert root.tag.endswith("svg")
    with Image.open(io.BytesIO(slack.file_bytes(preview["id"]))) as picture:
        assert picture.format == "PNG"
    refused = await slack.send_command(ALICE, CHANNEL, "a logo --format svg --n 2")
    assert "one at a time" in refused.response_text


async def test_markup_is_sent_as_markup_never_with_a_mask_and_refused_where_unsupported(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    model = models.live_with(lambda c: c.markup)
    workspace = await workspace_factory(model=model)
    thread_ts = await generate(slack, workspace, "a lighthouse at dusk")
    marks = Image.new("RGBA", (1024, 1024), (0, 0, 0, 0))
    marks.paste((255, 0, 0, 255), (400, 400, 600, 600))
    buffer = io.BytesIO()
    marks.save(buffer, "PNG")
    await reply(slack, workspace, thread_ts, "put a window where the red square is",
                files=[("markup.png", buffer.getvalue(), "image/png")])
    edit = image_calls(image_api)[-1]
    assert "markup" in edit.files and "mask" not in edit.files
    assert len(image_replies(slack, thread_ts)) == 2
    sent = len(image_calls(image_api))
    await reply(slack, workspace, thread_ts, "C2-D3: a door", files=[("markup.png", buffer.getvalue(), "image/png")])
    assert len(image_calls(image_api)) == sent  # refused before any call
    assert "not both" in bot_replies(slack, thread_ts)[-1]["text"]

    await workspace.stop()
    without = models.live_without(lambda c: c.markup)
    workspace2 = await workspace_factory(model=without)
    thread_ts = await generate(slack, workspace2, "a barn")
    sent = len(image_calls(image_api))
    await reply(slack, workspace2, thread_ts, "a window here", files=[("markup.png", buffer.getvalue(), "image/png")])
    assert len(image_calls(image_api)) == sent
    assert "does not take markup" in bot_replies(slack, thread_ts)[-1]["text"]


async def test_safety_identifier_on_openai_and_user_on_azure_with_a_gpt_image_1_deployment(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory()
    await generate(slack, workspace, "a lighthouse")
    body = image_calls(image_api)[-1].json
    assert body is not None and "user" not in body
    assert body["safety_identifier"].startswith("slack-") and len(body["safety_identifier"]) <= 64
    assert str(workspace.settings.slack_bot_token) not in body["safety_identifier"] and ALICE not in \
        body["safety_identifier"]
    await workspace.stop()

    # Azure still serves gpt-image-1 under limited access; IMAGEBOT_MODEL names the deployment's model.
    azure = await workspace_factory("azure", model="gpt-image-1")
    thread_ts = await generate(slack, azure, "a lighthouse")
    request = image_calls(image_api)[-1]
    params = request.params()
    assert "/deployments/" in request.path and "safety_identifier" not in params and params["user"].startswith("slack-")
    [result] = image_replies(slack, thread_ts)
    assert "gpt-image-1" in result["text"] and "shut down" not in result["text"]
    await reply(slack, azure, thread_ts, "make the sky purple", files=[("ref.png", png("blue"), "image/png")])
    assert len(image_replies(slack, thread_ts)) == 2
