"""bot/pricing.py and bot/prices.json: exact micro-dollar costs from the API's usage, overrides, formatting."""

import json
from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.pricing import MICRO, PriceTable, Usage, format_usd


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.builtin()


# the built-in table (shared/reference/openai-images.md §5a) -----------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "micro", "text"),
    [(272, 10_880, "$0.01088"), (1056, 42_240, "$0.04224"), (4160, 166_400, "$0.1664")],
)
def test_gpt_image_1_square_outputs_cost_exactly_tokens_times_40_per_million(
    table: PriceTable, tokens: int, micro: int, text: str
) -> None:
    cost = table.cost("gpt-image-1", Usage(output_image_tokens=tokens))

    assert cost == micro
    assert format_usd(cost) == text


def test_builtin_table_holds_the_published_prices(table: PriceTable) -> None:
    def per_million(model: str, kind: str) -> int | None:
        price = table.price_for(model)
        assert price is not None
        return getattr(price, kind)

    expected = {
        "gpt-image-1": (5, 1.25, 10, 2.5, 40, None),
        "gpt-image-1-mini": (2, 0.2, 2.5, 0.25, 8, None),
        "gpt-image-1.5": (5, 1.25, 8, 2, 32, 10),
        "gpt-image-2": (5, 1.25, 8, 2, 30, None),
    }
    kinds = ("text_in", "cached_text_in", "image_in", "cached_image_in", "image_out", "text_out")
    for model, dollars in expected.items():
        for kind, usd in zip(kinds, dollars, strict=True):
            assert per_million(model, kind) == (None if usd is None else round(usd * MICRO)), (model, kind)
    assert table.models == sorted(expected)


def test_mixed_usage_is_summed_exactly_then_rounded_once(table: PriceTable) -> None:
    # gpt-image-1: text in at $5, image in at $10, image out at $40 per 1M tokens.
    usage = Usage(input_text_tokens=7, input_image_tokens=3, output_image_tokens=1)
    assert table.cost("gpt-image-1", usage) == 7 * 5 + 3 * 10 + 1 * 40
    # gpt-image-1-mini: one image-in token is 2.5 µ$ and two cached image-in tokens are 0.5 µ$. Rounded kind
    # by kind that would be 3 + 1 = 4; summed exactly (3.0) and rounded once it is 3.
    mini = table.price_for("gpt-image-1-mini")
    assert mini is not None
    assert mini.cost(Usage(input_image_tokens=1, cached_image_tokens=2)) == 3


def test_rounding_is_half_up_on_the_total(table: PriceTable) -> None:
    mini = table.price_for("gpt-image-1-mini")
    assert mini is not None
    assert mini.cost(Usage(input_image_tokens=1)) == 3  # 2.5 µ$ → 3
    assert mini.cost(Usage(cached_text_tokens=2)) == 0  # 0.4 µ$ → 0
    assert mini.cost(Usage(cached_image_tokens=2)) == 1  # 0.25 × 2 = 0.5 µ$ → 1


def test_a_realistic_edit_costs_text_image_and_output_at_their_own_prices(table: PriceTable) -> None:
    usage = Usage(input_text_tokens=25, input_image_tokens=194, output_image_tokens=1056)
    # 25 × 5 + 194 × 10 + 1056 × 40 = 125 + 1940 + 42240 micro-dollars.
    assert table.cost("gpt-image-1", usage) == 44_305
    assert format_usd(44_305) == "$0.044305"


def test_unknown_model_has_no_price_and_formats_as_price_unknown(table: PriceTable) -> None:
    cost = table.cost("dall-e-3", Usage(output_image_tokens=1056))

    assert cost is None
    assert table.price_for("dall-e-3") is None
    assert format_usd(cost) == "price unknown"


def test_kind_without_published_price_is_unknown_only_when_it_has_tokens(table: PriceTable) -> None:
    assert table.cost("gpt-image-1", Usage(output_image_tokens=1056, output_text_tokens=0)) == 42_240
    assert table.cost("gpt-image-1", Usage(output_image_tokens=1056, output_text_tokens=1)) is None


def test_gpt_image_1_5_bills_text_output_at_10_per_million(table: PriceTable) -> None:
    assert table.cost("gpt-image-1.5", Usage(output_text_tokens=1000)) == 10_000
    assert table.cost("gpt-image-1.5", Usage(output_image_tokens=272, output_text_tokens=100)) == 272 * 32 + 1000


@pytest.mark.parametrize(("alias", "target"), [("chatgpt-image-latest", "gpt-image-1.5"),
                                                ("gpt-image-2-2026-04-21", "gpt-image-2")])
def test_aliases_price_as_their_target(table: PriceTable, alias: str, target: str) -> None:
    usage = Usage(input_text_tokens=10, output_image_tokens=1056)

    assert table.price_for(alias) == table.price_for(target)
    assert table.cost(alias, usage) == table.cost(target, usage)
    assert alias not in table.models


def test_zero_usage_costs_nothing(table: PriceTable) -> None:
    assert table.cost("gpt-image-1", Usage()) == 0


# format_usd -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("micro", "text"),
    [
        (0, "$0.00"),
        (1, "$0.000001"),
        (10_000, "$0.01"),
        (100_000, "$0.10"),
        (1_500_000, "$1.50"),
        (1_234_567_890, "$1,234.56789"),
        (-42_240, "-$0.04224"),
    ],
)
def test_format_usd_is_exact_with_at_least_two_decimals(micro: int, text: str) -> None:
    assert format_usd(micro) == text


# overrides (IMAGEBOT_PRICES) ------------------------------------------------------------------------------


def test_load_without_override_is_the_builtin_table() -> None:
    assert PriceTable.load(None).models == PriceTable.builtin().models


def test_json_override_replaces_and_adds_models(tmp_path: Path) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({
        "models": {
            "gpt-image-1": {"text_in": "1", "image_in": "2", "image_out": "20.5", "text_out": None},
            "house-model": {"image_out": 3},
        },
        "aliases": {"house-latest": "house-model"},
    }), encoding="utf-8")

    table = PriceTable.load(override)

    assert table.cost("gpt-image-1", Usage(output_image_tokens=1000)) == 20_500
    assert table.cost("gpt-image-1", Usage(cached_text_tokens=1)) is None  # the override has no cached price
    assert table.cost("house-latest", Usage(output_image_tokens=1000)) == 3_000
    assert table.cost("gpt-image-2", Usage(output_image_tokens=1000)) == 30_000  # untouched built-in
    assert table.cost("chatgpt-image-latest", Usage(output_image_tokens=1000)) == 32_000  # built-in alias kept
    assert "house-model" in table.models


def test_toml_override_replaces_and_adds_models(tmp_path: Path) -> None:
    override = tmp_path / "prices.toml"
    override.write_text(
        '[models."gpt-image-1.5"]\ntext_in = 4.0\nimage_out = "31.25"\n\n'
        '[models.local]\nimage_out = 0\n',
        encoding="utf-8",
    )

    table = PriceTable.load(override)

    assert table.cost("gpt-image-1.5", Usage(input_text_tokens=1000, output_image_tokens=1000)) == 35_250
    assert table.cost("chatgpt-image-latest", Usage(output_image_tokens=1000)) == 31_250  # alias follows
    assert table.cost("local", Usage(output_image_tokens=5000)) == 0


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.json", "{not json"),
        ("broken.toml", "models = ["),
        ("list.json", "[1, 2]"),
        ("nomodels.json", '{"aliases": {}}'),
        ("entry.json", '{"models": {"m": 40}}'),
        ("unknownkey.json", '{"models": {"m": {"image_output": "40"}}}'),
        ("text.json", '{"models": {"m": {"image_out": "forty"}}}'),
        ("negative.json", '{"models": {"m": {"image_out": "-1"}}}'),
        ("tooprecise.json", '{"models": {"m": {"image_out": "0.0000001"}}}'),
        ("aliases.json", '{"models": {}, "aliases": ["a"]}'),
        ("binary.json", b"\xff\xfe\x00garbage"),
    ],
)
def test_malformed_override_names_imagebot_prices(tmp_path: Path, name: str, content: str | bytes) -> None:
    override = tmp_path / name
    if isinstance(content, bytes):
        override.write_bytes(content)
    else:
        override.write_text(content, encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        PriceTable.load(override)

    assert caught.value.variable == "IMAGEBOT_PRICES"


def test_unreadable_override_names_imagebot_prices(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        PriceTable.load(tmp_path / "missing.json")

    assert caught.value.variable == "IMAGEBOT_PRICES"


@pytest.mark.parametrize("value", ['"NaN"', "NaN", '"Infinity"'])
def test_non_finite_price_in_override_names_imagebot_prices(tmp_path: Path, value: str) -> None:
    override = tmp_path / "prices.json"
    override.write_text('{"models": {"m": {"image_out": ' + value + "}}}", encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        PriceTable.load(override)

    assert caught.value.variable == "IMAGEBOT_PRICES"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_price_in_toml_override_names_imagebot_prices(tmp_path: Path, value: str) -> None:
    override = tmp_path / "prices.toml"
    override.write_text(f"[models.m]\nimage_out = {value}\n", encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        PriceTable.load(override)

    assert caught.value.variable == "IMAGEBOT_PRICES"


# Usage.from_api -------------------------------------------------------------------------------------------


def test_usage_from_api_reads_the_openapi_example() -> None:
    usage = Usage.from_api({
        "total_tokens": 100,
        "input_tokens": 50,
        "output_tokens": 50,
        "input_tokens_details": {"text_tokens": 10, "image_tokens": 40},
    })

    assert usage == Usage(input_text_tokens=10, input_image_tokens=40, output_image_tokens=50)
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (50, 50, 100)


def test_usage_from_api_reads_output_details_with_text_tokens() -> None:
    usage = Usage.from_api({
        "input_tokens": 20,
        "output_tokens": 1100,
        "total_tokens": 1120,
        "input_tokens_details": {"text_tokens": 20, "image_tokens": 0},
        "output_tokens_details": {"image_tokens": 1056, "text_tokens": 44},
    })

    assert usage.output_image_tokens == 1056
    assert usage.output_text_tokens == 44
    assert PriceTable.builtin().cost("gpt-image-1.5", usage) == 20 * 5 + 1056 * 32 + 44 * 10


def test_usage_from_api_reads_streaming_usage_without_output_details() -> None:
    usage = Usage.from_api({
        "total_tokens": 1090,
        "input_tokens": 34,
        "output_tokens": 1056,
        "input_tokens_details": {"text_tokens": 34, "image_tokens": 0},
    })

    assert usage == Usage(input_text_tokens=34, output_image_tokens=1056)


def test_usage_from_api_without_any_details_counts_input_as_text_and_output_as_image() -> None:
    assert Usage.from_api({"input_tokens": 12, "output_tokens": 272}) == Usage(input_text_tokens=12,
                                                                                output_image_tokens=272)


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        "usage",
        [1, 2],
        {},
        {"input_tokens": 10},
        {"input_tokens": "10", "output_tokens": 5},
        {"input_tokens": -1, "output_tokens": 5},
        {"input_tokens": True, "output_tokens": 5},
        {"input_tokens": 1.5, "output_tokens": 5},
        {"input_tokens": 10, "output_tokens": 5, "input_tokens_details": "x"},
        {"input_tokens": 10, "output_tokens": 5, "output_tokens_details": [1]},
        {"input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"image_tokens": 11}},
        {"input_tokens": 10, "output_tokens": 5, "output_tokens_details": {"text_tokens": 6}},
        {"input_tokens": 10, "output_tokens": 5, "input_tokens_details": {"text_tokens": None}},
    ],
)
def test_usage_from_api_rejects_garbage_with_value_error(garbage: object) -> None:
    with pytest.raises(ValueError):
        Usage.from_api(garbage)


def test_usages_add_field_by_field() -> None:
    total = Usage(1, 2, 3, 4, 5, 6) + Usage(10, 20, 30, 40, 50, 60)

    assert total == Usage(11, 22, 33, 44, 55, 66)
    assert total.input_tokens == 11 + 22 + 55 + 66
    assert total.output_tokens == 33 + 44
