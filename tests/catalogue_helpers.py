"""Models for tests, picked from the shipped catalogue by what they can do, never written out as constants.

Tests ask for "a live model with markup" or "a model shut down on OpenAI" so that a new catalogue (a model added,
one retired) changes which model a test uses, not whether it passes. Tests of the catalogue's own reading rules
build small catalogues of their own with `catalogue_from`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

from bot.money.catalogue import Catalogue
from bot.money.catalogue_reader import merge
from bot.money.catalogue_records import Capabilities
from bot.rules.options import Choices

TODAY = date(2026, 12, 6)  # the day these tests reason about; pass it where "today" matters


@functools.cache
def catalogue() -> Catalogue:
    return Catalogue.load()


def choices(provider: str = "openai", today: date = TODAY, only: tuple[str, ...] | None = None) -> Choices:
    return Choices(catalogue(), provider, today, only=only)


def default_model() -> str:
    return catalogue().default_model


def caps(model: str, provider: str = "openai") -> Capabilities:
    found = catalogue().capabilities(model, provider)
    assert found is not None, f"{model} is not in the catalogue"
    return found


def live(provider: str = "openai", today: date = TODAY, where: Callable[[Capabilities], bool] = lambda c: True,
         aliases_only: bool = True) -> list[str]:
    """Live models on `provider` whose capabilities satisfy `where` (aliases first, snapshots left out)."""
    found = []
    for model in catalogue().live(provider, today):
        entry = catalogue().get(model)
        assert entry is not None
        if aliases_only and entry.snapshot_of:
            continue
        if where(entry.capabilities):
            found.append(model)
    return found


def live_with(where: Callable[[Capabilities], bool], provider: str = "openai") -> str:
    """The first live model with a capability; fails the test if the catalogue has none."""
    found = live(provider, where=where)
    assert found, "no live model in the catalogue has that capability"
    return found[0]


def live_without(where: Callable[[Capabilities], bool], provider: str = "openai") -> str:
    found = live(provider, where=lambda c: not where(c))
    assert found, "every live model in the catalogue has that capability"
    return found[0]


def shut_down(provider: str = "openai", today: date = TODAY) -> list[str]:
    """Models the catalogue says are shut down on `provider` today (aliases only)."""
    cat = catalogue()
    return [m for m in cat.ids
            if not cat.get(m).snapshot_of and cat.status(m, provider).on(today) == "shut_down"]  # type: ignore[union-attr]


def priced(model: str) -> Any:
    price = catalogue().price_table().price_for(model)
    assert price is not None, f"{model} has no price in the catalogue"
    return price


def catalogue_from(extra: dict[str, Any]) -> Catalogue:
    """The shipped catalogue's data with `extra` merged over it (as IMAGEBOT_MODELS would be)."""
    return Catalogue.from_data(merge(Catalogue.builtin_data(), extra), source="a test catalogue")
