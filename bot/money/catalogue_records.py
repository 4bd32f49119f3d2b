"""The catalogue's typed records: what a model can do (sizes, qualities, formats, token estimates, typical time),
what it costs, its statuses per provider, and what a provider narrows or names differently.

They are frozen: `bot/money/catalogue_reader.py` builds them from the catalogue's data, `Catalogue` looks them up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.money.pricing import ModelPrice
from bot.money.retirement import UNKNOWN, Status

#: The provider whose statuses the offline renderer follows: it imitates OpenAI.
OFFLINE_AS = "openai"


@dataclass(frozen=True)
class SizeRule:
    """`fixed`: only `sizes` (and auto). `free`: any WxH within the limits; `sizes` are suggestions."""

    rule: str
    sizes: tuple[str, ...]
    multiple: int = 1
    max_edge: int = 0
    max_ratio: float = 0.0
    min_pixels: int = 0
    max_pixels: int = 0

    @property
    def free(self) -> bool:
        return self.rule == "free"

    def problems(self, size: str) -> list[str]:
        """Why this rule refuses `size` (a lowercase 'auto' or 'WxH'); empty when it is acceptable."""
        if size == "auto":
            return []
        if not self.free:
            return [] if size in self.sizes else [f"this model makes only {', '.join((*self.sizes, 'auto'))}"]
        width, height = (int(v) for v in size.split("x"))
        long, short = max(width, height), min(width, height)
        problems = []
        if width % self.multiple or height % self.multiple:
            problems.append(f"both edges must be multiples of {self.multiple}")
        if long > self.max_edge:
            problems.append(f"the long edge must be at most {self.max_edge}")
        if short == 0 or long > self.max_ratio * short:
            problems.append(f"the long edge must be at most {self.max_ratio:g} × the short edge")
        if not self.min_pixels <= width * height <= self.max_pixels:
            problems.append(f"the area must be between {self.min_pixels:,} and {self.max_pixels:,} pixels")
        return problems

    def describe(self) -> str:
        if not self.free:
            return ", ".join((*self.sizes, "auto"))
        return (f"any WIDTHxHEIGHT (edges multiples of {self.multiple}, long edge ≤ {self.max_edge}, "
                f"ratio ≤ {self.max_ratio:g}:1), or auto")


@dataclass(frozen=True)
class GifRule:
    min_frames: int
    max_frames: int
    default_frames: int
    default_frame_ms: int
    max_frame_ms: int


@dataclass(frozen=True)
class Estimate:
    """How to estimate output image tokens before a call (bills always come from the API's `usage`)."""

    name: str
    method: str  # "table" | "formula"
    table: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    quality_factor: Mapping[str, int] = field(default_factory=dict)
    # quality -> (quality it is bounded by, factor): estimates for qualities with no published figures
    bounds: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    gif_factor: float = 1.0
    source: str = ""

    def is_bound(self, quality: str) -> bool:
        """True when the estimate for `quality` is a stated upper bound, not a published figure."""
        return quality in self.bounds


@dataclass(frozen=True)
class InputTokens:
    base_tokens: int
    tile_tokens: int
    tile: int
    high_fidelity_square: int
    high_fidelity_other: int
    partial_image_tokens: int


@dataclass(frozen=True)
class Latency:
    """How a model's typical time scales with what is asked (the catalogue's `latency`: imagebot's estimates)."""

    quality_factor: Mapping[str, float] = field(default_factory=dict)
    format_factor: Mapping[str, float] = field(default_factory=dict)
    unknown_seconds: float = 60.0  # a model the catalogue gives no typical_seconds


@dataclass(frozen=True)
class Capabilities:
    sizes: SizeRule
    qualities: tuple[str, ...]
    complexity: bool
    transparent: bool
    formats: tuple[str, ...]
    input_fidelity: tuple[str, ...]  # values the API takes; () = never sent
    inputs_high_fidelity: bool  # inputs are always read at high fidelity (and billed so)
    mask: bool
    markup: bool
    moderation: bool
    streaming: bool
    max_partial_images: int
    max_n: int
    max_inputs: int
    prompt_limit: int
    gif: GifRule | None
    svg: bool
    estimate: Estimate
    # Seconds one medium-quality image typically takes: imagebot's own estimate (none are published), for the
    # default request deadline; None when the catalogue gives none (Latency.unknown_seconds is used).
    typical_seconds: float | None = None
    # OpenAI's Batch API takes this model (the catalogue's `batch`), and whether OpenAI itself says so.
    batch: bool = False
    batch_confirmed: bool = False

    def streams(self, output_format: str) -> bool:
        """Whether a request for `output_format` may stream (GIF and SVG never do)."""
        return self.streaming and output_format not in ("gif", "svg")


@dataclass(frozen=True)
class BatchTerms:
    """The catalogue's `batch`: the providers imagebot sends Batch API jobs to, their endpoint and window, and the
    discount on every token rate (a percentage: 50 is half price). No `batch` section: no batches anywhere."""

    providers: tuple[str, ...] = ()
    endpoint: str = "/v1/images/generations"
    completion_window: str = "24h"
    discount_percent: int = 0
    source: str = ""

    def discounted(self, price: ModelPrice) -> ModelPrice:
        """`price` with the discount taken off every rate (micro-dollars per 1M tokens, rounded half up), so a
        batch call's cost is `discounted(price).cost(usage)`, still an integer number of micro-dollars."""
        keep = 100 - self.discount_percent

        def cut(rate: int | None) -> int | None:
            return None if rate is None else (rate * keep + 50) // 100

        return ModelPrice(text_in=cut(price.text_in), cached_text_in=cut(price.cached_text_in),
                          image_in=cut(price.image_in), cached_image_in=cut(price.cached_image_in),
                          image_out=cut(price.image_out), text_out=cut(price.text_out))


@dataclass(frozen=True)
class PriceInfo:
    price: ModelPrice
    source: str
    date: str
    confirmed: bool


@dataclass(frozen=True)
class Model:
    id: str
    family: str
    role: str
    capabilities: Capabilities
    statuses: Mapping[str, Status]
    price: PriceInfo | None
    snapshot_of: str | None = None
    sources: tuple[str, ...] = ()
    note: str = ""

    def status(self, provider: str) -> Status:
        return self.statuses.get(OFFLINE_AS if provider == "offline" else provider, UNKNOWN)


@dataclass(frozen=True)
class Provider:
    name: str
    end_user_field: str
    lists_models: bool
    formats: tuple[str, ...] | None = None
    note: str = ""
    # GET /v1/models has no modality field: image models are told by their IDs (and by being in the catalogue).
    image_model_prefixes: tuple[str, ...] = ()

