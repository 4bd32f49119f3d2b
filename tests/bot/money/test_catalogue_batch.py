"""The catalogue's Batch API facts: which models take batches (by family, as data), on which provider, and the
discount on a batch call's price (integer micro-dollars)."""

from __future__ import annotations

import pytest

from bot.errors import SettingsError
from bot.money.catalogue import Catalogue
from bot.money.catalogue_records import BatchTerms
from bot.money.pricing import MICRO, ModelPrice, Usage
from tests.catalogue_helpers import catalogue, catalogue_from


def test_the_shipped_catalogue_sends_batches_to_openai_at_half_price() -> None:
    terms = catalogue().batch

    assert terms.providers == ("openai",)
    assert (terms.endpoint, terms.completion_window, terms.discount_percent) == ("/v1/images/generations", "24h", 50)
    assert terms.source.startswith("https://platform.openai.com/docs/guides/batch")


@pytest.mark.parametrize(("model", "supported", "confirmed"), [
    ("gpt-image-2", True, True),
    ("gpt-image-2-2026-04-21", True, True),
    ("gpt-image-2.5-sunburst", True, False),
    ("gpt-image-2.5-flare", True, False),
    ("gpt-image-2.6-sunburst", False, False),
    ("gpt-image-2.6-flare", False, False),
])
def test_which_models_take_batches_follows_the_fact_sheet(model: str, supported: bool, confirmed: bool) -> None:
    caps = catalogue().capabilities(model, "openai")

    assert caps is not None
    assert (caps.batch, caps.batch_confirmed) == (supported, confirmed)
    assert catalogue().supports_batch(model) is supported


def test_batches_are_openai_only_and_unknown_models_take_none() -> None:
    assert catalogue().supports_batch("gpt-image-2", "openai")
    assert not catalogue().supports_batch("gpt-image-2", "azure")  # Azure's batch API is another one
    assert not catalogue().supports_batch("gpt-image-2", "offline")
    assert not catalogue().supports_batch("no-such-model")


def test_a_batch_price_is_half_of_every_rate() -> None:
    full = catalogue().get("gpt-image-2").price.price  # type: ignore[union-attr]
    half = catalogue().batch_price("gpt-image-2")

    assert half == ModelPrice(text_in=2_500_000, cached_text_in=625_000, image_in=4_000_000, cached_image_in=1_000_000,
                              image_out=15_000_000, text_out=None)
    usage = Usage(input_text_tokens=50, output_image_tokens=1756)
    assert full.cost(usage) == 52_930
    assert half is not None and half.cost(usage) == 26_465  # integer micro-dollars, half of the synchronous cost
    assert catalogue().batch_price("no-such-model") is None


def test_the_discount_rounds_each_rate_half_up_and_keeps_unpublished_rates_unknown() -> None:
    terms = BatchTerms(providers=("openai",), discount_percent=50)
    odd = ModelPrice(text_in=3, cached_text_in=None, image_in=1, cached_image_in=0, image_out=MICRO, text_out=None)

    assert terms.discounted(odd) == ModelPrice(text_in=2, cached_text_in=None, image_in=1, cached_image_in=0,
                                               image_out=MICRO // 2, text_out=None)
    assert BatchTerms().discounted(odd) == odd  # no discount: the same rates


def test_an_override_can_turn_batches_on_for_a_family_and_change_the_discount() -> None:
    cat = catalogue_from({"families": {"gpt-image-2.6": {"batch": True}}, "batch": {"discount_percent": 40}})

    assert cat.supports_batch("gpt-image-2.6-sunburst")
    assert cat.batch.discount_percent == 40
    assert cat.batch_price("gpt-image-2.6-sunburst").image_out == 18_000_000  # type: ignore[union-attr]


def test_a_catalogue_without_a_batch_section_sends_no_batches() -> None:
    data = Catalogue.builtin_data()
    del data["batch"]
    cat = Catalogue.from_data(data, source="a test catalogue")

    assert cat.batch == BatchTerms()
    assert not cat.supports_batch("gpt-image-2")


@pytest.mark.parametrize(("extra", "where"), [
    ({"batch": {"discount_percent": 150}}, "batch.discount_percent"),
    ({"batch": {"discount_percent": "50"}}, "batch.discount_percent"),
    ({"batch": {"providers": "openai"}}, "batch.providers"),
    ({"families": {"gpt-image-2": {"batch": "yes"}}}, ".batch"),
])
def test_bad_batch_data_is_refused_naming_the_key(extra: dict, where: str) -> None:
    with pytest.raises(SettingsError) as raised:
        catalogue_from(extra)

    assert raised.value.variable == "IMAGEBOT_MODELS"
    assert where in raised.value.problem
