"""bot/money/pricing.py: exact micro-dollar costs from the API's usage, the catalogue's prices, overrides, formatting.

Prices come from the catalogue (bot/money/catalogue.json); expected costs are worked out from its price table, never
written out, except in tests of the arithmetic that build their own small table."""

import json
from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.money.pricing import MICRO, PRICE_KINDS, ModelPrice, PriceTable, SvgUsage, Usage, format_usd, price_from_data
from tests.catalogue_helpers import catalogue, default_model, priced


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return catalogue().price_table()


def price(**dollars: str | None) -> ModelPrice:
    """A ModelPrice from dollars per 1M tokens, for tests of the arithmetic."""
    return price_from_data(dollars, where="a test price", setting="TEST")


# A small table of its own for the arithmetic: $5 text in, $10 image in, $40 image out; and a cheap model whose
# cached kinds cost fractions of a micro-dollar per token.
HOUSE = price(text_in="5", cached_text_in="1.25", image_in="10", cached_image_in="2.5", image_out="40")
CHEAP = price(text_in="2", cached_text_in="0.2", image_in="2.5", cached_image_in="0.25", image_out="8")
SMALL = PriceTable({"house": HOUSE, "cheap": CHEAP}, {"house-latest": "house"})


def with_text_out() -> str:
    """A model in the catalogue that bills text output."""
    models = [m for m in catalogue().ids if (p := catalogue().price_table().price_for(m)) and p.text_out is not None]
    assert models, "no model in the catalogue bills text output"
    return models[0]


def without(kind: str) -> str:
    models = [m for m in catalogue().ids if (p := catalogue().price_table().price_for(m)) and getattr(p, kind) is None]
    assert models, f"every model in the catalogue has a {kind} price"
    return models[0]


# the catalogue's table ---------------------------------------------------------------------------------------


def test_the_table_holds_every_priced_model_of_the_catalogue(table: PriceTable) -> None:
    cat = catalogue()
    priced_ids = [m for m in cat.ids if cat.get(m).price is not None]  # type: ignore[union-attr]

    assert table.models == sorted(priced_ids)
    for model in priced_ids:
        assert table.price_for(model) == cat.get(model).price.price  # type: ignore[union-attr]


def test_the_default_model_has_a_price(table: PriceTable) -> None:
    assert table.price_for(default_model()) is not None


def test_prices_are_read_as_exact_micro_dollars_per_million() -> None:
    assert price(text_in="1.25").text_in == 1_250_000
    assert price(image_out="0.000001").image_out == 1
    assert price(image_out=30).image_out == 30 * MICRO  # type: ignore[arg-type]
    unpublished = price(image_out="8")
    assert [getattr(unpublished, kind) for kind in PRICE_KINDS if kind != "image_out"] == [None] * 5


def test_a_catalogue_price_costs_tokens_times_its_rate(table: PriceTable) -> None:
    model = default_model()
    rate = priced(model).image_out
    for tokens in (1, 272, 1056, 7024):
        cost = table.cost(model, Usage(output_image_tokens=tokens))
        assert cost == (tokens * rate + MICRO // 2) // MICRO


@pytest.mark.parametrize(
    ("tokens", "micro", "text"),
    [(272, 10_880, "$0.01088"), (1056, 42_240, "$0.04224"), (4160, 166_400, "$0.1664")],
)
def test_outputs_at_40_per_million_cost_exactly_tokens_times_40(tokens: int, micro: int, text: str) -> None:
    cost = SMALL.cost("house", Usage(output_image_tokens=tokens))

    assert cost == micro
    assert format_usd(cost) == text


def test_mixed_usage_is_summed_exactly_then_rounded_once() -> None:
    usage = Usage(input_text_tokens=7, input_image_tokens=3, output_image_tokens=1)
    assert SMALL.cost("house", usage) == 7 * 5 + 3 * 10 + 1 * 40
    # One image-in token is 2.5 µ$ and two cached image-in tokens are 0.5 µ$. Rounded kind by kind that would be
    # 3 + 1 = 4; summed exactly (3.0) and rounded once it is 3.
    assert CHEAP.cost(Usage(input_image_tokens=1, cached_image_tokens=2)) == 3


def test_rounding_is_half_up_on_the_total() -> None:
    assert CHEAP.cost(Usage(input_image_tokens=1)) == 3  # 2.5 µ$ → 3
    assert CHEAP.cost(Usage(cached_text_tokens=2)) == 0  # 0.4 µ$ → 0
    assert CHEAP.cost(Usage(cached_image_tokens=2)) == 1  # 0.25 × 2 = 0.5 µ$ → 1


def test_a_realistic_edit_costs_text_image_and_output_at_their_own_prices() -> None:
    usage = Usage(input_text_tokens=25, input_image_tokens=194, output_image_tokens=1056)
    # 25 × 5 + 194 × 10 + 1056 × 40 = 125 + 1940 + 42240 micro-dollars.
    assert SMALL.cost("house", usage) == 44_305
    assert format_usd(44_305) == "$0.044305"


def test_a_realistic_edit_on_the_default_model_costs_each_kind_at_its_rate(table: PriceTable) -> None:
    rates = priced(default_model())
    usage = Usage(input_text_tokens=25, input_image_tokens=194, output_image_tokens=1056)
    exact = 25 * rates.text_in + 194 * rates.image_in + 1056 * rates.image_out

    assert table.cost(default_model(), usage) == (exact + MICRO // 2) // MICRO


def test_unknown_model_has_no_price_and_formats_as_price_unknown(table: PriceTable) -> None:
    cost = table.cost("no-such-image-model", Usage(output_image_tokens=1056))

    assert cost is None
    assert table.price_for("no-such-image-model") is None
    assert format_usd(cost) == "price unknown"


def test_kind_without_published_price_is_unknown_only_when_it_has_tokens(table: PriceTable) -> None:
    model = without("text_out")
    rate = priced(model).image_out

    assert table.cost(model, Usage(output_image_tokens=1056, output_text_tokens=0)) == \
        (1056 * rate + MICRO // 2) // MICRO
    assert table.cost(model, Usage(output_image_tokens=1056, output_text_tokens=1)) is None


def test_text_output_is_billed_at_its_own_rate_where_the_model_bills_it(table: PriceTable) -> None:
    model = with_text_out()
    rates = priced(model)

    assert table.cost(model, Usage(output_text_tokens=1000)) == (1000 * rates.text_out + MICRO // 2) // MICRO
    assert table.cost(model, Usage(output_image_tokens=272, output_text_tokens=100)) == \
        (272 * rates.image_out + 100 * rates.text_out + MICRO // 2) // MICRO


def test_snapshots_price_as_their_alias(table: PriceTable) -> None:
    cat = catalogue()
    snapshots = [(m, cat.get(m).snapshot_of) for m in cat.ids if cat.get(m).snapshot_of]  # type: ignore[union-attr]
    assert snapshots
    usage = Usage(input_text_tokens=10, output_image_tokens=1056)
    for snapshot, alias in snapshots:
        assert table.price_for(snapshot) == table.price_for(alias)  # type: ignore[arg-type]
        assert table.cost(snapshot, usage) == table.cost(alias, usage)  # type: ignore[arg-type]


def test_aliases_of_a_table_price_as_their_target() -> None:
    usage = Usage(input_text_tokens=10, output_image_tokens=1056)

    assert SMALL.price_for("house-latest") == HOUSE
    assert SMALL.cost("house-latest", usage) == SMALL.cost("house", usage)
    assert "house-latest" in SMALL.models  # priced through its alias, so it is listed among the priced models


def test_zero_usage_costs_nothing(table: PriceTable) -> None:
    assert table.cost(default_model(), Usage()) == 0


# what wrote an SVG ---------------------------------------------------------------------------------------


def test_svg_author_cost_bills_the_authors_text_tokens_at_its_rates() -> None:
    authors = PriceTable({}, svg_authors={"writer": price(text_in="2", text_out="8")})

    assert authors.svg_author_cost(SvgUsage(model="writer", input_tokens=1000, output_tokens=500)) == 2000 + 4000
    assert authors.svg_author_cost(SvgUsage(model="someone-else", input_tokens=1, output_tokens=1)) is None


def test_svg_author_without_a_text_out_price_costs_unknown() -> None:
    authors = PriceTable({}, svg_authors={"writer": price(text_in="2")})

    assert authors.svg_author_cost(SvgUsage(model="writer", input_tokens=10, output_tokens=1)) is None
    assert authors.svg_author_cost(SvgUsage(model="writer", input_tokens=10, output_tokens=0)) == 20


def test_svg_usage_from_api_reads_the_authors_tokens() -> None:
    usage = SvgUsage.from_api({"model": "writer", "input_tokens": 12, "output_tokens": 340, "reasoning_tokens": 5})

    assert usage == SvgUsage(model="writer", input_tokens=12, output_tokens=340, reasoning_tokens=5)
    assert SvgUsage.from_api({"model": "w", "input_tokens": 1, "output_tokens": 2}).reasoning_tokens == 0


@pytest.mark.parametrize("garbage", [None, "svg", {}, {"model": 3, "input_tokens": 1, "output_tokens": 1},
                                     {"model": "w", "input_tokens": -1, "output_tokens": 1},
                                     {"model": "w", "input_tokens": 1}])
def test_svg_usage_from_api_rejects_garbage_with_value_error(garbage: object) -> None:
    with pytest.raises(ValueError):
        SvgUsage.from_api(garbage)


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


def test_no_override_is_the_catalogues_table(table: PriceTable) -> None:
    assert table.overridden(None) is table


def untouched_model(*overridden: str) -> str:
    return next(m for m in catalogue().ids if m not in overridden and not catalogue().get(m).snapshot_of  # type: ignore[union-attr]
                and catalogue().price_table().price_for(m) is not None)


def test_json_override_replaces_and_adds_models(tmp_path: Path, table: PriceTable) -> None:
    model = default_model()
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({
        "models": {
            model: {"text_in": "1", "image_in": "2", "image_out": "20.5", "text_out": None},
            "house-model": {"image_out": 3},
        },
        "aliases": {"house-latest": "house-model"},
    }), encoding="utf-8")

    overridden = table.overridden(override)

    assert overridden.cost(model, Usage(output_image_tokens=1000)) == 20_500
    assert overridden.cost(model, Usage(cached_text_tokens=1)) is None  # the override has no cached price
    assert overridden.cost("house-latest", Usage(output_image_tokens=1000)) == 3_000
    other = untouched_model(model)
    assert overridden.price_for(other) == table.price_for(other)  # untouched: the catalogue's
    assert "house-model" in overridden.models
    assert table.cost(model, Usage(output_image_tokens=1000)) != 20_500  # the catalogue's table is not changed


def test_toml_override_replaces_and_adds_models(tmp_path: Path, table: PriceTable) -> None:
    model = default_model()
    override = tmp_path / "prices.toml"
    override.write_text(
        f'[models."{model}"]\ntext_in = 4.0\nimage_out = "31.25"\n\n'
        '[models.local]\nimage_out = 0\n',
        encoding="utf-8",
    )

    overridden = table.overridden(override)

    assert overridden.cost(model, Usage(input_text_tokens=1000, output_image_tokens=1000)) == 35_250
    assert overridden.cost("local", Usage(output_image_tokens=5000)) == 0


def test_an_override_of_an_alias_reaches_its_snapshots(tmp_path: Path, table: PriceTable) -> None:
    cat = catalogue()
    snapshot = next(m for m in cat.ids if cat.get(m).snapshot_of)  # type: ignore[union-attr]
    alias = cat.get(snapshot).snapshot_of  # type: ignore[union-attr]
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"models": {alias: {"image_out": "1"}}}), encoding="utf-8")

    overridden = table.overridden(override)

    assert overridden.cost(snapshot, Usage(output_image_tokens=1000)) == \
        overridden.cost(alias, Usage(output_image_tokens=1000)) == 1_000


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
        catalogue().price_table().overridden(override)

    assert caught.value.variable == "IMAGEBOT_PRICES"


def test_unreadable_override_names_imagebot_prices(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        catalogue().price_table().overridden(tmp_path / "missing.json")

    assert caught.value.variable == "IMAGEBOT_PRICES"
    assert "missing.json" in caught.value.problem


@pytest.mark.parametrize("value", ['"NaN"', "NaN", '"Infinity"'])
def test_non_finite_price_in_override_names_imagebot_prices(tmp_path: Path, value: str) -> None:
    override = tmp_path / "prices.json"
    override.write_text('{"models": {"m": {"image_out": ' + value + "}}}", encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        catalogue().price_table().overridden(override)

    assert caught.value.variable == "IMAGEBOT_PRICES"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_price_in_toml_override_names_imagebot_prices(tmp_path: Path, value: str) -> None:
    override = tmp_path / "prices.toml"
    override.write_text(f"[models.m]\nimage_out = {value}\n", encoding="utf-8")

    with pytest.raises(SettingsError) as caught:
        catalogue().price_table().overridden(override)

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
    model = with_text_out()
    rates = priced(model)
    exact = 20 * rates.text_in + 1056 * rates.image_out + 44 * rates.text_out
    assert catalogue().price_table().cost(model, usage) == (exact + MICRO // 2) // MICRO


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
