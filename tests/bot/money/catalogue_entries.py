"""Catalogue entries for tests of the catalogue's reading rules: a whole model entry, in the catalogue's shape, for
a model the shipped catalogue does not have (of a family it does have)."""

from __future__ import annotations

from typing import Any

from tests.catalogue_helpers import catalogue, default_model


def a_family() -> str:
    family = catalogue().get(default_model()).family  # type: ignore[union-attr]
    assert family
    return family


def new_model(**overrides: Any) -> dict[str, Any]:
    """A whole model entry for a model the catalogue does not have, in the catalogue's shape."""
    entry: dict[str, Any] = {
        "family": a_family(),
        "role": "the house model",
        "status": {"openai": {"state": "live", "since": "2026-12-01"}},
        "prices": {"text_in": "1.00", "image_out": "2.00", "source": "our contract", "date": "2026-12-01",
                   "confirmed": True},
    }
    entry.update(overrides)
    return entry

