"""A thread is a conversation with the picture: versions, undo, use, branches — undo and use never call the API."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.money.tokens import input_image_tokens
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from storage.records import ThreadKey
from tests.catalogue_helpers import caps, catalogue, default_model, live_with, live_without
from tests.conftest import WorkspaceFactory
from tests.slack_views import input_images, sha

pytestmark = pytest.mark.anyio


@pytest.fixture
async def workspace(workspace_factory: WorkspaceFactory) -> LocalWorkspace:
    """These conversations are quick: more than the default 10 requests a minute."""
    return await workspace_factory(user_requests_per_minute=100)
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"




async def start(slack: SlackStandIn, workspace: LocalWorkspace, text: str) -> str:
    await slack.send_command(ALICE, CHANNEL, text)
    await workspace.settle()
    return [m for m in slack.messages(CHANNEL) if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]][-1]["ts"]


async def reply(slack: SlackStandIn, workspace: LocalWorkspace, thread_ts: str, text: str) -> str:
    await slack.post_message(ALICE, CHANNEL, text, thread_ts=thread_ts)
    await workspace.settle()
    said = [m for m in slack.thread(CHANNEL, thread_ts)
            if m.get("bot_id") and not m.get("text", "").startswith("What next for")]  # skip the buttons
    return said[-1].get("text", "")


def images(slack: SlackStandIn, thread_ts: str) -> list[bytes]:
    return [slack.file_bytes(f["id"]) for m in slack.thread(CHANNEL, thread_ts) if m.get("bot_id")
            for f in m.get("files") or []]


def sent_base(image_api: ImageAPIStandIn) -> str:
    return sha(input_images(image_api.requests[-1])[0][2])


async def test_versions_are_labelled_and_undo_and_use_move_the_context_without_an_api_call(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await start(slack, workspace, "a lighthouse")
    first_note = next(m for m in slack.thread(CHANNEL, thread_ts) if m.get("files"))["text"]
    assert first_note.startswith("*v1* · ") and "Next edit uses v1" in first_note  # the footnote leads with it
    note = await reply(slack, workspace, thread_ts, "make the sky purple")
    assert "*v2* (from v1)" in note and "Next edit uses v2" in note
    await reply(slack, workspace, thread_ts, "add snow")  # v3, from v2
    v1, v2, v3 = images(slack, thread_ts)
    calls = len(image_api.requests)

    assert "the next edit uses v2" in await reply(slack, workspace, thread_ts, "undo")
    assert "the next edit uses v1" in await reply(slack, workspace, thread_ts, "undo")
    assert "nothing to undo" in await reply(slack, workspace, thread_ts, "undo")
    assert "The next edit uses v3" in await reply(slack, workspace, thread_ts, "use v3")
    assert "has no v9" in await reply(slack, workspace, thread_ts, "back to v9")
    assert len(image_api.requests) == calls  # none of those called the image API

    await reply(slack, workspace, thread_ts, "make it night")  # from v3, the chosen context
    assert sent_base(image_api) == sha(v3)
    await reply(slack, workspace, thread_ts, "undo")
    await reply(slack, workspace, thread_ts, "use v2")
    note = await reply(slack, workspace, thread_ts, "add a boat")
    assert sent_base(image_api) == sha(v2) and "*v5* (from v2)" in note
    assert sha(v1) != sha(v2)


async def test_a_branch_edits_the_named_version_and_becomes_the_newest(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await start(slack, workspace, "a lighthouse")
    await reply(slack, workspace, thread_ts, "make the sky purple")
    v1 = images(slack, thread_ts)[0]
    note = await reply(slack, workspace, thread_ts, "v1: make it red")
    assert sent_base(image_api) == sha(v1) and image_api.requests[-1].params()["prompt"] == "make it red"
    assert "*v3* (from v1)" in note and "Next edit uses v3" in note
    await reply(slack, workspace, thread_ts, "more red")
    assert sent_base(image_api) == sha(images(slack, thread_ts)[2])


async def test_several_outputs_share_a_number_and_use_picks_one(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await start(slack, workspace, "a fox --n 3")
    note = next(m for m in slack.thread(CHANNEL, thread_ts) if m.get("files"))["text"]
    assert "*v1a/v1b/v1c*" in note and "Next edit uses v1a" in note and "use b" in note
    first, second, third = images(slack, thread_ts)
    calls = len(image_api.requests)
    assert "uses v1c" in await reply(slack, workspace, thread_ts, "use #3")
    assert "uses v1b" in await reply(slack, workspace, thread_ts, "use b")
    assert "only image" not in await reply(slack, workspace, thread_ts, "use a")
    assert len(image_api.requests) == calls
    await reply(slack, workspace, thread_ts, "use b")
    await reply(slack, workspace, thread_ts, "make it blue")
    assert sent_base(image_api) == sha(second) and sha(first) != sha(third)


async def test_grid_posts_a_labelled_copy_without_an_api_call(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                              workspace: LocalWorkspace) -> None:
    thread_ts = await start(slack, workspace, "a lighthouse")
    [original] = images(slack, thread_ts)
    await reply(slack, workspace, thread_ts, "grid")
    assert len(image_api.requests) == 1
    grid_message = [m for m in slack.thread(CHANNEL, thread_ts) if m.get("bot_id") and m.get("files")][-1]
    assert "C2-D3" in grid_message["text"] and "--region" in grid_message["text"]
    grid = slack.file_bytes(grid_message["files"][0]["id"])
    with Image.open(io.BytesIO(grid)) as drawn, Image.open(io.BytesIO(original)) as source:
        assert drawn.size == source.size and sha(grid) != sha(original)


@pytest.mark.parametrize(("text", "prompt", "inside", "outside", "label"), [
    # columns C-D and rows 2-3 of a 1024x1024 image: x 512..1023, y 256..767
    ("C2-D3: add a red balloon", "add a red balloon", [(512, 256), (1023, 767)], [(511, 256), (512, 768)],
     "C2–D3"),
    ("--region top-left add a sun", "add a sun", [(0, 0), (511, 511)], [(512, 0), (0, 512)], "top-left"),
])
async def test_a_region_edit_sends_a_mask_transparent_exactly_there(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, text: str, prompt: str,
        inside: list[tuple[int, int]], outside: list[tuple[int, int]], label: str) -> None:
    thread_ts = await start(slack, workspace, "a lighthouse")
    note = await reply(slack, workspace, thread_ts, text)
    edit = image_api.requests[-1]
    [(_, _, mask_bytes)] = edit.files["mask"]
    with Image.open(io.BytesIO(mask_bytes)) as mask:
        assert mask.mode == "RGBA" and mask.size == (1024, 1024)
        alpha = mask.getchannel("A")
        assert [alpha.getpixel(p) for p in inside] == [0, 0]  # transparent: may change
        assert [alpha.getpixel(p) for p in outside] == [255, 255]  # opaque: keep
    assert edit.params()["prompt"] == prompt and f"edited region {label}" in note


async def test_an_attached_mask_is_used_and_a_bad_one_is_refused(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                                 workspace: LocalWorkspace) -> None:
    thread_ts = await start(slack, workspace, "a lighthouse")
    good = Image.new("RGBA", (1024, 1024), (0, 0, 0, 255))
    good.paste((0, 0, 0, 0), (0, 0, 100, 100))
    out = io.BytesIO()
    good.save(out, format="PNG")
    await slack.post_message(ALICE, CHANNEL, "add a moon", thread_ts=thread_ts,
                             files=[("mask.png", out.getvalue(), "image/png")])
    await workspace.settle()
    edit = image_api.requests[-1]
    assert "mask" in edit.files and len(input_images(edit)) == 1  # a mask, not a reference
    small = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(small, format="PNG")
    calls = len(image_api.requests)
    await slack.post_message(ALICE, CHANNEL, "add a star", thread_ts=thread_ts,
                             files=[("mask-small.png", small.getvalue(), "image/png")])
    await workspace.settle()
    assert len(image_api.requests) == calls
    refusal = [m for m in slack.thread(CHANNEL, thread_ts) if m.get("bot_id")
               and not m.get("text", "").startswith("What next for")][-1]["text"]
    assert "same size as the image" in refusal


def buttons_for(slack: SlackStandIn, thread_ts: str, version: str) -> tuple[dict, dict[str, dict]]:
    """The buttons message for `version` (alone, or one of several images: v5a), and its buttons by action id
    (each with its block's block_id, which Slack sends with a press)."""
    for message in slack.thread(CHANNEL, thread_ts):
        for block in message.get("blocks") or []:
            named = block.get("block_id", "").removeprefix("imagebot_result:").partition(":")[0].split(",")
            if block.get("type") == "actions" and version in named:
                return message, {b["action_id"]: {**b, "block_id": block["block_id"]} for b in block["elements"]}
    raise AssertionError(f"no buttons for {version}")


def press_payload(slack: SlackStandIn, thread_ts: str, message: dict, action: str, value: str, block_id: str,
                  user: str = ALICE) -> dict:
    """block_actions as Slack sends it for a press in `message` (its copy rides along)."""
    return {"type": "block_actions", "user": {"id": user, "team_id": slack.team_id},
            "team": {"id": slack.team_id}, "channel": {"id": CHANNEL}, "trigger_id": f"t-{len(slack.calls)}",
            "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL,
                          "thread_ts": thread_ts, "is_ephemeral": False},
            "message": message, "response_url": slack.new_response_url(user, CHANNEL),
            "actions": [{"action_id": action, "value": value, "type": "button", "block_id": block_id,
                         "action_ts": "1.0"}]}


async def press(slack: SlackStandIn, workspace: LocalWorkspace, thread_ts: str, version: str, action: str,
                user: str = ALICE) -> None:
    message, buttons = buttons_for(slack, thread_ts, version)
    button = buttons[action]
    payload = press_payload(slack, thread_ts, message, action, button["value"], button["block_id"], user)
    assert (await slack.send_interaction(payload)).status == 200
    await workspace.settle()


async def test_result_buttons(slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await start(slack, workspace, "a lighthouse")
    await reply(slack, workspace, thread_ts, "make the sky purple")  # v2 from v1
    v1, _ = images(slack, thread_ts)
    store = workspace.services.images.store
    key = ThreadKey(slack.team_id, CHANNEL, thread_ts)

    def context() -> str:
        return next(r["label"] for r in store.versions(key) if r["image_id"] == store.get_thread(key).last_image_id)

    _, v1_buttons = buttons_for(slack, thread_ts, "v1")
    assert "imagebot_undo" not in v1_buttons  # v1 was not made from anything
    calls = len(image_api.requests)

    await press(slack, workspace, thread_ts, "v2", "imagebot_undo")  # context back to v1: no API call
    assert context() == "v1"
    await press(slack, workspace, thread_ts, "v2", "imagebot_use")  # and to v2 again: no API call
    assert context() == "v2" and len(image_api.requests) == calls

    await press(slack, workspace, thread_ts, "v2", "imagebot_retry")  # the same edit again, from v1
    retry = image_api.requests[-1]
    assert retry.params()["prompt"] == "make the sky purple" and sent_base(image_api) == sha(v1)
    await press(slack, workspace, thread_ts, "v2", "imagebot_high_quality")
    assert image_api.requests[-1].params()["quality"] == "high" and sent_base(image_api) == sha(v1)
    await press(slack, workspace, thread_ts, "v1", "imagebot_variations")  # three more of the generation
    variations = image_api.requests[-1]
    assert variations.operation == "generations" and variations.json["n"] == 3
    assert variations.json["prompt"] == "a lighthouse"
    labels = [r["label"] for r in store.versions(key)]
    assert labels == ["v1", "v2", "v3", "v4", "v5a", "v5b", "v5c"]
    assert len(images(slack, thread_ts)) == 7  # results land in the same thread as new versions


async def azure_workspace(image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory,
                          model: str) -> LocalWorkspace:
    """An Azure workspace whose deployment serves `model` (a deployment serves exactly one model)."""
    image_api.azure_deployments[f"imagebot-{model}"] = model
    return await workspace_factory("azure", model=model, azure_deployment=f"imagebot-{model}",
                                   user_requests_per_minute=100)


def high_fidelity_extra(width: int, height: int) -> int:
    inputs = catalogue().inputs
    return (input_image_tokens(inputs, width, height, high_fidelity=True)
            - input_image_tokens(inputs, width, height, high_fidelity=False))


# No live OpenAI model takes `input_fidelity` today (the GPT Image 1 models that did are shut down there, and the
# GPT Image 2 models read every input at high fidelity): the models that take it and the ones that refuse it are
# picked from those Azure still serves.
async def test_high_fidelity_is_sent_and_costs_more_where_the_model_takes_it(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    model = live_with(lambda c: "high" in c.input_fidelity, provider="azure")
    workspace = await azure_workspace(image_api, workspace_factory, model)
    thread_ts = await start(slack, workspace, "a portrait")
    await reply(slack, workspace, thread_ts, "make her smile")
    note = await reply(slack, workspace, thread_ts, "make her laugh --fidelity high")
    plain, high = image_api.requests[-2:]
    assert plain.flavor == high.flavor == "azure" and len(image_api.requests) == 3
    assert "input_fidelity" not in plain.params() and high.params()["input_fidelity"] == "high"
    rows = workspace.services.images.store.ledger_rows()
    [(_, _, base)] = input_images(high)
    with Image.open(io.BytesIO(base)) as image:
        width, height = image.size
    assert high_fidelity_extra(width, height) > 0
    assert rows[2]["input_image_tokens"] == rows[1]["input_image_tokens"] + high_fidelity_extra(width, height)
    assert rows[2]["cost_micro"] > rows[1]["cost_micro"]
    assert "high input fidelity" in note


async def test_high_fidelity_is_refused_before_any_call_where_the_model_has_none(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    model = live_without(lambda c: "high" in c.input_fidelity or c.inputs_high_fidelity, provider="azure")
    workspace = await azure_workspace(image_api, workspace_factory, model)
    thread_ts = await start(slack, workspace, "a portrait")
    assert len(image_api.requests) == 1
    answer = await reply(slack, workspace, thread_ts, "make her laugh --fidelity high")
    assert f"{model} does not support `--fidelity high`" in answer
    assert len(image_api.requests) == 1


async def test_a_model_reading_every_input_at_high_fidelity_bills_it_unasked_and_accepts_the_option(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    assert caps(default_model()).inputs_high_fidelity and not caps(default_model()).input_fidelity
    thread_ts = await start(slack, workspace, "a portrait")
    await reply(slack, workspace, thread_ts, "make her smile")
    await reply(slack, workspace, thread_ts, "make her laugh --fidelity high")  # not refused: nothing to change
    plain, asked = image_api.requests[-2:]
    assert plain.params()["model"] == asked.params()["model"] == default_model() and len(image_api.requests) == 3
    assert "input_fidelity" not in plain.params()
    [(_, _, base)] = input_images(plain)
    with Image.open(io.BytesIO(base)) as image:
        width, height = image.size
    rows = workspace.services.images.store.ledger_rows()
    assert rows[1]["input_image_tokens"] == input_image_tokens(catalogue().inputs, width, height, high_fidelity=True)
    assert rows[2]["input_image_tokens"] == rows[1]["input_image_tokens"]  # the surcharge once, asked or not


async def test_fidelity_is_not_sent_to_a_model_that_takes_none(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    assert not caps(default_model()).input_fidelity
    thread_ts = await start(slack, workspace, "a portrait")
    await reply(slack, workspace, thread_ts, "make her laugh --fidelity high")
    [edit] = [r for r in image_api.requests if r.operation == "edits"]
    assert "input_fidelity" not in edit.params()


async def post_too_many_inputs(slack: SlackStandIn, workspace: LocalWorkspace) -> tuple[str, int]:
    """A thread on the default model, and a reply with one image more than it takes (the thread's own included)."""
    most = caps(default_model()).max_inputs
    thread_ts = await start(slack, workspace, "a collage")
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "teal").save(out, format="PNG")
    files = [(f"ref{i}.png", out.getvalue(), "image/png") for i in range(most)]  # + the thread's image
    await slack.post_message(ALICE, CHANNEL, "use all of these", thread_ts=thread_ts, files=files)
    await workspace.settle()
    return thread_ts, most


async def test_more_than_sixteen_inputs_are_refused_before_any_call(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    # No confirmation: so many inputs, each read at high fidelity, cost enough to be asked about first (see below).
    workspace = await workspace_factory(user_requests_per_minute=100, confirm_above_micro=None)
    thread_ts, most = await post_too_many_inputs(slack, workspace)
    assert len(image_api.requests) == 1  # the generation only
    said = [m for m in slack.thread(CHANNEL, thread_ts) if m.get("bot_id")][-1]["text"]
    assert f"at most {most} images" in said and f"this one has {most + 1}" in said


async def test_too_many_inputs_are_refused_rather_than_asked_about(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts, most = await post_too_many_inputs(slack, workspace)
    said = [m.get("text", "") for m in slack.thread(CHANNEL, thread_ts) if m.get("bot_id")]
    assert not [text for text in said if "Generate?" in text]
    assert f"at most {most} images" in said[-1] and len(image_api.requests) == 1
