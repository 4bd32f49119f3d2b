"""handlers/ui/help.py: what `/image help` says, built pure, checked against the catalogue model by model.

Models and their capabilities come from the catalogue (tests/catalogue_helpers.py), never by name; the help's
tests from test_blocks.py moved here with it (the help is now headed Block Kit parts rather than one text).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.money.catalogue import Catalogue
from bot.rules.options import FLAG_OPTIONS, MAX_N, SIZE_ALIASES, VALUE_OPTIONS, Choices
from handlers.ui.blocks import SECTION_LIMIT
from handlers.ui.help import HEADER_LIMIT, MAX_BLOCKS, SHORTCUT_NAME, build_help
from tests.catalogue_helpers import TODAY, caps, catalogue, catalogue_from, choices, default_model, live, shut_down

MODEL = default_model()
OTHER = next(m for m in live() if m != MODEL)  # a second live model
MANIFEST = Path(__file__).parents[3] / "manifest.yml"


def help_text(command: str, where: Choices, default: str) -> str:
    """Everything the help's blocks say, a line each, as a person reads it."""
    _, blocks = build_help(command, where, default)
    return "\n".join(block["text"]["text"] for block in blocks)


def parts(where: Choices | None = None) -> dict[str, str]:
    """The help's parts: each header's text → the sections under it."""
    _, blocks = build_help("/image", where or choices(), MODEL)
    found: dict[str, str] = {}
    title = ""
    for block in blocks:
        if block["type"] == "header":
            title = block["text"]["text"]
            found[title] = ""
        else:
            found[title] = "\n".join(filter(None, (found[title], block["text"]["text"])))
    return found


def model_lines(text: str) -> dict[str, str]:
    """The help's line for each model, keyed by the model it names."""
    models = text.split("Models\n", 1)[1].split("\nReply in", 1)[0].splitlines()
    return {line.split("`")[1]: line for line in models if line.startswith("• `")}


def models_named(clause: str, models: list[str]) -> set[str]:
    """The models a clause says something is for: those it names, or all but them after "every model but"."""
    named = {m for m in models if f"`{m}`" in clause}
    return set(models) - named if "every model but" in clause else named


def assert_within_slacks_limits(blocks: list[dict[str, Any]]) -> None:
    assert len(blocks) <= MAX_BLOCKS == 50
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and 0 < len(block["text"]["text"]) <= HEADER_LIMIT == 150
        else:
            assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
            assert 0 < len(block["text"]["text"]) <= SECTION_LIMIT == 3000


# what the options take ------------------------------------------------------------------------------------


def test_help_lists_every_option_and_its_values() -> None:
    text = help_text("/image", choices(), MODEL)
    gif = next(c.gif for m in live() if (c := caps(m)).gif)

    for option in (*VALUE_OPTIONS, *FLAG_OPTIONS):
        assert f"`--{option}" in text
    for value in ("square", "portrait", "landscape", "WIDTHxHEIGHT", "auto", "low", "medium", "high", "png", "jpeg",
                  "webp", "gif", "svg", f"1-{MAX_N}", f"{gif.min_frames}-{gif.max_frames}"):
        assert value in text
    assert f"`--model NAME` (default {MODEL})" in text
    for alias, size in SIZE_ALIASES.items():
        assert f"{alias} {size}" in text


@pytest.mark.parametrize(("field", "option"), [("qualities", "quality"), ("formats", "format")])
def test_values_only_some_models_take_name_those_models(field: str, option: str) -> None:
    models = live()
    every = [set(getattr(caps(m), field)) for m in models]
    common = set.intersection(*every)
    [line] = [line for line in parts()["Options"].splitlines() if line.startswith(f"• `--{option} ")]

    assert set(line.split("`")[1].split(" ", 1)[1].split("|")) == common
    extras = set.union(*every) - common
    assert extras, f"the test needs a {option} only some live models take"
    for value in extras:
        having = [m for m in models if value in getattr(caps(m), field)]
        clause = next(c for c in line.split("; ")[1:] if f"`{value}`" in c)
        assert models_named(clause, models) == set(having), (value, clause)


def test_an_option_only_some_models_have_names_them_and_one_none_has_is_left_out() -> None:
    options = parts()["Options"]
    having = live(where=lambda c: c.complexity)
    assert having and len(having) < len(live())
    [line] = [line for line in options.splitlines() if "`--complexity" in line]
    assert models_named(line, live()) == set(having)

    nowhere = Choices(catalogue_from({"models": {m: {"complexity": False} for m in catalogue().ids}}), "openai", TODAY)
    assert "--complexity" not in parts(nowhere)["Options"]


# the models -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_help_describes_each_live_model_from_the_catalogue(provider: str) -> None:
    text = help_text("/image", choices(provider), MODEL)
    lines = model_lines(text)

    assert list(lines) == live(provider)  # every live model once, snapshots left out, in catalogue order
    for model, line in lines.items():
        found = caps(model, provider)
        assert f"quality {'/'.join(found.qualities)}" in line
        assert f"; {'/'.join(found.formats)}" in line
        assert ("any size" in line) is found.sizes.free
        if not found.sizes.free:
            assert "/".join(found.sizes.sizes) in line
        else:
            assert f"long edge ≤ {found.sizes.max_edge}" in line
        for extra in ("complexity", "markup", "transparent"):
            assert (extra in line.split("; ")[-1]) is getattr(found, extra), (model, extra)
        entry = catalogue().get(model)
        assert entry is not None
        role = entry.role
        assert not role or f"({role})" in line
        assert ("the default" in line) is (model == MODEL)
    for gone in shut_down(provider):
        assert f"`{gone}`" not in text


def test_help_on_azure_lists_only_the_formats_azure_returns() -> None:
    restricted = catalogue().provider("azure").formats
    assert restricted is not None
    for model, line in model_lines(help_text("/image", choices("azure"), MODEL)).items():
        formats = line.split(f"quality {'/'.join(caps(model, 'azure').qualities)}; ", 1)[1].split(";")[0]
        assert formats and set(formats.split("/")) <= set(restricted), line
    assert "--frames" not in parts(choices("azure"))["Options"]  # no model makes a GIF there


def test_help_lists_only_the_models_on_offer() -> None:
    text = help_text("/image", choices(only=(OTHER,)), OTHER)

    assert list(model_lines(text)) == [OTHER]
    assert f"(default {OTHER})" in text


def test_a_deployment_of_a_snapshot_is_described_too() -> None:
    snapshot = next(m for m in catalogue().live("openai", TODAY) if (entry := catalogue().get(m)) and entry.snapshot_of)

    assert list(model_lines(help_text("/image", choices(only=(snapshot,)), snapshot))) == [snapshot]


def test_help_uses_the_command_name() -> None:
    text = help_text("/draw", choices(), MODEL)

    assert text.startswith("Make an image\n`/draw <prompt> [options]`")
    assert "`/draw a lighthouse" in text
    assert "`/draw usage`" in text
    assert "/image" not in text


# the rest of what a person can do -------------------------------------------------------------------------


def test_help_is_in_headed_parts_in_the_order_a_newcomer_meets_them() -> None:
    assert list(parts()) == ["Make an image", "Options", "Models", "Reply in the image's thread",
                             "Buttons under a result", "More"]
    assert all(parts().values())


def test_help_covers_every_thread_reply() -> None:
    replies = parts()["Reply in the image's thread"]

    for form in ("`undo`", "`use v2`", "`back to v2`", "`use b`", "`use #2`", "`v2: ", "`grid`", "`C2: ",
                 "`C2-D3: ", "`--region top-left", "`mask….png`", "`markup….png`", "references"):
        assert form in replies, form


def test_markup_names_the_models_that_take_it() -> None:
    [line] = [line for line in parts()["Reply in the image's thread"].splitlines() if "markup…" in line]
    having = live(where=lambda c: c.markup)
    assert having and len(having) < len(live())

    assert models_named(line, live()) == set(having)


def test_help_names_the_buttons_usage_the_form_and_the_shortcut() -> None:
    found = parts()
    for button in ("Retry", "Undo", "Use this one", "Make it high quality", "Variations", "Generate", "Cancel"):
        assert f"*{button}*" in found["Buttons under a result"]
    assert "`/image` alone opens a form" in found["Make an image"]
    assert "`/image usage`" in found["More"]
    assert f"*{SHORTCUT_NAME}*" in found["More"]


def test_the_shortcut_is_named_as_the_manifest_names_it() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())

    assert [s["name"] for s in manifest["features"]["shortcuts"]] == [SHORTCUT_NAME]


# Slack's limits -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_help_is_within_slacks_limits(provider: str) -> None:
    text, blocks = build_help("/image", choices(provider), MODEL)

    assert text and len(text) <= 3000
    assert_within_slacks_limits(blocks)


def test_a_catalogue_of_many_models_still_fits_in_one_message() -> None:
    data = Catalogue.builtin_data()
    many = {f"a-test-model-{i:02}": copy.deepcopy(data["models"][MODEL]) for i in range(60)}
    where = Choices(catalogue_from({"models": many}), "openai", TODAY)

    _, blocks = build_help("/image", where, MODEL)

    assert_within_slacks_limits(blocks)
    models = model_lines("\n".join(block["text"]["text"] for block in blocks))
    assert set(many) <= set(models)  # packed into several sections, none dropped
    assert sum(1 for block in blocks if block["type"] == "section" and "a-test-model-" in block["text"]["text"]) > 1
