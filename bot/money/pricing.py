"""Money: the price table (data) and the cost of one call from the API's own `usage`.

Money is an integer number of micro-dollars (1 USD = 1,000,000). Prices are held as micro-dollars per
million tokens, so a price of $40 per 1M tokens is 40,000,000 and the cost of `t` tokens is
t × 40,000,000 / 1,000,000 micro-dollars. Each call's cost is summed exactly and rounded (half up) once.
An unknown model, or a token kind with no published price, gives `None`: "price unknown", never a guess.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bot.errors import SettingsError

MICRO = 1_000_000
PRICE_KINDS = ("text_in", "cached_text_in", "image_in", "cached_image_in", "image_out", "text_out")


@dataclass(frozen=True)
class Usage:
    """Token counts of one image API call, as the API reported them."""

    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_image_tokens: int = 0
    output_text_tokens: int = 0
    cached_text_tokens: int = 0
    cached_image_tokens: int = 0

    @property
    def input_tokens(self) -> int:
        return self.input_text_tokens + self.input_image_tokens + self.cached_text_tokens + self.cached_image_tokens

    @property
    def output_tokens(self) -> int:
        return self.output_image_tokens + self.output_text_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            *(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__)
        )

    @classmethod
    def from_api(cls, usage: Any) -> Usage:
        """Read an `ImageGenUsage` / `ImagesUsage` object. Raises ValueError when it is not one.

        `input_tokens_details` splits input into text and image tokens; `output_tokens_details` (absent
        in streaming events) splits output into image and text tokens (gpt-image-1.5 bills text output).
        Without details, all input counts as text and all output as image, which is what the totals mean.
        """
        if not isinstance(usage, dict):
            raise ValueError("usage is not an object")
        input_total = _count(usage, "input_tokens")
        output_total = _count(usage, "output_tokens")
        details = usage.get("input_tokens_details") or {}
        if not isinstance(details, dict):
            raise ValueError("input_tokens_details is not an object")
        image_in = _count(details, "image_tokens") if "image_tokens" in details else 0
        text_in = _count(details, "text_tokens") if "text_tokens" in details else input_total - image_in
        out_details = usage.get("output_tokens_details") or {}
        if not isinstance(out_details, dict):
            raise ValueError("output_tokens_details is not an object")
        text_out = _count(out_details, "text_tokens") if "text_tokens" in out_details else 0
        image_out = _count(out_details, "image_tokens") if "image_tokens" in out_details else output_total - text_out
        if min(text_in, image_out) < 0:
            raise ValueError("token details exceed their totals")
        # The Images API reports no cached tokens today; the cached kinds stay 0 until it does.
        return cls(
            input_text_tokens=text_in,
            input_image_tokens=image_in,
            output_image_tokens=image_out,
            output_text_tokens=text_out,
        )


def _count(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{key} is not a token count: {value!r}")
    return value


@dataclass(frozen=True)
class ModelPrice:
    """Micro-dollars per 1M tokens for each token kind; None where no price is published."""

    text_in: int | None
    cached_text_in: int | None
    image_in: int | None
    cached_image_in: int | None
    image_out: int | None
    text_out: int | None

    def cost(self, usage: Usage) -> int | None:
        total = 0
        for tokens, price in (
            (usage.input_text_tokens, self.text_in),
            (usage.cached_text_tokens, self.cached_text_in),
            (usage.input_image_tokens, self.image_in),
            (usage.cached_image_tokens, self.cached_image_in),
            (usage.output_image_tokens, self.image_out),
            (usage.output_text_tokens, self.text_out),
        ):
            if tokens == 0:
                continue
            if price is None:
                return None
            total += tokens * price
        return (total + MICRO // 2) // MICRO


class PriceTable:
    """Prices per model (and per SVG author model), from the catalogue; IMAGEBOT_PRICES may replace or add some."""

    def __init__(self, models: dict[str, ModelPrice], aliases: dict[str, str] | None = None, *,
                 svg_authors: dict[str, ModelPrice] | None = None) -> None:
        self._models = dict(models)
        self._aliases = dict(aliases or {})
        self._svg_authors = dict(svg_authors or {})

    def price_for(self, model: str) -> ModelPrice | None:
        if model in self._models:
            return self._models[model]
        target = self._aliases.get(model)
        return self._models.get(target) if target else None

    def cost(self, model: str, usage: Usage) -> int | None:
        """Cost of `usage` on `model` in micro-dollars, or None when the price is unknown."""
        price = self.price_for(model)
        return None if price is None else price.cost(usage)

    def svg_author_cost(self, usage: SvgUsage) -> int | None:
        """What the model that wrote an SVG charged (its `svg_usage`), or None when its price is not known."""
        price = self._svg_authors.get(usage.model)
        if price is None:
            return None
        return price.cost(Usage(input_text_tokens=usage.input_tokens, output_text_tokens=usage.output_tokens))

    @property
    def models(self) -> list[str]:
        """Every model with a price: its own, or its alias's."""
        return sorted({*self._models, *(a for a, target in self._aliases.items() if target in self._models)})

    def overridden(self, override: Path | None) -> PriceTable:
        """This table with models from `override` (JSON or TOML, IMAGEBOT_PRICES) replacing or adding entries."""
        if override is None:
            return self
        extra = self.from_data(read_data_file(override, "IMAGEBOT_PRICES"), source=str(override))
        return PriceTable({**self._models, **extra._models}, {**self._aliases, **extra._aliases},
                          svg_authors=self._svg_authors)

    @classmethod
    def from_data(cls, data: Any, *, source: str) -> PriceTable:
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise SettingsError("IMAGEBOT_PRICES", f"{source}: expected a 'models' table")
        models: dict[str, ModelPrice] = {}
        for model, entry in data["models"].items():
            models[model] = price_from_data(entry, where=f"{source}: {model}", setting="IMAGEBOT_PRICES")
        aliases = data.get("aliases") or {}
        if not isinstance(aliases, dict):
            raise SettingsError("IMAGEBOT_PRICES", f"{source}: 'aliases' must map model names to model names")
        return cls(models, {str(k): str(v) for k, v in aliases.items()})


@dataclass(frozen=True)
class SvgUsage:
    """`svg_usage`: the tokens of the model that wrote an SVG, billed apart from the render's `usage`."""

    model: str
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int = 0

    @classmethod
    def from_api(cls, usage: Any) -> SvgUsage:
        if not isinstance(usage, dict) or not isinstance(usage.get("model"), str):
            raise ValueError("svg_usage is not an object with a model")
        reasoning = _count(usage, "reasoning_tokens") if "reasoning_tokens" in usage else 0
        return cls(model=usage["model"], input_tokens=_count(usage, "input_tokens"),
                   output_tokens=_count(usage, "output_tokens"), reasoning_tokens=reasoning)


def read_data_file(path: Path, setting: str) -> Any:
    """An operator's data file (IMAGEBOT_PRICES, IMAGEBOT_MODELS): TOML when its name ends in .toml, else JSON.
    Raises SettingsError naming `setting` when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, ValueError) as exc:
        raise SettingsError(setting, f"cannot read {path}: {exc}") from exc


def price_from_data(entry: Any, *, where: str, setting: str) -> ModelPrice:
    """A ModelPrice from a table of dollars per 1M tokens ({"text_in": "5.00", …}); a missing kind is unpublished."""
    if not isinstance(entry, dict):
        raise SettingsError(setting, f"{where} must be a table of prices")
    unknown = set(entry) - set(PRICE_KINDS)
    if unknown:
        raise SettingsError(setting, f"{where} has unknown keys {sorted(unknown)}")
    return ModelPrice(**{kind: _micro_per_million(entry.get(kind), where, setting) for kind in PRICE_KINDS})


def _micro_per_million(value: Any, where: str, setting: str) -> int | None:
    if value is None:
        return None
    try:
        # Decimal from the text, so "1.25" is exactly 1.25 and never 1.2499999.
        dollars = Decimal(str(value))
    except InvalidOperation as exc:
        raise SettingsError(setting, f"{where} has a price that is not a number: {value!r}") from exc
    if not dollars.is_finite():
        raise SettingsError(setting, f"{where} price {value!r} is not a finite number")
    micro = dollars * MICRO
    if dollars < 0 or micro != micro.to_integral_value():
        raise SettingsError(setting, f"{where} price {value!r} must be ≥ 0 with at most 6 decimals")
    return int(micro)


def format_usd(micro: int | None) -> str:
    """$0.04224 for 42,240 micro-dollars: exact, at least two decimals, no trailing zeros beyond that."""
    if micro is None:
        return "price unknown"
    sign = "-" if micro < 0 else ""
    dollars, rest = divmod(abs(micro), MICRO)
    decimals = f"{rest:06d}".rstrip("0").ljust(2, "0")
    return f"{sign}${dollars:,}.{decimals}"


def parse_usd(text: str) -> int | None:
    """A dollar amount typed by a person ("25", "12.50", "$3") as micro-dollars; "none" is None.
    Raises ValueError for anything else (negative, more than six decimals, not a number)."""
    if text.strip().lower() == "none":
        return None
    try:
        dollars = Decimal(text.strip().lstrip("$"))
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not an amount in dollars") from exc
    if not dollars.is_finite() or dollars < 0 or (dollars * MICRO) % 1:
        raise ValueError(f"{text!r} is not an amount in dollars")
    return int(dollars * MICRO)
