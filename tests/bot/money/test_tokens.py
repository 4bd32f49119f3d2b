"""bot/money/tokens.py: output and input token estimates from the catalogue's tables, formulas and stated bounds.

Most expectations are worked out from the catalogue's own data. A few tests pin published facts on purpose (each
says so): the figures OpenAI publishes for its models, which the catalogue's data must go on reproducing."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bot.money.catalogue_records import Capabilities
from bot.money.tokens import (
    input_image_tokens,
    is_upper_bound,
    output_image_tokens,
    prompt_text_tokens,
    reads_high_fidelity,
    resolve_quality,
    resolve_size,
)
from tests.catalogue_helpers import caps, catalogue, live_with

INPUTS = catalogue().inputs


def models_estimated_by(method: str) -> list[str]:
    """Every model in the catalogue (shut down or not: the offline renderer and old threads still estimate them)
    whose estimate uses `method`."""
    found = [m for m in catalogue().ids if caps(m).estimate.method == method]
    assert found, f"no model in the catalogue is estimated by {method}"
    return found


# published facts, pinned on purpose ---------------------------------------------------------------------

# Published: OpenAI's image generation guide, "Calculating costs" for the models before gpt-image-2.
CLASSIC_TABLE = {
    ("low", "1024x1024"): 272, ("low", "1024x1536"): 408, ("low", "1536x1024"): 400,
    ("medium", "1024x1024"): 1056, ("medium", "1024x1536"): 1584, ("medium", "1536x1024"): 1568,
    ("high", "1024x1024"): 4160, ("high", "1024x1536"): 6240, ("high", "1536x1024"): 6208,
}


@pytest.mark.parametrize(("quality", "size"), sorted(CLASSIC_TABLE))
def test_table_estimated_models_give_the_published_figures(quality: str, size: str) -> None:
    for model in models_estimated_by("table"):
        assert output_image_tokens(caps(model), size, quality) == CLASSIC_TABLE[quality, size], model


# Published: the gpt-image-2 cost calculator's examples (gpt-image-2 is named on purpose: the figures are its).
@pytest.mark.parametrize(
    ("size", "low", "medium", "high"),
    [
        ("1024x1024", 196, 1756, 7024),
        ("1536x1024", 158, 1372, 5488),
        ("1024x1536", 158, 1372, 5488),
        ("2048x2048", 397, 3568, 14272),
        ("2048x1152", 157, 1413, 5650),
        ("3840x2160", 371, 3336, 13342),
    ],
)
def test_gpt_image_2_follows_the_published_calculator(size: str, low: int, medium: int, high: int) -> None:
    gpt_image_2 = caps("gpt-image-2")

    assert [output_image_tokens(gpt_image_2, size, q) for q in ("low", "medium", "high")] == [low, medium, high]


def test_every_model_sharing_the_formula_estimates_as_the_published_one() -> None:
    # Published: the calculator's 1024x1024 high = 7024 tokens.
    for model in models_estimated_by("formula"):
        assert output_image_tokens(caps(model), "1024x1024", "high") == 7024, model


def test_the_input_token_rules_are_the_published_ones() -> None:
    # Published: the vision guide's GPT Image rule (65 base + 129 per 512 px tile) and the high fidelity
    # surcharge (4160 square, 6240 otherwise); partial images cost 100 tokens each.
    assert (INPUTS.base_tokens, INPUTS.tile_tokens, INPUTS.tile) == (65, 129, 512)
    assert (INPUTS.high_fidelity_square, INPUTS.high_fidelity_other) == (4160, 6240)
    assert INPUTS.partial_image_tokens == 100


# output tokens, from the catalogue's data ----------------------------------------------------------------


def test_a_snapshot_estimates_as_its_alias() -> None:
    snapshots = [m for m in catalogue().ids if catalogue().get(m).snapshot_of]  # type: ignore[union-attr]
    assert snapshots
    for snapshot in snapshots:
        alias = catalogue().get(snapshot).snapshot_of  # type: ignore[union-attr]
        for quality in ("low", "high"):
            assert output_image_tokens(caps(snapshot), "1024x1024", quality) == \
                output_image_tokens(caps(alias), "1024x1024", quality)


def test_auto_resolves_to_square_medium() -> None:
    assert resolve_size("auto") == "1024x1024"
    assert resolve_quality("auto") == "medium"
    for model in (*models_estimated_by("table")[:1], *models_estimated_by("formula")[:1]):
        c = caps(model)
        assert output_image_tokens(c, "auto", "auto") == output_image_tokens(c, "1024x1024", "medium")
        assert output_image_tokens(c, "auto", "high") == output_image_tokens(c, "1024x1024", "high")


def test_a_table_model_at_an_unlisted_size_scales_the_square_figure_by_area() -> None:
    c = caps(models_estimated_by("table")[0])
    table = c.estimate.table

    assert output_image_tokens(c, "2048x2048", "low") == table["low"]["1024x1024"] * 4
    assert output_image_tokens(c, "512x512", "medium") == math.ceil(table["medium"]["1024x1024"] / 4)


def bounded() -> tuple[Capabilities, dict[str, tuple[str, float]]]:
    model = live_with(lambda c: bool(c.estimate.bounds) and all(q in c.qualities for q in c.estimate.bounds))
    c = caps(model)
    return c, dict(c.estimate.bounds)


def test_qualities_without_published_figures_are_their_stated_bound() -> None:
    c, bounds = bounded()
    for quality, (of, factor) in bounds.items():
        for size in ("1024x1024", "1536x1024", "3840x2160"):
            assert output_image_tokens(c, size, quality) == math.ceil(output_image_tokens(c, size, of) * factor)
            assert output_image_tokens(c, size, quality) > output_image_tokens(c, size, of)


def test_is_upper_bound_only_for_bounded_qualities_and_gifs() -> None:
    c, bounds = bounded()
    assert bounds
    for quality in bounds:
        assert is_upper_bound(c, quality)
    for quality in ("low", "medium", "high", "auto"):
        assert not is_upper_bound(c, quality)
        assert not is_upper_bound(c, quality, "png")
    gif = live_with(lambda c: c.gif is not None)
    assert caps(gif).estimate.gif_factor != 1
    assert is_upper_bound(caps(gif), "high", "gif")
    assert not is_upper_bound(replace(caps(gif), estimate=replace(caps(gif).estimate, gif_factor=1.0)), "high", "gif")


def test_a_gif_is_the_still_image_times_the_gif_factor() -> None:
    c = caps(live_with(lambda c: c.gif is not None))
    factor = c.estimate.gif_factor
    for quality in ("low", "high"):
        still = output_image_tokens(c, "1024x1024", quality)
        assert output_image_tokens(c, "1024x1024", quality, "gif") == math.ceil(still * factor)
    assert output_image_tokens(c, "1024x1024", "high", "svg") == output_image_tokens(c, "1024x1024", "high")


# input tokens --------------------------------------------------------------------------------------------


def tiles(count: int) -> int:
    return INPUTS.base_tokens + INPUTS.tile_tokens * count


def test_square_input_image_is_one_tile() -> None:
    for side in (1024, 512, 300):  # 300 is scaled up so the short side is the tile size
        assert input_image_tokens(INPUTS, side, side, high_fidelity=False) == tiles(1)


def test_non_square_input_counts_tiles_after_scaling_the_short_side_to_the_tile() -> None:
    assert INPUTS.tile == 512  # the sizes below are chosen for 512 px tiles (the published rule, pinned above)
    assert input_image_tokens(INPUTS, 1536, 1024, high_fidelity=False) == tiles(2)  # 768x512
    assert input_image_tokens(INPUTS, 1024, 1536, high_fidelity=False) == tiles(2)
    assert input_image_tokens(INPUTS, 2048, 1024, high_fidelity=False) == tiles(2)  # 1024x512
    assert input_image_tokens(INPUTS, 2100, 1000, high_fidelity=False) == tiles(3)  # 1076x512


def test_input_image_at_exact_three_to_one_is_three_tiles() -> None:
    assert input_image_tokens(INPUTS, 1536, 512, high_fidelity=False) == tiles(3)
    assert input_image_tokens(INPUTS, 1092, 364, high_fidelity=False) == tiles(3)


def test_high_fidelity_adds_the_square_or_the_other_surcharge() -> None:
    assert input_image_tokens(INPUTS, 1024, 1024, high_fidelity=True) == tiles(1) + INPUTS.high_fidelity_square
    assert input_image_tokens(INPUTS, 1536, 1024, high_fidelity=True) == tiles(2) + INPUTS.high_fidelity_other


def test_models_that_read_inputs_at_high_fidelity_always_count_them_so() -> None:
    always = caps(live_with(lambda c: c.inputs_high_fidelity))
    for fidelity in (None, "low", "high"):
        assert reads_high_fidelity(always, fidelity)
    chosen = [m for m in catalogue().ids if not caps(m).inputs_high_fidelity and "high" in caps(m).input_fidelity]
    assert chosen, "the catalogue has no model where the request chooses the fidelity"
    assert reads_high_fidelity(caps(chosen[0]), "high")
    assert not reads_high_fidelity(caps(chosen[0]), "low")
    assert not reads_high_fidelity(caps(chosen[0]), None)


# text ----------------------------------------------------------------------------------------------------


def test_prompt_text_tokens_estimate_includes_overheads() -> None:
    assert prompt_text_tokens("") == 6
    assert prompt_text_tokens("abcd") == 1 + 6
    assert prompt_text_tokens("abcde") == 2 + 6
    assert prompt_text_tokens("abcd", input_images=2) == 1 + 6 + 64
