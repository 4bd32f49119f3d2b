"""handlers/ui/results.py: the one actions message under a request's results, the cost confirmation and the grid's
words, as plain dicts.

Slack's limits are asserted directly (tests/handlers/ui/test_modals.py `assert_block_kit_limits`), and every block
is also loaded into slack_sdk's own Block Kit models, which must give back exactly the dict we built.
"""

from __future__ import annotations

import json

import pytest
from slack_sdk.models.blocks import Block

from bot.money.pricing import format_usd
from handlers.ui.results import (
    CANCEL,
    CONFIRM,
    HIGH_QUALITY,
    RETRY,
    UNDO,
    USE,
    VARIATIONS,
    build_confirmation,
    build_grid_message,
    build_result_actions,
    names_version,
    read_result_value,
    result_value,
    use_action,
)
from tests.catalogue_helpers import default_model
from tests.handlers.ui.test_modals import assert_block_kit_limits

THREE = [("img_a", "v3a"), ("img_b", "v3b"), ("img_c", "v3c")]


# Buttons under a result -------------------------------------------------------------------------------------


def test_result_actions_offer_every_button_with_undo_only_when_possible() -> None:
    with_undo = build_result_actions([("img_42", "v3")], can_undo=True)
    without = build_result_actions([("img_42", "v1")], can_undo=False)

    assert [(b["action_id"], b["text"]["text"]) for b in with_undo["elements"]] == [
        (RETRY, "Retry"), (UNDO, "Undo"), (USE, "Use this one"), (HIGH_QUALITY, "Make it high quality"),
        (VARIATIONS, "Variations")]
    assert [b["action_id"] for b in without["elements"]] == [RETRY, USE, HIGH_QUALITY, VARIATIONS]
    for block in (with_undo, without):
        assert block["type"] == "actions"
        assert_block_kit_limits([block], modal=False)
        assert Block.parse(block).to_dict() == block


def test_result_button_values_decode_back() -> None:
    block = build_result_actions([("img_42", "v3b")], can_undo=True)

    for button in block["elements"]:
        assert json.loads(button["value"]) == {"image": "img_42", "v": "v3b"}
        assert read_result_value(button["value"]) == ("img_42", "v3b")
    assert " " not in block["elements"][0]["value"]  # compact


def test_result_block_ids_carry_the_version_and_differ_between_versions() -> None:
    v2 = build_result_actions([("img_1", "v2")], can_undo=True)["block_id"]
    v3 = build_result_actions([("img_1", "v3")], can_undo=True)["block_id"]

    assert "v2" in v2 and "v3" in v3
    assert v2 != v3
    assert build_result_actions([("img_2", "v3")], can_undo=True)["block_id"] != v3


def test_a_long_version_still_gives_a_short_distinct_block_id() -> None:
    a = build_result_actions([("img", "v" * 300)], can_undo=False)
    b = build_result_actions([("img", "v" * 301)], can_undo=False)

    assert len(a["block_id"]) <= 255
    assert a["block_id"] != b["block_id"]
    assert_block_kit_limits([a], modal=False)


def test_a_button_value_over_2000_characters_is_refused() -> None:
    assert len(result_value("i" * 1900, "v1")) <= 2000
    with pytest.raises(ValueError, match="2000"):
        build_result_actions([("i" * 2000, "v1")], can_undo=False)


def test_several_images_get_one_block_whose_use_buttons_name_them_with_the_letters_replies_take() -> None:
    block = build_result_actions(THREE, can_undo=True)

    assert [(b["action_id"], b["text"]["text"]) for b in block["elements"]] == [
        (use_action("a"), "Use a"), (use_action("b"), "Use b"), (use_action("c"), "Use c"), (RETRY, "Retry"),
        (UNDO, "Undo"), (HIGH_QUALITY, "Make it high quality"), (VARIATIONS, "Variations")]
    uses = [read_result_value(b["value"]) for b in block["elements"][:3]]
    assert uses == THREE  # each Use button names its own image and version
    assert {b["value"] for b in block["elements"][3:]} == {result_value("img_a", "v3a")}  # the request, by its first
    assert_block_kit_limits([block], modal=False)  # action ids distinct within the block, as Slack wants
    assert Block.parse(block).to_dict() == block


def test_a_group_block_id_names_each_of_its_versions_and_no_other() -> None:
    block_id = build_result_actions(THREE, can_undo=False)["block_id"]

    assert all(names_version(block_id, image_id, label) for image_id, label in THREE)
    assert not names_version(block_id, "img_a", "v3")
    assert not names_version(block_id, "img_a", "v2a")
    assert not names_version(build_result_actions(THREE[:2], can_undo=False)["block_id"], "img_c", "v3c")


def test_one_images_block_id_names_its_version_and_its_image() -> None:
    block_id = build_result_actions([("img_1", "v2")], can_undo=True)["block_id"]

    assert names_version(block_id, "img_1", "v2")
    assert not names_version(block_id, "img_2", "v2") and not names_version(block_id, "img_1", "v1")
    assert not names_version("imagebot_other:v2:img_1", "img_1", "v2")


@pytest.mark.parametrize("quality", ["high", "xhigh", "max"])
def test_make_it_high_quality_is_not_offered_under_a_result_that_is_already(quality: str) -> None:
    for outputs in ([("img_1", "v2")], THREE):
        block = build_result_actions(outputs, can_undo=True, quality=quality)
        assert HIGH_QUALITY not in [b["action_id"] for b in block["elements"]]


@pytest.mark.parametrize("quality", ["low", "medium", "auto", None])
def test_make_it_high_quality_is_offered_under_a_lower_quality(quality: str | None) -> None:
    block = build_result_actions([("img_1", "v2")], can_undo=True, quality=quality)
    assert HIGH_QUALITY in [b["action_id"] for b in block["elements"]]


def test_a_result_has_an_image() -> None:
    with pytest.raises(ValueError):
        build_result_actions([], can_undo=False)


@pytest.mark.parametrize("value", ["[]", '{"image": 1, "v": "v1"}', '{"image": "x"}', '"x"'])
def test_read_result_value_refuses_other_values(value: str) -> None:
    with pytest.raises(ValueError):
        read_result_value(value)


# Cost confirmation -----------------------------------------------------------------------------------------


def test_confirmation_states_the_estimate_and_offers_generate_and_cancel() -> None:
    summary = f"4 images, {default_model()}, high, 1536x1024"
    blocks = build_confirmation(1_250_000, summary, "tok_abc")

    assert_block_kit_limits(blocks, modal=False)
    assert [Block.parse(block).to_dict() for block in blocks] == blocks
    section, actions = blocks
    assert format_usd(1_250_000) in section["text"]["text"]
    assert summary in section["text"]["text"]
    assert "\n_" not in section["text"]["text"]  # no caveats, no caveat lines
    generate, cancel = actions["elements"]
    assert (generate["action_id"], generate["text"]["text"], generate["style"]) == (CONFIRM, "Generate", "primary")
    assert (cancel["action_id"], cancel["text"]["text"]) == (CANCEL, "Cancel")
    assert "style" not in cancel
    assert generate["value"] == cancel["value"] == "tok_abc"


def test_confirmation_escapes_the_summary_and_clips_it() -> None:
    (section, _) = build_confirmation(40_000, "<!channel> & " + "x" * 5000, "t")

    assert "<!channel>" not in section["text"]["text"]
    assert "&lt;!channel&gt; &amp;" in section["text"]["text"]
    assert len(section["text"]["text"]) <= 3000


def test_confirmation_states_each_caveat_on_its_own_italic_line_escaped() -> None:
    caveats = ("xhigh has no published token figures: this is a stated upper bound", "<!here> & the SVG author")
    blocks = build_confirmation(2_000_000, "one image", "t", caveats=caveats)

    assert_block_kit_limits(blocks, modal=False)
    assert [Block.parse(block).to_dict() for block in blocks] == blocks
    text = blocks[0]["text"]["text"]
    assert text.splitlines()[1:] == ["_xhigh has no published token figures: this is a stated upper bound_",
                                     "_&lt;!here&gt; &amp; the SVG author_"]
    assert format_usd(2_000_000) in text.splitlines()[0]


def test_confirmation_refuses_a_token_over_2000_characters() -> None:
    with pytest.raises(ValueError):
        build_confirmation(1, "one image", "t" * 2001)


# The grid -------------------------------------------------------------------------------------------------


def test_grid_message_explains_cells_ranges_and_regions() -> None:
    text = build_grid_message("v3")

    assert "v3" in text
    assert "`C2: " in text
    assert "`C2-D3: " in text
    assert "`--region top-left " in text
    assert len(text) <= 3000


def test_grid_message_escapes_the_version() -> None:
    assert "<@U1>" not in build_grid_message("<@U1>")
