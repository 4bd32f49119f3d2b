"""Help and errors through the real app against the Slack stand-in (issue 15): `/image help` answers privately with
headed Block Kit parts drawn from the catalogue, and a request with several mistakes is answered once, naming all
of them, whether it came as `/image` text, a thread reply or the form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import errors
from bot.runtime.services import Services
from handlers.ui import modals as views
from handlers.ui.errors import explain
from handlers.ui.help import build_help
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from tests.catalogue_helpers import caps, default_model
from tests.slack_views import bot_replies, cards

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


def _services(workspace: LocalWorkspace) -> Services:
    assert workspace.services is not None, "the workspace has not started"
    return workspace.services


def _or(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


async def test_image_help_answers_privately_with_headed_parts_from_the_catalogue(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    delivery = await slack.send_command(ALICE, CHANNEL, "help")
    await workspace.settle()

    assert delivery.status == 200
    assert json.loads(delivery.response_text)["response_type"] == "ephemeral"
    [answer] = slack.ephemerals(user_id=ALICE)
    images = _services(workspace).images
    assert (answer["text"], answer["blocks"]) == build_help("/image", images.choices(), images.default_options.model)
    headers = [b["text"]["text"] for b in answer["blocks"] if b["type"] == "header"]
    assert headers == ["Make an image", "Options", "Models", "Reply in the image's thread", "Buttons under a result",
                       "More"]
    said = "\n".join(b["text"]["text"] for b in answer["blocks"])
    for model in images.choices().models:
        entry = images.choices().catalogue.get(model)
        if entry is not None and not entry.snapshot_of:
            assert f"• `{model}`" in said
    for reply in ("`undo`", "`use v2`", "`use b`", "`v2: ", "`grid`", "`C2-D3: ", "`--region", "mask", "markup",
                  "`/image usage`", "alone opens a form", "Edit with imagebot", "*Retry*", "*Variations*"):
        assert reply in said, reply
    assert len(answer["blocks"]) <= 50 and all(len(b["text"]["text"]) <= 3000 for b in answer["blocks"])
    assert not cards(slack) and not image_api.requests and not slack.messages(CHANNEL)


async def test_a_bad_quality_and_no_prompt_are_both_answered(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                             workspace: LocalWorkspace) -> None:
    delivery = await slack.send_command(ALICE, CHANNEL, "--quality ultra")
    await workspace.settle()

    assert delivery.status == 200
    [answer] = slack.ephemerals(user_id=ALICE)
    qualities = caps(default_model()).qualities
    assert answer["text"] == (f"2 things to fix:\n• `--quality ultra` is not valid: {_or(qualities)}.\n"
                              "• Add a prompt: what should the image show?\nSee `/image help` for the options.")
    assert not cards(slack) and not image_api.requests
    assert _services(workspace).images.store.db["jobs"].count == 0


async def test_a_thread_reply_with_two_mistakes_is_answered_once_naming_both(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, "a lighthouse")
    await workspace.settle()
    [card] = cards(slack)
    before = len(bot_replies(slack, card["ts"]))

    await slack.post_message(ALICE, CHANNEL, "make it night --n 0 --quality ultra", thread_ts=card["ts"])
    await workspace.settle()

    [answer] = bot_replies(slack, card["ts"])[before:]
    lines = answer["text"].splitlines()
    assert lines[0] == "2 things to fix:"
    assert lines[1].startswith("• `--quality ultra` is not valid") and lines[2].startswith("• `--n 0` is not valid")
    assert len(image_api.requests) == 1  # the first image only: the reply asked the API nothing


def _form_values(prompt: str, model: str, **choices: str) -> dict[str, Any]:
    """view.state.values as Slack sends them for the image form (a transparent background ticked)."""
    def selected(value: str) -> dict[str, Any]:
        return {"type": "static_select", "selected_option": {"value": value,
                                                             "text": {"type": "plain_text", "text": value}}}
    ticked = [{"value": views.TRANSPARENT_VALUE, "text": {"type": "plain_text", "text": "Transparent"}}]
    return {
        views.PROMPT_BLOCK: {views.PROMPT_ACTION: {"type": "plain_text_input", "value": prompt}},
        views.SIZE_BLOCK: {views.SIZE_ACTION: selected(choices["size"])},
        views.QUALITY_BLOCK: {views.QUALITY_ACTION: selected(choices["quality"])},
        views.N_BLOCK: {views.N_ACTION: selected("1")},
        views.FORMAT_BLOCK: {views.FORMAT_ACTION: selected(choices["format"])},
        views.TRANSPARENT_BLOCK: {views.TRANSPARENT_ACTION: {"type": "checkboxes", "selected_options": ticked}},
        views.MODEL_BLOCK: {views.MODEL_ACTION: selected(model)},
    }


async def test_the_form_shows_each_mistake_beside_its_own_field(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                workspace: LocalWorkspace) -> None:
    await slack.send_command(ALICE, CHANNEL, "")
    await workspace.settle()
    [form] = slack.views
    here = _services(workspace).images.choices()
    model = next(m for m in here.models
                 if (found := here.caps(m)) is not None and not found.transparent and "jpeg" in found.formats)
    values = _form_values("a sticker", model, size="auto", quality="auto", format="jpeg")
    payload = {"type": "view_submission", "team": {"id": slack.team_id}, "api_app_id": slack.app_id,
               "user": {"id": ALICE, "team_id": slack.team_id, "name": "alice"}, "trigger_id": "1.2.3",
               "view": {**form, "state": {"values": values}}}

    delivery = await slack.send_interaction(payload)
    await workspace.settle()

    answer = json.loads(delivery.response_text)
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {views.FORMAT_BLOCK, views.TRANSPARENT_BLOCK}
    assert "png or webp" in answer["errors"][views.FORMAT_BLOCK]
    assert model in answer["errors"][views.TRANSPARENT_BLOCK]
    assert not image_api.requests


def test_several_problems_are_listed_and_each_escaped() -> None:
    joined = errors.InvalidOption.joined([errors.InvalidOption("`--n 9` is not valid.", option="n"),
                                          errors.InvalidOption("<!channel> is not a size.", option="size")])

    assert explain(joined) == "2 things to fix:\n• `--n 9` is not valid.\n• &lt;!channel&gt; is not a size."
    assert explain(joined.problems[0]) == "`--n 9` is not valid."  # one problem reads as before
