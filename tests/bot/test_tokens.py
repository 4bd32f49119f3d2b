"""bot/tokens.py: the published token tables (shared/reference/openai-images.md §5b–5d)."""

import pytest

from bot.tokens import (
    input_image_tokens,
    is_gpt_image_2,
    output_image_tokens,
    prompt_text_tokens,
    resolve_quality,
    resolve_size,
)

GPT_IMAGE_1_TABLE = {
    ("low", "1024x1024"): 272, ("low", "1024x1536"): 408, ("low", "1536x1024"): 400,
    ("medium", "1024x1024"): 1056, ("medium", "1024x1536"): 1584, ("medium", "1536x1024"): 1568,
    ("high", "1024x1024"): 4160, ("high", "1024x1536"): 6240, ("high", "1536x1024"): 6208,
}


@pytest.mark.parametrize(("quality", "size"), sorted(GPT_IMAGE_1_TABLE))
@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-image-1.5"])
def test_classic_models_follow_the_published_output_table(model: str, quality: str, size: str) -> None:
    assert output_image_tokens(model, size, quality) == GPT_IMAGE_1_TABLE[quality, size]


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
def test_gpt_image_2_follows_the_published_figures(size: str, low: int, medium: int, high: int) -> None:
    assert [output_image_tokens("gpt-image-2", size, q) for q in ("low", "medium", "high")] == [low, medium, high]


def test_gpt_image_2_snapshot_uses_the_gpt_image_2_formula() -> None:
    assert output_image_tokens("gpt-image-2-2026-04-21", "1024x1024", "high") == 7024


def test_auto_resolves_to_square_medium() -> None:
    assert resolve_size("auto") == "1024x1024"
    assert resolve_quality("auto") == "medium"
    assert output_image_tokens("gpt-image-1", "auto", "auto") == 1056
    assert output_image_tokens("gpt-image-2", "auto", "high") == 7024


def test_classic_model_at_an_unlisted_size_scales_the_square_figure_by_area() -> None:
    assert output_image_tokens("gpt-image-1", "2048x2048", "low") == 272 * 4
    assert output_image_tokens("gpt-image-1", "512x512", "medium") == 1056 // 4


def test_is_gpt_image_2_only_for_the_gpt_image_2_family() -> None:
    assert is_gpt_image_2("gpt-image-2")
    assert is_gpt_image_2("gpt-image-2-2026-04-21")
    assert not is_gpt_image_2("gpt-image-1")
    assert not is_gpt_image_2("gpt-image-1.5")


def test_square_input_image_is_one_tile_65_plus_129() -> None:
    assert input_image_tokens(1024, 1024) == 194
    assert input_image_tokens(512, 512) == 194
    assert input_image_tokens(300, 300) == 194  # scaled up so the short side is 512


def test_non_square_input_counts_512_px_tiles_after_scaling_short_side_to_512() -> None:
    assert input_image_tokens(1536, 1024) == 65 + 129 * 2  # 768x512 → 2 tiles
    assert input_image_tokens(1024, 1536) == 65 + 129 * 2
    assert input_image_tokens(2048, 1024) == 65 + 129 * 2  # 1024x512 → 2 tiles
    assert input_image_tokens(2100, 1000) == 65 + 129 * 3  # 1076x512 → 3 tiles


def test_high_fidelity_adds_4160_for_square_and_6240_otherwise() -> None:
    assert input_image_tokens(1024, 1024, fidelity="high") == 194 + 4160
    assert input_image_tokens(1536, 1024, fidelity="high") == 323 + 6240


def test_gpt_image_2_always_counts_inputs_at_high_fidelity() -> None:
    assert input_image_tokens(1024, 1024, model="gpt-image-2") == 194 + 4160
    assert input_image_tokens(1024, 1536, model="gpt-image-2") == 323 + 6240
    assert input_image_tokens(1024, 1024, model="gpt-image-1") == 194


def test_input_image_at_exact_three_to_one_is_three_tiles() -> None:
    assert input_image_tokens(1536, 512) == 65 + 129 * 3
    assert input_image_tokens(1092, 364) == 65 + 129 * 3


def test_prompt_text_tokens_estimate_includes_overheads() -> None:
    assert prompt_text_tokens("") == 6
    assert prompt_text_tokens("abcd") == 1 + 6
    assert prompt_text_tokens("abcde") == 2 + 6
    assert prompt_text_tokens("abcd", input_images=2) == 1 + 6 + 64
