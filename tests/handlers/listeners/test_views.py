"""The /image form and the "Edit with imagebot" message shortcut, submitted as Slack submits them.

Models come from the catalogue (tests/catalogue_helpers.py): the form offers today's live models, preset to the
catalogue's default.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from bot.rules.options import Choices
from handlers.ui import modals as views
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.catalogue_helpers import choices, default_model, live_with, shut_down

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


def here() -> Choices:
    """What the running app offers: OpenAI on its clock's today (UTC, the default timezone)."""
    return choices(today=datetime.now(UTC).date())


def state(prompt: str, *, size: str = "1024x1024", quality: str = "medium", n: str = "1", fmt: str = "png",
          model: str | None = None, transparent: bool = False) -> dict[str, Any]:
    """view.state.values as Slack sends them for the image form."""
    def selected(value: str) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value, "text": {"type": "plain_text",
                                                                                     "text": value}}}
    model = model or default_model()
    chosen = [{"value": views.TRANSPARENT_VALUE, "text": {"type": "plain_text", "text": "Transparent"}}]
    return {
        views.PROMPT_BLOCK: {views.PROMPT_ACTION: {"type": "plain_text_input", "value": prompt}},
        views.SIZE_BLOCK: {views.SIZE_ACTION: selected(size)},
        views.QUALITY_BLOCK: {views.QUALITY_ACTION: selected(quality)},
        views.N_BLOCK: {views.N_ACTION: selected(n)},
        views.TRANSPARENT_BLOCK: {views.TRANSPARENT_ACTION: {"type": "checkboxes",
                                                              "selected_options": chosen if transparent else []}},
        views.FORMAT_BLOCK: {views.FORMAT_ACTION: selected(fmt)},
        views.MODEL_BLOCK: {views.MODEL_ACTION: selected(model)},
    }


def submission(slack: SlackStandIn, view: dict[str, Any], values: dict[str, Any], user: str = ALICE) -> dict:
    return {"type": "view_submission", "team": {"id": slack.team_id}, "api_app_id": slack.app_id,
            "user": {"id": user, "team_id": slack.team_id, "name": user.lower()}, "trigger_id": "1.2.3",
            "view": {**view, "state": {"values": values}}}


async def test_the_form_generates_like_the_command(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                   workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, "")
    await workspace.settle()
    [form] = slack.views
    offered = {b["block_id"]: [o["value"] for o in b["element"]["options"]] for b in form["blocks"]
               if b["element"]["type"] == "static_select"}
    assert offered[views.MODEL_BLOCK] == list(here().models)  # today's live models, none shut down
    assert not set(shut_down(today=here().today)) & set(offered[views.MODEL_BLOCK])
    assert offered[views.QUALITY_BLOCK] == list(views.offered(here(), "qualities"))
    assert offered[views.FORMAT_BLOCK] == list(views.offered(here(), "formats"))
    model = live_with(lambda c: c.transparent and "webp" in c.formats and "high" in c.qualities)
    values = state("a fox in the snow", size="1536x1024", quality="high", n="2", fmt="webp", transparent=True,
                   model=model)
    delivery = await slack.send_interaction(submission(slack, form, values))
    assert delivery.status == 200 and delivery.response_text.strip() in ("", "null")
    again = await slack.send_interaction(submission(slack, form, values))  # a redelivery: still one job
    assert again.status == 200
    await workspace.settle()
    [request] = image_api.requests
    assert {k: request.json[k] for k in ("model", "prompt", "size", "quality", "n", "output_format", "background")} == {
        "model": model, "prompt": "a fox in the snow", "size": "1536x1024", "quality": "high", "n": 2,
        "output_format": "webp", "background": "transparent"}
    card = next(m for m in slack.messages(CHANNEL) if "asked for an image" in m.get("text", ""))
    assert sum(len(m.get("files") or []) for m in slack.thread(CHANNEL, card["ts"])) == 2


async def test_a_bad_form_gets_errors_on_its_fields_and_no_job(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                               workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, "")
    await workspace.settle()
    [form] = slack.views
    delivery = await slack.send_interaction(submission(slack, form, state("a fox", fmt="jpeg", transparent=True)))
    answer = json.loads(delivery.response_text)
    assert answer["response_action"] == "errors" and views.FORMAT_BLOCK in answer["errors"]
    await workspace.settle()
    assert not image_api.requests and workspace.services.images.store.db["jobs"].count == 0


async def test_the_shortcut_edits_an_image_inside_a_thread(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                           workspace: LocalWorkspace) -> None:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "navy").save(out, format="PNG")
    root = await slack.post_message("U0BOB", CHANNEL, "lunch plans")
    shared = await slack.post_message("U0BOB", CHANNEL, "look at this", thread_ts=root["ts"],
                                      files=[("boat.png", out.getvalue(), "image/png")])
    await workspace.settle()
    shortcut = {"type": "message_action", "callback_id": "imagebot_edit_shortcut", "trigger_id": "9.9.9",
                "team": {"id": slack.team_id}, "user": {"id": ALICE, "team_id": slack.team_id},
                "channel": {"id": CHANNEL}, "message": shared, "response_url": slack.new_response_url(ALICE, CHANNEL),
                "message_ts": shared["ts"]}
    assert (await slack.send_interaction(shortcut)).status == 200
    await workspace.settle()
    [form] = slack.views
    assert form["callback_id"] == views.EDIT_MODAL
    [quality] = [b for b in form["blocks"] if b["block_id"] == views.QUALITY_BLOCK]
    assert [o["value"] for o in quality["element"]["options"]] == list(views.offered(here(), "qualities"))
    values = {views.INSTRUCTION_BLOCK: {views.INSTRUCTION_ACTION: {"type": "plain_text_input",
                                                                   "value": "make it a sailing boat"}},
              views.QUALITY_BLOCK: {views.QUALITY_ACTION: {"type": "static_select", "selected_option": None}}}
    assert (await slack.send_interaction(submission(slack, form, values))).status == 200
    await workspace.settle()
    [edit] = image_api.requests
    assert edit.params()["prompt"] == "make it a sailing boat"
    assert "image[]" not in edit.files  # one input goes as `image`
    [(_, _, sent)] = edit.files["image"]
    assert hashlib.sha256(sent).digest() == hashlib.sha256(out.getvalue()).digest()
    assert edit.params()["model"] == default_model()
    results = [m for m in slack.thread(CHANNEL, root["ts"]) if m.get("bot_id") and m.get("files")]
    assert len(results) == 1 and "*v2* (from v1)" in results[0]["text"]


async def test_the_shortcut_on_a_message_without_an_image_says_so(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                  workspace: LocalWorkspace) -> None:
    plain = await slack.post_message("U0BOB", CHANNEL, "no pictures here")
    shortcut = {"type": "message_action", "callback_id": "imagebot_edit_shortcut", "trigger_id": "9.9.9",
                "team": {"id": slack.team_id}, "user": {"id": ALICE, "team_id": slack.team_id},
                "channel": {"id": CHANNEL}, "message": plain, "message_ts": plain["ts"]}
    await slack.send_interaction(shortcut)
    await workspace.settle()
    assert not slack.views and not image_api.requests
    assert any("has no image" in e.get("text", "") for e in slack.ephemerals(user_id=ALICE))
