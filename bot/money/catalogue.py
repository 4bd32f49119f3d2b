"""The model catalogue: which image models exist, what each can do on each provider, and what it costs.

Everything imagebot knows about the outside world's models is data (`bot/money/catalogue.json`), read into typed,
frozen objects (`bot/money/catalogue_records.py`, by `bot/money/catalogue_reader.py`). An operator extends or
overrides it with `IMAGEBOT_MODELS` (a JSON or TOML file of the same shape, merged key by key), so a model released
next month needs no new version. Prices become the `PriceTable` that `IMAGEBOT_PRICES` can still override.

    catalogue = Catalogue.load(models_path)
    model = catalogue.get("gpt-image-2.6-flare")          # capabilities, prices, status per provider
    catalogue.resolve("gpt-image-1", "openai", today)     # -> Resolved(used="gpt-image-2.5-sunburst", retired=...)

Statuses are per provider (`bot/money/retirement.py`): Azure keeps serving models that OpenAI has shut down. The
offline renderer behaves as OpenAI does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from bot.errors import SettingsError
from bot.money.catalogue_reader import MODELS_SETTING, merge, read_catalogue
from bot.money.catalogue_records import OFFLINE_AS, BatchTerms, Capabilities, InputTokens, Latency, Model, Provider
from bot.money.pricing import ModelPrice, PriceTable, read_data_file
from bot.money.retirement import UNKNOWN, Gone, Resolved, Status, follow_replacements
from bot.settings import Settings


class Catalogue:
    def __init__(self, models: Mapping[str, Model], providers: Mapping[str, Provider], inputs: InputTokens,
                 default_model: str, default_why: str = "", gone: Mapping[str, Gone] | None = None,
                 svg_authors: Mapping[str, ModelPrice] | None = None, latency: Latency | None = None,
                 batch: BatchTerms | None = None) -> None:
        self._models = dict(models)
        self.batch = batch or BatchTerms()
        self.latency = latency or Latency()
        self._providers = dict(providers)
        self.inputs = inputs
        self.default_model = default_model
        self.default_why = default_why
        self._gone = dict(gone or {})
        self._svg_authors = dict(svg_authors or {})

    # -- lookups ---------------------------------------------------------------------------------------------------

    def get(self, model: str) -> Model | None:
        return self._models.get(model)

    def __contains__(self, model: object) -> bool:
        return model in self._models

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._models)

    def gone(self, model: str) -> Gone | None:
        return self._gone.get(model)

    def provider(self, name: str) -> Provider:
        return self._providers.get(OFFLINE_AS if name == "offline" else name,
                                   Provider(name=name, end_user_field="safety_identifier", lists_models=False))

    def is_image_model(self, model: str, provider: str = "openai") -> bool:
        """Whether an ID in a provider's model list is an image model: one the catalogue knows, or one whose ID
        looks like one (the list has no modality field)."""
        return model in self._models or model.startswith(self.provider(provider).image_model_prefixes)

    def status(self, model: str, provider: str) -> Status:
        entry = self.get(model)
        return entry.status(provider) if entry else UNKNOWN

    def capabilities(self, model: str, provider: str) -> Capabilities | None:
        """What `model` can do on `provider` (a provider may narrow it, e.g. Azure returns no WEBP)."""
        entry = self.get(model)
        if entry is None:
            return None
        caps = entry.capabilities
        restricted = self.provider(provider).formats
        if restricted is not None:
            caps = replace(caps, formats=tuple(f for f in caps.formats if f in restricted))
        return caps

    def typical_seconds(self, model: str, quality: str, output_format: str = "png") -> float:
        """How long one request for `model` at `quality` typically takes: the model's typical_seconds (or the
        catalogue's figure for a model it gives none) scaled by quality and format. imagebot's own estimate."""
        entry = self.get(model)
        seconds = entry.capabilities.typical_seconds if entry is not None else None
        base = self.latency.unknown_seconds if seconds is None else seconds
        return (base * self.latency.quality_factor.get(quality, 1.0)
                * self.latency.format_factor.get(output_format, 1.0))

    def live(self, provider: str, today: date) -> tuple[str, ...]:
        """Models a request may name on `provider` today, newest first as the catalogue lists them (snapshots
        after their alias). Azure's unconfirmed ones are included: the deployment decides."""
        return tuple(m for m, entry in self._models.items() if entry.status(provider).usable(today))

    def resolve(self, model: str, provider: str, today: date) -> Resolved:
        """`model`, or the first usable model in its chain of replacements when it is shut down on `provider`.
        An unknown model is returned as it is: the caller decides whether to refuse it."""
        return follow_replacements(model, lambda current: self.status(current, provider), today)

    # -- money -----------------------------------------------------------------------------------------------------

    def price_table(self) -> PriceTable:
        """Prices per model (snapshots priced as their alias), as the PriceTable IMAGEBOT_PRICES may override."""
        # A snapshot that keeps its alias's price is priced through the alias, so IMAGEBOT_PRICES reaches both.
        aliases = {mid: str(entry.snapshot_of) for mid, entry in self._models.items()
                   if entry.snapshot_of and entry.price == self._models[entry.snapshot_of].price}
        models = {mid: entry.price.price for mid, entry in self._models.items()
                  if entry.price is not None and mid not in aliases}
        return PriceTable(models, aliases, svg_authors=self._svg_authors)

    def supports_batch(self, model: str, provider: str = "openai") -> bool:
        """Whether imagebot may send `model` to `provider`'s Batch API: the provider is one of the catalogue's batch
        providers (OpenAI; Azure's batch API is another one) and the model's family says it takes batches."""
        caps = self.capabilities(model, provider)
        return caps is not None and caps.batch and provider in self.batch.providers

    def batch_price(self, model: str) -> ModelPrice | None:
        """`model`'s catalogue price with the Batch API's discount taken off; None when its price is unknown. (A
        price from IMAGEBOT_PRICES gets the same discount through `catalogue.batch.discounted(price)`.)"""
        entry = self.get(model)
        return self.batch.discounted(entry.price.price) if entry is not None and entry.price is not None else None

    # -- loading ---------------------------------------------------------------------------------------------------

    @classmethod
    def builtin_data(cls) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(resources.files("bot.money").joinpath("catalogue.json").read_text("utf-8"))
        return data

    @classmethod
    def load(cls, override: Path | None = None) -> Catalogue:
        """The built-in catalogue, with `override` (JSON or TOML, `IMAGEBOT_MODELS`) merged over it."""
        data = cls.builtin_data()
        if override is not None:
            extra = read_data_file(override, MODELS_SETTING)
            if not isinstance(extra, dict):
                raise SettingsError(MODELS_SETTING, f"{override}: expected a table with 'models' and/or 'families'")
            data = merge(data, extra)
        return cls.from_data(data, source=str(override) if override else "the built-in catalogue")

    @classmethod
    def from_data(cls, data: Any, *, source: str) -> Catalogue:
        read = read_catalogue(data, source=source)
        return cls(read.models, read.providers, read.inputs, read.default_model, read.default_why, read.gone,
                   read.svg_authors, read.latency, read.batch)


def load_catalogue(settings: Settings) -> tuple[Catalogue, PriceTable]:
    """The model catalogue (IMAGEBOT_MODELS merged over the built-in one) and its prices (IMAGEBOT_PRICES over
    those). Raises SettingsError naming the variable for a bad file."""
    catalogue = Catalogue.load(settings.models_path)
    return catalogue, catalogue.price_table().overridden(settings.prices_path)

