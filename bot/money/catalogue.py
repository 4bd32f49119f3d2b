"""The model catalogue: which image models exist, what each can do on each provider, and what it costs.

Everything imagebot knows about the outside world's models is data (`bot/money/catalogue.json`), read here into typed,
frozen objects. An operator extends or overrides it with `IMAGEBOT_MODELS` (a JSON or TOML file of the same shape,
merged key by key), so a model released next month needs no new version. Prices become the `PriceTable` that
`IMAGEBOT_PRICES` can still override.

    catalogue = Catalogue.load(models_path)
    model = catalogue.get("gpt-image-2.6-flare")          # capabilities, prices, status per provider
    catalogue.resolve("gpt-image-1", "openai", today)     # -> Resolved(used="gpt-image-2.5-sunburst", retired=...)

A status applies from its date: a model marked `deprecated` with a shutdown date is shut down from that day on,
so the catalogue stays right after a date passes without a release. Statuses are per provider: Azure keeps
serving models that OpenAI has shut down. The offline renderer behaves as OpenAI does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import SettingsError
from bot.money.pricing import ModelPrice, PriceTable, price_from_data, read_data_file

if TYPE_CHECKING:
    from bot.settings import Settings

STATES = ("live", "deprecated", "shut_down", "unconfirmed")
#: The provider whose statuses the offline renderer follows: it imitates OpenAI.
OFFLINE_AS = "openai"
_SETTING = "IMAGEBOT_MODELS"
_MAX_REPLACEMENT_HOPS = 8


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

    def streams(self, output_format: str) -> bool:
        """Whether a request for `output_format` may stream (GIF and SVG never do)."""
        return self.streaming and output_format not in ("gif", "svg")


@dataclass(frozen=True)
class Status:
    state: str  # one of STATES, as written; `on(today)` is what applies on a day
    shutdown: date | None = None
    replacement: str | None = None
    since: date | None = None

    def on(self, today: date) -> str:
        if self.state == "deprecated" and self.shutdown is not None and today >= self.shutdown:
            return "shut_down"
        return self.state

    def usable(self, today: date) -> bool:
        return self.on(today) in ("live", "deprecated", "unconfirmed")


UNKNOWN = Status(state="unknown")


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


@dataclass(frozen=True)
class Gone:
    shutdown: date
    replacement: str | None


@dataclass(frozen=True)
class Resolved:
    """The model a request will use: `requested`, or its replacement when the requested one is shut down."""

    requested: str
    used: str
    retired: Status | None = None  # the requested model's status when it was replaced

    @property
    def replaced(self) -> bool:
        return self.used != self.requested

    def note(self) -> str | None:
        """`gpt-image-1 was shut down on 2026-10-23; this used gpt-image-2.5-sunburst` (for footnotes and logs)."""
        if not self.replaced:
            return None
        when = f" on {self.retired.shutdown.isoformat()}" if self.retired and self.retired.shutdown else ""
        return f"{self.requested} was shut down{when}; this used {self.used}"


class Catalogue:
    def __init__(self, models: Mapping[str, Model], providers: Mapping[str, Provider], inputs: InputTokens,
                 default_model: str, default_why: str = "", gone: Mapping[str, Gone] | None = None,
                 svg_authors: Mapping[str, ModelPrice] | None = None, latency: Latency | None = None) -> None:
        self._models = dict(models)
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
        current, first_status = model, None
        for _ in range(_MAX_REPLACEMENT_HOPS):
            status = self.status(current, provider)
            if status.on(today) != "shut_down":
                return Resolved(requested=model, used=current, retired=first_status)
            first_status = first_status or status
            if not status.replacement:
                break
            current = status.replacement
        return Resolved(requested=model, used=model, retired=first_status)

    # -- money -----------------------------------------------------------------------------------------------------

    def price_table(self) -> PriceTable:
        """Prices per model (snapshots priced as their alias), as the PriceTable IMAGEBOT_PRICES may override."""
        # A snapshot that keeps its alias's price is priced through the alias, so IMAGEBOT_PRICES reaches both.
        aliases = {mid: str(entry.snapshot_of) for mid, entry in self._models.items()
                   if entry.snapshot_of and entry.price == self._models[entry.snapshot_of].price}
        models = {mid: entry.price.price for mid, entry in self._models.items()
                  if entry.price is not None and mid not in aliases}
        return PriceTable(models, aliases, svg_authors=self._svg_authors)

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
            extra = read_data_file(override, _SETTING)
            if not isinstance(extra, dict):
                raise SettingsError(_SETTING, f"{override}: expected a table with 'models' and/or 'families'")
            data = merge(data, extra)
        return cls.from_data(data, source=str(override) if override else "the built-in catalogue")

    @classmethod
    def from_data(cls, data: Any, *, source: str) -> Catalogue:
        return _Reader(source).catalogue(data)


def load_catalogue(settings: Settings) -> tuple[Catalogue, PriceTable]:
    """The model catalogue (IMAGEBOT_MODELS merged over the built-in one) and its prices (IMAGEBOT_PRICES over
    those). Raises SettingsError naming the variable for a bad file."""
    catalogue = Catalogue.load(settings.models_path)
    return catalogue, catalogue.price_table().overridden(settings.prices_path)


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`extra` over `base`: tables merge key by key (so an override can change one field of one model), anything
    else is replaced. `_about` and other comment keys merge like any other."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class _Reader:
    """Turns catalogue data into objects, naming the source, the model and the key in every complaint."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> SettingsError:
        return SettingsError(_SETTING, f"{self.source}: {where}: {problem}")

    def catalogue(self, data: Any) -> Catalogue:
        if not isinstance(data, dict):
            raise self.fail("top level", "expected a table")
        families_data = self.table(data, "families", "top level")
        estimates = {name: self.estimate(name, value) for name, value in self.table(data, "estimates",
                                                                                      "top level").items()
                     if not name.startswith("_")}
        families = {name: self.family(name, families_data, estimates) for name in families_data
                    if not name.startswith("_")}
        models_data = self.table(data, "models", "top level")
        if not any(not k.startswith("_") for k in models_data):
            raise self.fail("models", "no model is listed")
        models: dict[str, Model] = {}
        snapshots = []
        for mid, entry in models_data.items():
            if mid.startswith("_"):
                continue
            if not isinstance(entry, dict):
                raise self.fail(mid, "expected a table")
            if "snapshot_of" in entry:
                snapshots.append((mid, entry))
                continue
            models[mid] = self.model(mid, entry, families, estimates)
        for mid, entry in snapshots:
            alias = entry["snapshot_of"]
            if alias not in models:
                raise self.fail(mid, f"snapshot_of {alias!r} is not a model in the catalogue")
            # A snapshot is its alias's entry with its own fields (often none) laid over it.
            own = {k: v for k, v in entry.items() if k != "snapshot_of"}
            models[mid] = self.model(mid, merge(models_data[alias], own), families, estimates, snapshot_of=alias)
        for mid, entry in models.items():
            for provider, status in entry.statuses.items():
                if status.replacement and status.replacement not in models:
                    raise self.fail(f"{mid}.status.{provider}",
                                    f"replacement {status.replacement!r} is not a model in the catalogue")
        defaults = self.table(data, "defaults", "top level")
        default_model = defaults.get("model")
        if default_model not in models:
            raise self.fail("defaults.model", f"{default_model!r} is not a model in the catalogue")
        providers = {name: self.provider(name, value)
                     for name, value in self.table(data, "providers", "top level").items() if not name.startswith("_")}
        gone = {}
        for mid, value in self.table(data, "gone", "top level").items():
            if mid.startswith("_"):
                continue
            if not isinstance(value, dict):
                raise self.fail(f"gone.{mid}", "expected a table")
            gone[mid] = Gone(shutdown=self.day(value.get("shutdown"), f"gone.{mid}.shutdown"),
                             replacement=value.get("replacement"))
        authors = {name: price_from_data(value, where=f"{self.source}: svg_authors.{name}", setting=_SETTING)
                   for name, value in self.table(data, "svg_authors", "top level").items() if not name.startswith("_")}
        return Catalogue(models, providers, self.inputs(data.get("inputs")), default_model,
                         str(defaults.get("why") or ""), gone, authors, self.latency(data.get("latency") or {}))

    def table(self, data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(where, f"{key!r} must be a table")
        return value

    def family(self, name: str, families: dict[str, Any], estimates: dict[str, Estimate],
               seen: tuple[str, ...] = ()) -> dict[str, Any]:
        """A family's fields with those of the family it extends beneath them."""
        if name in seen:
            raise self.fail(f"families.{name}", f"extends itself ({' → '.join((*seen, name))})")
        entry = families.get(name)
        if not isinstance(entry, dict):
            raise self.fail(f"families.{name}", "is not a family in the catalogue")
        parent = entry.get("extends")
        fields = dict(self.family(parent, families, estimates, (*seen, name))) if parent else {}
        fields.update({k: v for k, v in entry.items() if k != "extends"})
        return fields

    def model(self, mid: str, entry: dict[str, Any], families: dict[str, dict[str, Any]],
              estimates: dict[str, Estimate], snapshot_of: str | None = None) -> Model:
        family = entry.get("family")
        if family not in families:
            raise self.fail(mid, f"family {family!r} is not a family in the catalogue")
        fields = {**families[family], **{k: v for k, v in entry.items() if k not in _MODEL_ONLY}}
        statuses = entry.get("status") or {}
        if not isinstance(statuses, dict) or not statuses:
            raise self.fail(f"{mid}.status", "expected a status for at least one provider")
        prices = entry.get("prices")
        sources = tuple(str(s) for s in (*fields.get("sources", ()), *entry.get("sources", ())))
        return Model(
            id=mid, family=str(family), role=str(entry.get("role") or ""),
            capabilities=self.capabilities(mid, fields, estimates),
            statuses={p: self.status(f"{mid}.status.{p}", s) for p, s in statuses.items()},
            price=self.price(mid, prices) if prices is not None else None,
            snapshot_of=snapshot_of, sources=tuple(dict.fromkeys(sources)), note=str(fields.get("note") or ""),
        )

    def capabilities(self, mid: str, f: dict[str, Any], estimates: dict[str, Estimate]) -> Capabilities:
        def need(key: str, kind: type | tuple[type, ...]) -> Any:
            value = f.get(key)
            if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
                raise self.fail(f"{mid}.{key}", f"expected {getattr(kind, '__name__', kind)}, got {value!r}")
            return value

        def words(key: str) -> tuple[str, ...]:
            value = need(key, list)
            if not all(isinstance(v, str) for v in value):
                raise self.fail(f"{mid}.{key}", "expected a list of words")
            return tuple(value)

        estimate_name = need("estimate", str)
        if estimate_name not in estimates:
            raise self.fail(f"{mid}.estimate", f"{estimate_name!r} is not in 'estimates'")
        gif = f.get("gif")
        return Capabilities(
            sizes=self.sizes(mid, need("sizes", dict)),
            qualities=words("qualities"), complexity=need("complexity", bool), transparent=need("transparent", bool),
            formats=words("formats"), input_fidelity=words("input_fidelity"),
            inputs_high_fidelity=need("inputs_high_fidelity", bool), mask=need("mask", bool),
            markup=need("markup", bool), moderation=need("moderation", bool), streaming=need("streaming", bool),
            max_partial_images=need("max_partial_images", int), max_n=need("max_n", int),
            max_inputs=need("max_inputs", int), prompt_limit=need("prompt_limit", int),
            gif=self.gif(mid, gif) if gif is not None else None, svg=need("svg", bool),
            estimate=estimates[estimate_name], typical_seconds=self.positive(f"{mid}.typical_seconds",
                                                                             f.get("typical_seconds")),
        )

    def positive(self, where: str, value: Any) -> float | None:
        """A positive number (seconds, a factor), or None when absent."""
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(where, f"expected a positive number, got {value!r}")
        return float(value)

    def latency(self, value: Any) -> Latency:
        if not isinstance(value, dict):
            raise self.fail("latency", "expected a table")
        factors = {}
        for name in ("quality_factor", "format_factor"):
            table = value.get(name) or {}
            if not isinstance(table, dict):
                raise self.fail(f"latency.{name}", "expected a table of numbers")
            factors[name] = {key: self.positive(f"latency.{name}.{key}", number) or 1.0
                             for key, number in table.items()}
        return Latency(quality_factor=factors["quality_factor"], format_factor=factors["format_factor"],
                       unknown_seconds=self.positive("latency.unknown_seconds", value.get("unknown_seconds")) or 60.0)

    def sizes(self, mid: str, value: dict[str, Any]) -> SizeRule:
        rule = value.get("rule")
        sizes = value.get("sizes") or []
        if rule not in ("fixed", "free") or not isinstance(sizes, list):
            raise self.fail(f"{mid}.sizes", "expected rule 'fixed' or 'free' and a list of sizes")
        if rule == "fixed":
            return SizeRule(rule="fixed", sizes=tuple(sizes))
        try:
            return SizeRule(rule="free", sizes=tuple(sizes), multiple=int(value["multiple"]),
                            max_edge=int(value["max_edge"]), max_ratio=float(value["max_ratio"]),
                            min_pixels=int(value["min_pixels"]), max_pixels=int(value["max_pixels"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise self.fail(f"{mid}.sizes", f"a free size rule needs multiple, max_edge, max_ratio, min_pixels and "
                            f"max_pixels ({exc})") from exc

    def gif(self, mid: str, value: Any) -> GifRule:
        try:
            return GifRule(**{k: int(value[k]) for k in ("min_frames", "max_frames", "default_frames",
                                                          "default_frame_ms", "max_frame_ms")})
        except (KeyError, TypeError, ValueError) as exc:
            raise self.fail(f"{mid}.gif", f"needs min_frames, max_frames, default_frames, default_frame_ms and "
                            f"max_frame_ms ({exc})") from exc

    def estimate(self, name: str, value: Any) -> Estimate:
        if not isinstance(value, dict) or value.get("method") not in ("table", "formula"):
            raise self.fail(f"estimates.{name}", "expected a table with method 'table' or 'formula'")
        bounds = {}
        for quality, bound in (value.get("bounds") or {}).items():
            if not isinstance(bound, dict) or "of" not in bound or "factor" not in bound:
                raise self.fail(f"estimates.{name}.bounds.{quality}", "expected {of: quality, factor: number}")
            bounds[quality] = (str(bound["of"]), float(bound["factor"]))
        return Estimate(name=name, method=value["method"], table=value.get("table") or {},
                        quality_factor=value.get("quality_factor") or {}, bounds=bounds,
                        gif_factor=float(value.get("gif_factor") or 1), source=str(value.get("source") or ""))

    def inputs(self, value: Any) -> InputTokens:
        try:
            high = value["high_fidelity_tokens"]
            return InputTokens(base_tokens=int(value["base_tokens"]), tile_tokens=int(value["tile_tokens"]),
                               tile=int(value["tile"]), high_fidelity_square=int(high["square"]),
                               high_fidelity_other=int(high["other"]),
                               partial_image_tokens=int(value["partial_image_tokens"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise self.fail("inputs", f"needs base_tokens, tile_tokens, tile, high_fidelity_tokens and "
                            f"partial_image_tokens ({exc})") from exc

    def status(self, where: str, value: Any) -> Status:
        if not isinstance(value, dict) or value.get("state") not in STATES:
            raise self.fail(where, f"expected a state, one of {', '.join(STATES)}")
        shutdown = self.day(value["shutdown"], f"{where}.shutdown") if value.get("shutdown") else None
        if value["state"] in ("deprecated", "shut_down") and shutdown is None:
            raise self.fail(where, f"a {value['state']} model needs its shutdown date")
        since = self.day(value["since"], f"{where}.since") if value.get("since") else None
        return Status(state=value["state"], shutdown=shutdown, replacement=value.get("replacement"), since=since)

    def day(self, value: Any, where: str) -> date:
        if isinstance(value, date):  # TOML has dates of its own
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError as exc:
            raise self.fail(where, f"expected a date YYYY-MM-DD, got {value!r}") from exc

    def price(self, mid: str, value: Any) -> PriceInfo:
        if not isinstance(value, dict):
            raise self.fail(f"{mid}.prices", "expected a table")
        price_fields = {k: v for k, v in value.items() if k not in ("source", "date", "confirmed")}
        return PriceInfo(price=price_from_data(price_fields, where=f"{self.source}: {mid}.prices", setting=_SETTING),
                         source=str(value.get("source") or ""), date=str(value.get("date") or ""),
                         confirmed=bool(value.get("confirmed")))

    def provider(self, name: str, value: Any) -> Provider:
        if not isinstance(value, dict):
            raise self.fail(f"providers.{name}", "expected a table")
        formats = value.get("formats")
        return Provider(name=name, end_user_field=str(value.get("end_user_field") or "safety_identifier"),
                        lists_models=bool(value.get("lists_models")),
                        formats=tuple(formats) if formats is not None else None, note=str(value.get("note") or ""),
                        image_model_prefixes=tuple(value.get("image_model_prefixes") or ()))


# Keys of a model entry that are not capabilities.
_MODEL_ONLY = frozenset({"family", "role", "status", "prices", "sources", "snapshot_of"})
