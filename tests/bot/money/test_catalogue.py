"""bot/money/catalogue.py and bot/money/catalogue.json: the shipped data is whole and consistent, and the catalogue's
rules (providers, IMAGEBOT_MODELS overrides, IMAGEBOT_PRICES, latency) hold.

Checks of the shipped data go over every model the catalogue lists, whatever it lists; tests of the rules build
small catalogues of their own (`catalogue_from`, `Catalogue.load` of a file). One published fact is pinned on
purpose: gpt-image-1's shutdown date on OpenAI."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.money.catalogue import Catalogue, load_catalogue
from bot.money.catalogue_records import OFFLINE_AS
from bot.money.pricing import MICRO, SvgUsage, Usage
from bot.money.retirement import STATES
from bot.settings import Settings
from tests.bot.money.catalogue_entries import a_family, new_model
from tests.catalogue_helpers import TODAY, catalogue, catalogue_from, default_model, live, shut_down

PROVIDERS = ("openai", "azure")


# the shipped catalogue -------------------------------------------------------------------------------------


def test_the_shipped_catalogue_loads_with_models_providers_and_a_default() -> None:
    cat = Catalogue.load()

    assert cat.ids
    assert cat.default_model in cat
    assert cat.default_why
    for provider in PROVIDERS:
        assert cat.provider(provider).name == provider
    assert cat.inputs.tile > 0


def test_every_model_and_snapshot_has_capabilities_and_a_status_on_openai() -> None:
    cat = catalogue()
    for model in cat.ids:
        for provider in PROVIDERS:
            caps = cat.capabilities(model, provider)
            assert caps is not None, model
            assert caps.qualities and caps.formats and caps.prompt_limit > 0 and caps.max_n >= 1, model
            assert "auto" in caps.qualities, model
        status = cat.status(model, "openai")
        assert status.state in STATES, model


def test_every_model_has_a_sourced_dated_price_and_snapshots_inherit_their_aliases() -> None:
    cat = catalogue()
    for model in cat.ids:
        entry = cat.get(model)
        assert entry is not None and entry.price is not None, model
        assert entry.price.source, model
        assert entry.price.date, model
        assert isinstance(entry.price.confirmed, bool), model
        assert entry.price.price.image_out is not None, model
        if entry.snapshot_of:
            alias = cat.get(entry.snapshot_of)
            assert alias is not None and not alias.snapshot_of, model
            assert entry.price == alias.price, model
            assert entry.capabilities == alias.capabilities, model
            assert entry.statuses == alias.statuses, model


def test_every_replacement_is_a_live_model_on_that_provider_today() -> None:
    cat = catalogue()
    replaced = 0
    for model in cat.ids:
        for provider, status in cat.get(model).statuses.items():  # type: ignore[union-attr]
            if status.replacement:
                replaced += 1
                assert cat.status(status.replacement, provider).on(TODAY) == "live", (model, provider)
    for model in Catalogue.builtin_data()["gone"]:
        gone = cat.gone(model)
        if gone is not None and gone.replacement:
            replaced += 1
            assert cat.status(gone.replacement, "openai").on(TODAY) == "live", model
    assert replaced, "the catalogue names no replacement at all"


def test_every_model_shut_down_or_deprecated_has_a_shutdown_date() -> None:
    cat = catalogue()
    for model in cat.ids:
        for provider, status in cat.get(model).statuses.items():  # type: ignore[union-attr]
            if status.state in ("deprecated", "shut_down"):
                assert status.shutdown is not None, (model, provider)


def test_the_default_model_is_live_and_its_price_is_confirmed() -> None:
    cat = catalogue()
    entry = cat.get(cat.default_model)

    assert cat.status(cat.default_model, "openai").on(TODAY) == "live"
    assert cat.default_model in cat.live("openai", TODAY)
    assert entry is not None and entry.price is not None and entry.price.confirmed


def test_gpt_image_1_was_shut_down_on_openai_on_its_published_date() -> None:
    # Published: OpenAI's gpt-image-1 model page gives 2026-10-23 as its shutdown (pinned on purpose).
    status = catalogue().status("gpt-image-1", "openai")

    assert status.shutdown == date(2026, 10, 23)
    assert status.on(TODAY) == "shut_down"


def test_the_offline_renderer_follows_openais_statuses() -> None:
    cat = catalogue()

    assert OFFLINE_AS == "openai"
    for model in cat.ids:
        assert cat.status(model, "offline") == cat.status(model, "openai")
    assert cat.live("offline", TODAY) == cat.live("openai", TODAY)


def test_live_lists_usable_models_only_and_azure_keeps_some_openai_has_shut_down() -> None:
    cat = catalogue()
    for provider in PROVIDERS:
        listed = cat.live(provider, TODAY)
        assert listed
        for model in cat.ids:
            assert (model in listed) == cat.status(model, provider).usable(TODAY), (model, provider)
    assert set(shut_down()) & set(cat.live("azure", TODAY))


def test_azure_narrows_the_formats() -> None:
    cat = catalogue()
    narrowed = cat.provider("azure").formats
    assert narrowed is not None
    for model in cat.ids:
        on_openai, on_azure = cat.capabilities(model, "openai"), cat.capabilities(model, "azure")
        assert on_openai is not None and on_azure is not None
        assert on_azure.formats == tuple(f for f in on_openai.formats if f in narrowed)
        assert replace(on_azure, formats=on_openai.formats) == on_openai  # nothing else changes
    assert "webp" in catalogue().capabilities(default_model(), "openai").formats  # type: ignore[union-attr]
    assert "webp" not in catalogue().capabilities(default_model(), "azure").formats  # type: ignore[union-attr]


def test_an_unknown_model_has_no_capabilities_and_an_unknown_status() -> None:
    cat = catalogue()

    assert cat.get("no-such-model") is None
    assert cat.capabilities("no-such-model", "openai") is None
    assert cat.status("no-such-model", "openai").state == "unknown"
    assert not cat.status("no-such-model", "openai").usable(TODAY)


def test_models_the_api_once_served_are_named_with_their_date() -> None:
    cat = catalogue()
    gone = [m for m in Catalogue.builtin_data()["gone"] if not m.startswith("_")]
    assert gone
    for model in gone:
        entry = cat.gone(model)
        assert entry is not None and entry.shutdown <= TODAY
        assert model not in cat
    assert cat.gone(default_model()) is None


# IMAGEBOT_MODELS -------------------------------------------------------------------------------------------


def test_a_json_override_adds_a_model(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": {"house-image": new_model()}}), encoding="utf-8")

    cat = Catalogue.load(path)

    assert "house-image" in cat.live("openai", TODAY)
    assert cat.capabilities("house-image", "openai") == catalogue().capabilities(default_model(), "openai")
    assert cat.price_table().cost("house-image", Usage(output_image_tokens=MICRO)) == 2 * MICRO
    assert set(catalogue().ids) < set(cat.ids)  # everything built in is still there


def test_a_toml_override_adds_a_model_with_toml_dates(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(f"""
[models."house-image"]
family = "{a_family()}"
role = "the house model"
max_n = 2

[models."house-image".status.openai]
state = "deprecated"
shutdown = 2027-02-01
replacement = "{default_model()}"

[models."house-image".prices]
image_out = "2.50"
source = "our contract"
date = 2026-12-01
confirmed = false
""", encoding="utf-8")

    cat = Catalogue.load(path)
    status = cat.status("house-image", "openai")

    assert (status.state, status.shutdown, status.replacement) == ("deprecated", date(2027, 2, 1), default_model())
    assert cat.capabilities("house-image", "openai").max_n == 2  # type: ignore[union-attr]
    assert cat.get("house-image").price.date == "2026-12-01"  # type: ignore[union-attr]
    assert cat.resolve("house-image", "openai", date(2027, 2, 1)).used == default_model()


def test_an_override_changes_one_field_of_one_model(tmp_path: Path) -> None:
    model = default_model()
    sibling = next(m for m in live() if m != model and catalogue().get(m).family == a_family())  # type: ignore[union-attr]
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": {model: {"max_n": 1}}}), encoding="utf-8")

    cat = Catalogue.load(path)

    assert cat.capabilities(model, "openai").max_n == 1  # type: ignore[union-attr]
    assert cat.capabilities(sibling, "openai") == catalogue().capabilities(sibling, "openai")
    assert replace(cat.capabilities(model, "openai"), max_n=0) == \
        replace(catalogue().capabilities(model, "openai"), max_n=0)  # type: ignore[arg-type]
    assert cat.get(model).price == catalogue().get(model).price  # type: ignore[union-attr]


def test_an_override_marks_a_live_model_deprecated_from_a_date(tmp_path: Path) -> None:
    model, other = live()[0], live()[1]
    day = TODAY + timedelta(days=30)
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": {model: {"status": {"openai": {
        "state": "deprecated", "shutdown": day.isoformat(), "replacement": other}}}}}), encoding="utf-8")

    cat = Catalogue.load(path)
    status = cat.status(model, "openai")

    assert status.state == "deprecated" and status.shutdown == day
    assert status.since == catalogue().status(model, "openai").since  # merged key by key: the rest is kept
    assert model in cat.live("openai", TODAY)
    assert model not in cat.live("openai", day)
    assert cat.resolve(model, "openai", day).used == other
    assert cat.status(model, "azure") == catalogue().status(model, "azure")  # another provider is untouched


# load_catalogue: IMAGEBOT_MODELS and IMAGEBOT_PRICES together ---------------------------------------------


def test_load_catalogue_without_files_is_the_shipped_catalogue_and_its_prices() -> None:
    cat, prices = load_catalogue(Settings())

    assert cat.ids == catalogue().ids
    assert prices.models == catalogue().price_table().models
    for model in cat.ids:
        assert prices.price_for(model) == catalogue().price_table().price_for(model)


def test_load_catalogue_applies_imagebot_prices_over_the_catalogues_prices(tmp_path: Path) -> None:
    model = default_model()
    other = next(m for m in live() if m != model)
    prices_path = tmp_path / "prices.toml"
    prices_path.write_text(f'[models."{model}"]\nimage_out = "1.5"\n\n[models.local]\nimage_out = 0\n',
                           encoding="utf-8")

    _, prices = load_catalogue(Settings(prices_path=prices_path))

    assert prices.cost(model, Usage(output_image_tokens=MICRO)) == 1_500_000
    assert prices.cost("local", Usage(output_image_tokens=1000)) == 0
    assert prices.price_for(other) == catalogue().price_table().price_for(other)


def test_imagebot_prices_wins_over_a_price_in_imagebot_models(tmp_path: Path) -> None:
    models_path = tmp_path / "models.json"
    models_path.write_text(json.dumps({"models": {"house-image": new_model()}}), encoding="utf-8")
    prices_path = tmp_path / "prices.json"
    prices_path.write_text(json.dumps({"models": {"house-image": {"image_out": "9"}}}), encoding="utf-8")

    cat, prices = load_catalogue(Settings(models_path=models_path, prices_path=prices_path))

    assert "house-image" in cat
    assert cat.price_table().cost("house-image", Usage(output_image_tokens=MICRO)) == 2 * MICRO
    assert prices.cost("house-image", Usage(output_image_tokens=MICRO)) == 9 * MICRO


def test_load_catalogue_names_the_variable_of_the_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {"m": {"image_out": "forty"}}}', encoding="utf-8")

    with pytest.raises(SettingsError) as prices_error:
        load_catalogue(Settings(prices_path=bad))
    with pytest.raises(SettingsError) as models_error:
        load_catalogue(Settings(models_path=bad))

    assert prices_error.value.variable == "IMAGEBOT_PRICES"
    assert models_error.value.variable == "IMAGEBOT_MODELS"


# the models that write SVGs ---------------------------------------------------------------------------------


def test_svg_author_cost_uses_the_catalogues_svg_author_prices(tmp_path: Path) -> None:
    cat = catalogue_from({"svg_authors": {"writer": {"text_in": "2", "text_out": "8"}}})
    usage = SvgUsage(model="writer", input_tokens=1000, output_tokens=500, reasoning_tokens=100)

    # reasoning_tokens are a breakdown of output_tokens (as in OpenAI's usage objects), not billed on top.
    assert cat.price_table().svg_author_cost(usage) == 1000 * 2 + 500 * 8
    assert cat.price_table().svg_author_cost(replace(usage, model="another-writer")) is None
    # IMAGEBOT_PRICES over the table keeps the authors' prices.
    prices_path = tmp_path / "prices.json"
    prices_path.write_text(json.dumps({"models": {"local": {"image_out": "0"}}}), encoding="utf-8")
    assert cat.price_table().overridden(prices_path).svg_author_cost(usage) == 1000 * 2 + 500 * 8


def test_an_svg_author_the_catalogue_does_not_price_costs_unknown() -> None:
    usage = SvgUsage(model="writer", input_tokens=10, output_tokens=10)

    assert catalogue().price_table().svg_author_cost(usage) is None


# latency: imagebot's own estimates -------------------------------------------------------------------------


def test_every_live_model_has_a_typical_time_and_the_catalogue_says_whose_estimate_it_is() -> None:
    for provider in PROVIDERS:
        for model in live(provider):
            caps = catalogue().capabilities(model, provider)
            assert caps is not None and caps.typical_seconds is not None and caps.typical_seconds > 0, model
    about = Catalogue.builtin_data()["latency"]["_about"]
    assert "imagebot's own estimates" in about and "publishes no latency figures" in about


def test_the_typical_time_scales_with_quality_and_format() -> None:
    cat = catalogue()
    model = default_model()
    caps = cat.capabilities(model, "openai")
    assert caps is not None and cat.typical_seconds(model, "medium") == caps.typical_seconds
    assert cat.typical_seconds(model, "low") < cat.typical_seconds(model, "medium") < cat.typical_seconds(model, "high")
    assert cat.typical_seconds(model, "medium", "gif") > cat.typical_seconds(model, "medium")
    assert cat.typical_seconds("a-model-nobody-knows", "medium") == cat.latency.unknown_seconds


def test_an_override_sets_a_models_typical_time(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"models": {"house-image": new_model(typical_seconds=7)}}), encoding="utf-8")
    assert Catalogue.load(path).typical_seconds("house-image", "medium") == 7
