"""The Settings section: every variable parses, the model is one the catalogue knows is live, and it has a price."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot import errors
from bot.money.budgets import default_budgets
from bot.money.catalogue import Catalogue, load_catalogue
from bot.money.pricing import PriceTable
from bot.runtime.services import check_defaults
from bot.settings import VARIABLES, Settings
from imagebot.doctor.checklist import FAIL, INFO, OK, WARN, Check

_SETTING_PREFIXES = ("IMAGEBOT_", "SLACK_", "OPENAI_", "AZURE_OPENAI_")


def load_settings(environ: Mapping[str, str], dotenv: Path | None) -> tuple[Settings | None, list[Check]]:
    """Settings as `serve` reads them, or None and the failed check naming the variable."""
    try:
        settings = Settings.from_env(environ, dotenv=dotenv)
        catalogue, prices = load_catalogue(settings)
        # What `serve` refuses at start-up (a quality or size the model cannot make), doctor fails the same way.
        check_defaults(settings, catalogue, settings.provider, datetime.now(ZoneInfo(settings.timezone)).date(),
                       announce=False)
        # Doctor speaks of the model requests will name: IMAGEBOT_MODEL, or the catalogue's default.
        settings = dataclasses.replace(settings, model=settings.model or catalogue.default_model)
    except errors.SettingsError as error:
        where = {"environment": "the environment", None: None}.get(error.source, error.source)
        fix = (f"Set {error.variable} correctly (it is set in {where})." if where
               else f"Save {error.variable} as UTF-8 text." if dotenv is not None and error.variable == str(dotenv)
               else f"Set {error.variable} in the environment or in .env.")
        return None, [Check("Settings", FAIL, f"{error.variable}: {error.problem}",
                            f"{fix} Every variable is described in the README's Configuration section."),
                      Check("Everything else", INFO, "not checked until the settings are valid")]
    names = settings.sources
    origin = ", ".join(dict.fromkeys("the environment" if names[n] == "environment" else names[n] for n in names
                                     if n.startswith(_SETTING_PREFIXES)))
    checks = [Check("Settings", OK, f"every value is valid (read from {origin})" if origin
                    else "nothing is set: every value is a default")]
    checks += _unknown_variables(names)
    checks.append(model_check(settings, catalogue, datetime.now(ZoneInfo(settings.timezone)).date()))
    checks.append(_prices_check(settings, prices))
    return settings, checks


def requested_model(settings: Settings) -> str:
    """The model requests name. `load_settings` has filled it in (IMAGEBOT_MODEL, or the catalogue's default), so
    `settings.model` is set in every check; `str` gives it its type, and names a hand-built Settings' None as is."""
    return str(settings.model)


def model_check(settings: Settings, catalogue: Catalogue, today: date) -> Check:
    """What the catalogue says of the configured model on this provider today: live, shutting down, gone."""
    model, provider = requested_model(settings), settings.provider
    named = "IMAGEBOT_MODEL" if settings.sources.get("IMAGEBOT_MODEL") else "the default model"
    source = f"the catalogue ({settings.models_path} over the built-in one)" if settings.models_path \
        else "the built-in catalogue"
    entry = catalogue.get(model)
    if entry is None:
        return Check("Model", WARN, f"{model} ({named}) is not in {source}: imagebot cannot check its options or "
                     "estimate its cost", "Add it with IMAGEBOT_MODELS (see the README's Models section), or set "
                     f"IMAGEBOT_MODEL to one of {', '.join(catalogue.live(provider, today))}.")
    status = entry.status(provider)
    state = status.on(today)
    resolved = catalogue.resolve(model, provider, today)
    where = {"azure": " on Azure OpenAI", "offline": ""}.get(provider, " on OpenAI")
    if state == "shut_down":
        day = status.shutdown.isoformat() if status.shutdown else "already"
        fix = f"Set IMAGEBOT_MODEL={resolved.used}." if resolved.replaced else \
            f"Set IMAGEBOT_MODEL to one of {', '.join(catalogue.live(provider, today))}."
        return Check("Model", FAIL, f"{model} ({named}) was shut down{where} on {day}; requests use "
                     f"{resolved.used if resolved.replaced else 'nothing'} instead", fix)
    if state == "deprecated":
        return Check("Model", WARN, f"{model} ({named}) shuts down{where} on {status.shutdown}; its replacement is "
                     f"{status.replacement}", f"Move to IMAGEBOT_MODEL={status.replacement} before then.")
    if state in ("unconfirmed", "unknown"):
        return Check("Model", WARN, f"{model} ({named}) is not confirmed{where} in {source}",
                     "Check that your deployment serves it (the Foundry model catalog for your region); imagebot "
                     "sends requests as the catalogue describes it.")
    why = f" ({catalogue.default_why})" if named == "the default model" and catalogue.default_why else ""
    return Check("Model", OK, f"{model} ({named}) is live{where} per {source}{why}")


def _unknown_variables(names: Mapping[str, str]) -> list[Check]:
    """A variable that looks like a setting but is not one is ignored silently: most often a typo."""
    known = VARIABLES
    unknown = sorted(n for n in names if n.startswith(_SETTING_PREFIXES) and n not in known)
    if not unknown:
        return []
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return [Check("Unknown settings", WARN, f"imagebot does not read {', '.join(hints)}; "
                  f"{'it is' if len(unknown) == 1 else 'they are'} ignored",
                  "Correct the name, or remove the variable; the README's Configuration section lists every "
                  "setting.")]


def _prices_check(settings: Settings, prices: PriceTable) -> Check:
    source = f"from {settings.prices_path}" if settings.prices_path else "the built-in table"
    model = requested_model(settings)
    if prices.price_for(model) is not None:
        return Check("Prices", OK, f"{source} prices {model}")
    fix = (f"Add {model} to a price file named by IMAGEBOT_PRICES, or set IMAGEBOT_MODEL to a priced "
           f"model ({', '.join(prices.models)}).")
    if default_budgets(settings):
        return Check("Prices", FAIL, f"{source} has no price for {model} (IMAGEBOT_MODEL), and budgets are "
                     "set: every request for it would be refused, as its cost cannot be estimated", fix)
    return Check("Prices", WARN, f"{source} has no price for {model} (IMAGEBOT_MODEL): its images will "
                 "show their cost as unknown", fix)
