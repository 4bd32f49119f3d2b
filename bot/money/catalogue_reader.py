"""Reading the catalogue's data (`bot/money/catalogue.json`, with `IMAGEBOT_MODELS` merged over it) into its typed
records, checking it as it goes: every complaint names the source, the model and the key, as a SettingsError for
IMAGEBOT_MODELS. Families extend one another, snapshots lay their own fields over their alias's, and every name
a model points at (family, estimate, replacement, the default) must be in the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.errors import SettingsError
from bot.money.catalogue_records import (
    BatchTerms,
    Capabilities,
    Estimate,
    GifRule,
    InputTokens,
    Latency,
    Model,
    PriceInfo,
    Provider,
    SizeRule,
)
from bot.money.pricing import ModelPrice, price_from_data
from bot.money.retirement import STATES, Gone, Status

MODELS_SETTING = "IMAGEBOT_MODELS"


@dataclass(frozen=True)
class CatalogueContents:
    """Everything the catalogue's data says, checked: what `Catalogue` is built from."""

    models: dict[str, Model]
    providers: dict[str, Provider]
    inputs: InputTokens
    default_model: str
    default_why: str
    gone: dict[str, Gone]
    svg_authors: dict[str, ModelPrice]
    latency: Latency
    batch: BatchTerms = field(default_factory=BatchTerms)


def read_catalogue(data: Any, *, source: str) -> CatalogueContents:
    """The catalogue's data as typed records; raises SettingsError (IMAGEBOT_MODELS) naming `source` and the key."""
    return _Reader(source).catalogue(data)


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
        return SettingsError(MODELS_SETTING, f"{self.source}: {where}: {problem}")

    def catalogue(self, data: Any) -> CatalogueContents:
        if not isinstance(data, dict):
            raise self.fail("top level", "expected a table")
        families_data = self.table(data, "families", "top level")
        estimates = {name: self.estimate(name, value) for name, value in self.table(data, "estimates",
                                                                                      "top level").items()
                     if not name.startswith("_")}
        families = {name: self.family(name, families_data, estimates) for name in families_data
                    if not name.startswith("_")}
        models = self.models(self.table(data, "models", "top level"), families, estimates)
        defaults = self.table(data, "defaults", "top level")
        default_model = defaults.get("model")
        if default_model not in models:
            raise self.fail("defaults.model", f"{default_model!r} is not a model in the catalogue")
        providers = {name: self.provider(name, value)
                     for name, value in self.table(data, "providers", "top level").items() if not name.startswith("_")}
        gone = self.gone(data)
        authors = {name: price_from_data(value, where=f"{self.source}: svg_authors.{name}",
                                         setting=MODELS_SETTING)
                   for name, value in self.table(data, "svg_authors", "top level").items() if not name.startswith("_")}
        return CatalogueContents(models, providers, self.inputs(data.get("inputs")), default_model,
                                 str(defaults.get("why") or ""), gone, authors, self.latency(data.get("latency") or {}),
                                 self.batch(data.get("batch") or {}))

    def models(self, models_data: dict[str, Any], families: dict[str, dict[str, Any]],
               estimates: dict[str, Estimate]) -> dict[str, Model]:
        """Every model, snapshots after their aliases, each replacement checked to be a model too."""
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
        for mid, model in models.items():
            for provider, status in model.statuses.items():
                if status.replacement and status.replacement not in models:
                    raise self.fail(f"{mid}.status.{provider}",
                                    f"replacement {status.replacement!r} is not a model in the catalogue")
        return models

    def gone(self, data: dict[str, Any]) -> dict[str, Gone]:
        gone = {}
        for mid, value in self.table(data, "gone", "top level").items():
            if mid.startswith("_"):
                continue
            if not isinstance(value, dict):
                raise self.fail(f"gone.{mid}", "expected a table")
            gone[mid] = Gone(shutdown=self.day(value.get("shutdown"), f"gone.{mid}.shutdown"),
                             replacement=value.get("replacement"))
        return gone

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
            batch=self.flag(mid, f, "batch"), batch_confirmed=self.flag(mid, f, "batch_confirmed"),
        )

    def flag(self, mid: str, f: dict[str, Any], key: str) -> bool:
        """An optional true/false capability (absent: false)."""
        value = f.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(f"{mid}.{key}", f"expected true or false, got {value!r}")
        return value

    def batch(self, value: Any) -> BatchTerms:
        """The Batch API's terms (absent: none)."""
        if not isinstance(value, dict):
            raise self.fail("batch", "expected a table")
        providers, percent = value.get("providers") or [], value.get("discount_percent", 0)
        if not isinstance(providers, list) or not all(isinstance(p, str) for p in providers):
            raise self.fail("batch.providers", "expected a list of provider names")
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise self.fail("batch.discount_percent", f"expected a whole number from 0 to 100, got {percent!r}")
        return BatchTerms(providers=tuple(providers), endpoint=str(value.get("endpoint") or BatchTerms.endpoint),
                          completion_window=str(value.get("completion_window") or BatchTerms.completion_window),
                          discount_percent=percent, source=str(value.get("source") or ""))

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
        return PriceInfo(price=price_from_data(price_fields, where=f"{self.source}: {mid}.prices",
                                               setting=MODELS_SETTING),
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
