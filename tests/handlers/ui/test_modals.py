"""handlers/ui/modals.py: modals as plain dicts; submissions parsed back.

Slack's limits are asserted directly, and every view and block is also loaded into slack_sdk's own Block Kit
models, which check the same limits and must give back exactly the dict we built (so no key is misspelled).
What the image modal offers is the catalogue's (`Choices`): models are picked here by what they can do
(tests/catalogue_helpers.py), never named.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk.models.views import View

from bot.errors import InvalidOption
from bot.models import ImageOptions
from bot.rules.options import MAX_N, SIZE_ALIASES, Choices, check_options
from handlers.ui import modals as views
from handlers.ui.modals import (
    EDIT_MODAL,
    FORMAT_ACTION,
    FORMAT_BLOCK,
    IMAGE_MODAL,
    INSTRUCTION_ACTION,
    INSTRUCTION_BLOCK,
    MODEL_ACTION,
    MODEL_BLOCK,
    N_ACTION,
    N_BLOCK,
    PROMPT_ACTION,
    PROMPT_BLOCK,
    QUALITY_ACTION,
    QUALITY_BLOCK,
    SIZE_ACTION,
    SIZE_BLOCK,
    TRANSPARENT_ACTION,
    TRANSPARENT_BLOCK,
    build_edit_modal,
    build_image_modal,
    modal_errors,
    parse_edit_modal,
    parse_image_modal,
)
from tests.catalogue_helpers import caps, choices, default_model, live, live_with, live_without, shut_down

CHOICES = choices()  # OpenAI today: every live model
DEFAULTS = ImageOptions(model=default_model())
QUALITIES = caps(default_model()).qualities  # what the edit modal offers for the default model


def union(found: Choices, what: str) -> list[str]:
    """Every value of `what` some model of `found` takes, in catalogue order (worked out here, not by views)."""
    values: dict[str, None] = {}
    for model in found.models:
        values.update(dict.fromkeys(getattr(found.caps(model), what)))
    return list(values)


def other_live_model() -> str:
    """A live model that is not the default (so a preset visibly differs from it)."""
    others = [m for m in live() if m != default_model()]
    assert others, "the catalogue has only one live model"
    return others[0]


# Slack's limits, checked by walking every dict in a view or block ------------------------------------------


def walk(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for child in node.values():
            found.extend(walk(child))
    elif isinstance(node, list):
        for child in node:
            found.extend(walk(child))
    return found


def assert_block_kit_limits(blocks: list[dict[str, Any]], *, modal: bool) -> None:
    assert 1 <= len(blocks) <= (100 if modal else 50)
    block_ids = [block["block_id"] for block in blocks if "block_id" in block]
    assert len(block_ids) == len(set(block_ids))
    for block in blocks:
        if block["type"] == "input":
            assert 1 <= len(block["label"]["text"]) <= 2000
            assert block["label"]["type"] == "plain_text"
        if block["type"] == "actions":
            assert 1 <= len(block["elements"]) <= 25
            action_ids = [element["action_id"] for element in block["elements"]]
            assert len(action_ids) == len(set(action_ids))
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
    for node in walk(blocks):
        for key in ("block_id", "action_id"):
            if key in node:
                assert 1 <= len(node[key]) <= 255
        if node.get("type") == "button":
            assert 1 <= len(node["text"]["text"]) <= 75
            assert len(node["value"]) <= 2000
        if node.get("type") in ("static_select", "checkboxes"):
            assert 1 <= len(node["options"]) <= 100
            for option in node["options"]:
                assert 1 <= len(option["text"]["text"]) <= 75
                assert 1 <= len(option["value"]) <= 150
            if "initial_option" in node:
                assert node["initial_option"] in node["options"]
            for option in node.get("initial_options", []):
                assert option in node["options"]
        if node.get("type") == "plain_text_input":
            assert 1 <= node["max_length"] <= 3000
            assert len(node.get("initial_value", "")) <= node["max_length"]
        if "placeholder" in node:
            assert len(node["placeholder"]["text"]) <= 150
    assert sum(1 for node in walk(blocks) if node.get("focus_on_load")) <= 1


def assert_valid_modal(view: dict[str, Any]) -> None:
    assert view["type"] == "modal"
    for key in ("title", "submit", "close"):
        assert view[key]["type"] == "plain_text"
        assert 1 <= len(view[key]["text"]) <= 24
    assert len(view["callback_id"]) <= 255
    assert len(view.get("private_metadata", "")) <= 3000
    assert_block_kit_limits(view["blocks"], modal=True)
    assert View(**view).to_dict() == view  # slack_sdk validates its limits in to_dict()


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    (block,) = [block for block in view["blocks"] if block.get("block_id") == block_id]
    return block["element"]


def offered_in(view: dict[str, Any], block_id: str) -> list[str]:
    return [option["value"] for option in element(view, block_id)["options"]]


def initial(view: dict[str, Any], block_id: str) -> str | None:
    option = element(view, block_id).get("initial_option")
    return option["value"] if option else None


# What Slack sends on submit ---------------------------------------------------------------------------------


def submit(view: dict[str, Any], **choices: Any) -> dict[str, Any]:
    """`view["state"]["values"]` as Slack sends it when a person submits `view`.

    `choices` are keyed by action_id: a string for a text input, an option value (or None) for a select,
    a bool for the checkboxes. Inputs not chosen keep their initial values, as in Slack. A person can only
    pick an offered option, so choosing anything else fails the test.
    """
    values: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        el = block["element"]
        action_id = el["action_id"]
        if el["type"] == "plain_text_input":
            text = choices.get(action_id, el.get("initial_value"))
            state = {"type": "plain_text_input", "value": text or None}
        elif el["type"] == "static_select":
            if action_id in choices:
                value = choices[action_id]
                matches = [option for option in el["options"] if option["value"] == value]
                assert value is None or matches, f"{value!r} is not offered for {action_id}"
                selected = matches[0] if matches else None
            else:
                selected = el.get("initial_option")
            state = {"type": "static_select", "selected_option": selected}
        elif el["type"] == "checkboxes":
            ticked = el.get("initial_options", []) if action_id not in choices else (
                el["options"] if choices[action_id] else [])
            state = {"type": "checkboxes", "selected_options": ticked}
        else:
            raise AssertionError(f"unexpected element {el['type']}")
        values[block["block_id"]] = {action_id: state}
    return values


# The /image modal -------------------------------------------------------------------------------------------


def test_image_modal_is_a_valid_modal_with_every_input() -> None:
    view = build_image_modal(DEFAULTS, CHOICES, private_metadata="C123")

    assert_valid_modal(view)
    assert view["callback_id"] == IMAGE_MODAL
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == ("imagebot", "Generate", "Cancel")
    assert view["private_metadata"] == "C123"
    assert [(b["block_id"], b["element"]["type"], b["element"]["action_id"]) for b in view["blocks"]] == [
        (PROMPT_BLOCK, "plain_text_input", PROMPT_ACTION),
        (SIZE_BLOCK, "static_select", SIZE_ACTION),
        (QUALITY_BLOCK, "static_select", QUALITY_ACTION),
        (N_BLOCK, "static_select", N_ACTION),
        (TRANSPARENT_BLOCK, "checkboxes", TRANSPARENT_ACTION),
        (FORMAT_BLOCK, "static_select", FORMAT_ACTION),
        (MODEL_BLOCK, "static_select", MODEL_ACTION),
    ]


def test_image_modal_prompt_is_a_required_multiline_input_within_slacks_3000_limit() -> None:
    prompt = element(build_image_modal(DEFAULTS, CHOICES), PROMPT_BLOCK)

    assert prompt["multiline"] is True
    assert prompt["max_length"] == 3000  # Slack refuses more, though /image text may carry 32,000
    assert "initial_value" not in prompt
    assert build_image_modal(DEFAULTS, CHOICES)["blocks"][0]["optional"] is False


def test_image_modal_offers_what_the_live_models_take() -> None:
    view = build_image_modal(DEFAULTS, CHOICES)

    assert offered_in(view, SIZE_BLOCK) == [*SIZE_ALIASES.values(), "auto"]
    assert offered_in(view, QUALITY_BLOCK) == union(CHOICES, "qualities") == list(views.offered(CHOICES, "qualities"))
    assert offered_in(view, N_BLOCK) == [str(n) for n in range(1, MAX_N + 1)]
    assert offered_in(view, FORMAT_BLOCK) == union(CHOICES, "formats") == list(views.offered(CHOICES, "formats"))
    assert offered_in(view, TRANSPARENT_BLOCK) == ["transparent"]
    assert offered_in(view, MODEL_BLOCK) == list(CHOICES.models)
    # Every quality and format a live model has is there: xhigh, max, gif and svg too when one has them.
    for model in CHOICES.models:
        assert set(caps(model).qualities) <= set(offered_in(view, QUALITY_BLOCK))
        assert set(caps(model).formats) <= set(offered_in(view, FORMAT_BLOCK))


def test_options_have_readable_distinct_labels() -> None:
    view = build_image_modal(DEFAULTS, CHOICES)

    for block_id in (QUALITY_BLOCK, FORMAT_BLOCK):
        labels = [option["text"]["text"] for option in element(view, block_id)["options"]]
        assert len(set(labels)) == len(labels) and all(label[0].isupper() for label in labels)


def test_offered_narrows_to_the_models_offered() -> None:
    plain = live_without(lambda c: c.gif is not None or c.svg)
    only = choices(only=(plain,))

    assert views.offered(only, "formats") == caps(plain).formats
    assert not {"gif", "svg"} & set(offered_in(build_image_modal(replace(DEFAULTS, model=plain), only), FORMAT_BLOCK))
    assert views.offered(only, "qualities") == caps(plain).qualities


def test_offered_on_azure_leaves_out_what_azure_does_not_return() -> None:
    azure = choices("azure")
    restricted = azure.catalogue.provider("azure").formats
    assert restricted is not None

    assert list(views.offered(azure, "formats")) == union(azure, "formats")
    assert set(views.offered(azure, "formats")) <= set(restricted)
    assert "webp" in views.offered(CHOICES, "formats") and "webp" not in views.offered(azure, "formats")


def test_offered_falls_back_to_the_basics_for_models_the_catalogue_does_not_know() -> None:
    unknown = choices(only=("house-model",))  # an operator's IMAGEBOT_MODEL the catalogue lacks

    assert views.offered(unknown, "qualities") == ("low", "medium", "high", "auto")
    assert views.offered(unknown, "formats") == ("png", "jpeg", "webp")


def test_image_modal_presets_the_defaults() -> None:
    model = live_with(lambda c: c.transparent and "webp" in c.formats and "high" in c.qualities)
    defaults = ImageOptions(model=model, size="1536x1024", quality="high", n=3, transparent=True,
                            output_format="webp")
    view = build_image_modal(defaults, CHOICES)

    assert_valid_modal(view)
    assert [initial(view, b) for b in (SIZE_BLOCK, QUALITY_BLOCK, N_BLOCK, FORMAT_BLOCK, MODEL_BLOCK)] == [
        "1536x1024", "high", "3", "webp", model]
    assert element(view, TRANSPARENT_BLOCK)["initial_options"] == element(view, TRANSPARENT_BLOCK)["options"]
    assert "initial_options" not in element(build_image_modal(DEFAULTS, CHOICES), TRANSPARENT_BLOCK)


def test_the_transparent_checkbox_is_optional_so_slack_does_not_demand_a_tick() -> None:
    (block,) = [b for b in build_image_modal(DEFAULTS, CHOICES)["blocks"] if b["block_id"] == TRANSPARENT_BLOCK]

    assert block["optional"] is True


def transparent_hint(found: Choices) -> str:
    (option,) = element(build_image_modal(replace(DEFAULTS, model=found.models[0]), found), TRANSPARENT_BLOCK)[
        "options"]
    return str(option["description"]["text"])


def test_the_transparent_hint_names_the_offered_models_without_transparency() -> None:
    opaque = live_without(lambda c: c.transparent)
    clear = live_with(lambda c: c.transparent)

    assert transparent_hint(choices(only=(clear, opaque))) == f"PNG or WebP only; not {opaque}"
    assert transparent_hint(choices(only=(clear,))) == "PNG or WebP only"
    without = [m for m in CHOICES.models if not caps(m).transparent]
    expected = "PNG or WebP only" + (f"; not {', '.join(without)}" if without else "")
    # Slack allows 75 characters in an option's description: a longer list is clipped with an ellipsis.
    assert transparent_hint(CHOICES) == (expected if len(expected) <= 75 else expected[:74] + "…")


def test_a_default_size_outside_the_presets_is_offered_and_preselected() -> None:
    model = live_with(lambda c: c.sizes.free)
    size = next(s for s in caps(model).sizes.sizes if s not in SIZE_ALIASES.values())
    view = build_image_modal(ImageOptions(model=model, size=size), CHOICES)

    assert_valid_modal(view)
    assert size in offered_in(view, SIZE_BLOCK)
    assert initial(view, SIZE_BLOCK) == size


def test_only_the_offered_models_are_offered() -> None:
    first, second = live()[:2]
    view = build_image_modal(replace(DEFAULTS, model=first), choices(only=(first, second)))

    assert offered_in(view, MODEL_BLOCK) == [first, second]
    assert initial(view, MODEL_BLOCK) == first


def test_a_default_model_that_is_not_offered_is_not_preselected() -> None:
    # Slack rejects an initial_option that is not among the options, so the person must choose.
    view = build_image_modal(DEFAULTS, choices(only=(other_live_model(),)))

    assert_valid_modal(view)
    assert offered_in(view, MODEL_BLOCK) == [other_live_model()]
    assert initial(view, MODEL_BLOCK) is None


def test_image_modal_needs_a_model() -> None:
    with pytest.raises(ValueError, match="model"):
        build_image_modal(DEFAULTS, choices(only=()))


def test_image_modal_prefills_the_prompt_and_clips_it_to_the_input_limit() -> None:
    assert element(build_image_modal(DEFAULTS, CHOICES, prompt="a red fox"), PROMPT_BLOCK)["initial_value"] == (
        "a red fox")
    view = build_image_modal(DEFAULTS, CHOICES, prompt="x" * 40_000)

    assert_valid_modal(view)
    assert len(element(view, PROMPT_BLOCK)["initial_value"]) == 3000


def test_private_metadata_up_to_3000_characters_is_kept_and_longer_is_refused() -> None:
    assert build_image_modal(DEFAULTS, CHOICES, private_metadata="m" * 3000)["private_metadata"] == "m" * 3000
    with pytest.raises(ValueError, match="private_metadata"):
        build_image_modal(DEFAULTS, CHOICES, private_metadata="m" * 3001)


def test_empty_private_metadata_is_left_out() -> None:
    assert "private_metadata" not in build_image_modal(DEFAULTS, CHOICES)
    assert "private_metadata" not in build_edit_modal("", QUALITIES)


def test_an_untouched_modal_submits_the_defaults() -> None:
    view = build_image_modal(DEFAULTS, CHOICES, prompt="a lighthouse at dusk")

    assert parse_image_modal(submit(view), CHOICES) == ("a lighthouse at dusk", DEFAULTS)


@dataclass(frozen=True)
class ExtendedOptions(ImageOptions):
    """ImageOptions with a field the modal does not show."""

    hidden: int = 7


def test_fields_the_modal_does_not_show_are_kept_from_the_defaults() -> None:
    defaults = ExtendedOptions(model=default_model(), hidden=3, partial_images=2)
    values = submit(build_image_modal(defaults, CHOICES), prompt="a fox", quality="low")

    assert parse_image_modal(values, CHOICES, defaults=defaults) == ("a fox", replace(defaults, quality="low"))


@pytest.mark.parametrize("fmt", ["gif", "svg"])
def test_gif_and_svg_from_the_modal_never_stream(fmt: str) -> None:
    model = live_with(lambda c: fmt in c.formats and c.streaming)
    defaults = ImageOptions(model=model, partial_images=2)
    values = submit(build_image_modal(defaults, CHOICES), prompt="a fox", format=fmt)

    _, options = parse_image_modal(values, CHOICES, defaults=defaults)
    assert (options.output_format, options.partial_images) == (fmt, 0)
    png = parse_image_modal(submit(build_image_modal(defaults, CHOICES), prompt="a fox"), CHOICES, defaults=defaults)
    assert png[1].partial_images == 2  # a still image keeps its previews


def test_chosen_inputs_round_trip() -> None:
    model = live_with(lambda c: c.transparent and "webp" in c.formats and "high" in c.qualities)
    view = build_image_modal(DEFAULTS, CHOICES)
    values = submit(view, prompt="  a fox\nin the snow  ", size="1024x1536", quality="high", n="4",
                    transparent=True, format="webp", model=model)

    assert parse_image_modal(values, CHOICES) == ("a fox\nin the snow", ImageOptions(
        model=model, size="1024x1536", quality="high", n=4, transparent=True, output_format="webp"))


@settings(max_examples=200, deadline=None)
@given(
    prompt=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300).map(str.strip).filter(bool),
    size=st.sampled_from([*SIZE_ALIASES.values(), "auto"]),
    quality=st.sampled_from(views.offered(CHOICES, "qualities")),
    n=st.integers(1, MAX_N),
    transparent=st.booleans(),
    output_format=st.sampled_from(views.offered(CHOICES, "formats")),
    model=st.sampled_from(CHOICES.models),
)
def test_any_choice_round_trips_or_is_refused_on_the_block_check_options_names(
    prompt: str, size: str, quality: str, n: int, transparent: bool, output_format: str, model: str,
) -> None:
    options = ImageOptions(model=model, size=size, quality=quality, n=n, transparent=transparent,
                           output_format=output_format)
    view = build_image_modal(DEFAULTS, CHOICES)
    values = submit(view, prompt=prompt, size=size, quality=quality, n=str(n), transparent=transparent,
                    format=output_format, model=model)
    try:
        check_options(options, CHOICES)
    except InvalidOption as expected:
        with pytest.raises(InvalidOption) as refused:
            parse_image_modal(values, CHOICES)
        assert refused.value.option == expected.option
        assert set(modal_errors(refused.value)) <= {b["block_id"] for b in view["blocks"]}
    else:
        assert parse_image_modal(values, CHOICES) == (prompt, options)


def test_transparent_jpeg_is_refused_on_the_format_block() -> None:
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt="a sticker", transparent=True, format="jpeg")

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, CHOICES)

    assert error.value.option == "format"
    assert modal_errors(error.value) == {FORMAT_BLOCK: "A transparent background needs png or webp."}


def test_transparent_on_a_model_without_it_is_refused_on_the_transparent_block() -> None:
    opaque = live_without(lambda c: c.transparent)
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt="a sticker", transparent=True, model=opaque)

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, CHOICES)

    assert list(modal_errors(error.value)) == [TRANSPARENT_BLOCK]
    assert opaque in modal_errors(error.value)[TRANSPARENT_BLOCK]


def test_a_format_the_chosen_model_does_not_make_is_refused_on_the_format_block() -> None:
    plain = live_without(lambda c: c.gif is not None)
    assert "gif" in views.offered(CHOICES, "formats"), "no live model makes GIFs: nothing to refuse"
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt="a fox", format="gif", model=plain)

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, CHOICES)

    assert list(modal_errors(error.value)) == [FORMAT_BLOCK]
    assert f"{plain} does not make gif" in modal_errors(error.value)[FORMAT_BLOCK]


@pytest.mark.parametrize("chosen", ["gif on a model without it", "svg with several images"])
def test_modal_errors_never_show_slash_command_options(chosen: str) -> None:
    if chosen == "gif on a model without it":
        picks = {"format": "gif", "model": live_without(lambda c: c.gif is not None)}
    else:
        picks = {"format": "svg", "n": "2", "model": live_with(lambda c: c.svg)}
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt="a fox", **picks)

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, CHOICES)

    [message] = modal_errors(error.value).values()
    assert "--" not in message, message


def test_webp_on_azure_is_not_offered_and_refused_on_the_format_block() -> None:
    azure = choices("azure")
    model = next(m for m in azure.models if "webp" in caps(m).formats)  # makes WebP on OpenAI, not on Azure
    values = submit(build_image_modal(replace(DEFAULTS, model=model), CHOICES), prompt="a fox", format="webp",
                    model=model)

    assert parse_image_modal(values, CHOICES)[1].output_format == "webp"
    assert "webp" not in offered_in(build_image_modal(replace(DEFAULTS, model=model), azure), FORMAT_BLOCK)
    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, azure)
    assert list(modal_errors(error.value)) == [FORMAT_BLOCK]


@pytest.mark.parametrize("prompt", ["", "   \n  "])
def test_an_empty_prompt_is_refused_on_the_prompt_block(prompt: str) -> None:
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt=prompt)

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, CHOICES)

    assert list(modal_errors(error.value)) == [PROMPT_BLOCK]


def test_a_model_outside_the_offered_ones_is_refused_on_the_model_block() -> None:
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt="a fox", model=other_live_model())

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, choices(only=(default_model(),)))

    assert list(modal_errors(error.value)) == [MODEL_BLOCK]


def test_a_shut_down_model_in_a_submission_is_refused_on_the_model_block() -> None:
    # A form opened before a model's shutdown and submitted after it: the model is no longer offered.
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt="a fox")
    values[MODEL_BLOCK] = {MODEL_ACTION: {"type": "static_select", "selected_option": {"value": shut_down()[0]}}}

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, CHOICES)

    assert list(modal_errors(error.value)) == [MODEL_BLOCK]


def test_no_model_chosen_is_refused_on_the_model_block() -> None:
    only = choices(only=(other_live_model(),))
    view = build_image_modal(DEFAULTS, only)

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(submit(view, prompt="a fox"), only)

    assert list(modal_errors(error.value)) == [MODEL_BLOCK]


@pytest.mark.parametrize(("block_id", "action_id", "value", "option"), [
    (SIZE_BLOCK, SIZE_ACTION, "big", "size"),
    (SIZE_BLOCK, SIZE_ACTION, "１０２４x１０２４", "size"),
    (SIZE_BLOCK, SIZE_ACTION, "16x16", "size"),  # well formed, but far too small for any model
    (QUALITY_BLOCK, QUALITY_ACTION, "ultra", "quality"),
    (N_BLOCK, N_ACTION, "9", "n"),
    (N_BLOCK, N_ACTION, "two", "n"),
    (FORMAT_BLOCK, FORMAT_ACTION, "bmp", "format"),
    (SIZE_BLOCK, SIZE_ACTION, None, "size"),
])
def test_values_the_view_never_offered_are_refused_not_crashed_on(block_id: str, action_id: str,
                                                                  value: str | None, option: str) -> None:
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt="a fox")
    selected = None if value is None else {"text": {"type": "plain_text", "text": value}, "value": value}
    values[block_id] = {action_id: {"type": "static_select", "selected_option": selected}}

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, CHOICES)

    assert error.value.option == option
    assert list(modal_errors(error.value)) == [block_id]


def test_a_quality_only_other_models_take_is_refused_for_the_chosen_one() -> None:
    # The selects cannot depend on each other, so xhigh is offered when any model has it, and checked per model.
    plain = live_without(lambda c: "xhigh" in c.qualities)
    assert "xhigh" in views.offered(CHOICES, "qualities"), "no live model has xhigh"
    values = submit(build_image_modal(DEFAULTS, CHOICES), prompt="a fox", quality="xhigh", model=plain)

    with pytest.raises(InvalidOption) as error:
        parse_image_modal(values, CHOICES)

    assert list(modal_errors(error.value)) == [QUALITY_BLOCK]


def test_missing_blocks_are_refused_not_crashed_on() -> None:
    with pytest.raises(InvalidOption) as error:
        parse_image_modal({}, CHOICES)

    assert error.value.option == "prompt"


def test_free_sizes_from_the_defaults_round_trip() -> None:
    model = live_with(lambda c: c.sizes.free)
    size = next(s for s in caps(model).sizes.sizes if s not in SIZE_ALIASES.values())
    defaults = ImageOptions(model=model, size=size)
    view = build_image_modal(defaults, CHOICES)

    assert parse_image_modal(submit(view, prompt="a wide city"), CHOICES) == ("a wide city", defaults)


def test_modal_errors_sends_options_the_modal_has_no_block_for_to_the_fallback() -> None:
    assert modal_errors(InvalidOption("Something is off.")) == {PROMPT_BLOCK: "Something is off."}
    assert modal_errors(InvalidOption("No.", option="mask"), fallback_block=INSTRUCTION_BLOCK) == {
        INSTRUCTION_BLOCK: "No."}


def test_modal_errors_drop_slash_command_markup() -> None:
    error = InvalidOption("`--size 2048x2048` does not work for this model: it is too big.", option="size")

    assert modal_errors(error) == {SIZE_BLOCK: "2048x2048 does not work for this model: it is too big."}


# The "Edit with imagebot" modal -----------------------------------------------------------------------------


def test_edit_modal_has_a_required_instruction_and_an_optional_quality() -> None:
    view = build_edit_modal("C1:1700000000.000100", QUALITIES)

    assert_valid_modal(view)
    assert view["callback_id"] == EDIT_MODAL
    assert view["private_metadata"] == "C1:1700000000.000100"
    instruction, quality = view["blocks"]
    assert (instruction["block_id"], instruction["optional"]) == (INSTRUCTION_BLOCK, False)
    assert instruction["element"]["type"] == "plain_text_input"
    assert instruction["element"]["multiline"] is True
    assert (quality["block_id"], quality["optional"]) == (QUALITY_BLOCK, True)
    assert [option["value"] for option in quality["element"]["options"]] == list(QUALITIES)
    assert "initial_option" not in quality["element"]


def test_edit_modal_offers_exactly_the_qualities_it_is_given() -> None:
    for model in live():
        qualities = caps(model).qualities
        view = build_edit_modal("C1", qualities)
        assert_valid_modal(view)
        assert offered_in(view, QUALITY_BLOCK) == list(qualities)


def test_edit_modal_round_trips() -> None:
    view = build_edit_modal("C1", QUALITIES)

    assert parse_edit_modal(submit(view, instruction=" make the sky purple "), QUALITIES) == (
        "make the sky purple", None)
    for quality in QUALITIES:
        assert parse_edit_modal(submit(view, instruction="sharper", quality=quality), QUALITIES) == (
            "sharper", quality)


def test_edit_modal_refuses_an_empty_instruction_on_its_block() -> None:
    with pytest.raises(InvalidOption) as error:
        parse_edit_modal(submit(build_edit_modal("C1", QUALITIES), instruction="  "), QUALITIES)

    assert list(modal_errors(error.value)) == [INSTRUCTION_BLOCK]


@pytest.mark.parametrize("value", ["ultra", "xhigh"])
def test_edit_modal_refuses_a_quality_it_never_offered(value: str) -> None:
    qualities = caps(live_without(lambda c: "xhigh" in c.qualities)).qualities
    values = submit(build_edit_modal("C1", qualities), instruction="brighter")
    values[QUALITY_BLOCK] = {QUALITY_ACTION: {"type": "static_select", "selected_option": {"value": value}}}

    with pytest.raises(InvalidOption) as error:
        parse_edit_modal(values, qualities)

    assert list(modal_errors(error.value)) == [QUALITY_BLOCK]


def test_edit_modal_reads_slacks_null_for_an_empty_optional_select() -> None:
    values = {INSTRUCTION_BLOCK: {INSTRUCTION_ACTION: {"type": "plain_text_input", "value": "warmer"}},
              QUALITY_BLOCK: {QUALITY_ACTION: {"type": "static_select", "selected_option": None}}}

    assert parse_edit_modal(values, QUALITIES) == ("warmer", None)


def test_every_builder_uses_distinct_block_ids_across_one_modal() -> None:
    view = build_image_modal(replace(DEFAULTS, n=2), CHOICES)

    assert len({b["block_id"] for b in view["blocks"]}) == len(view["blocks"])
