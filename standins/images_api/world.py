"""The stand-in's world: which models the provider serves, on which day (the package docstring's "The world")."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bot.money.catalogue import Catalogue
from bot.money.catalogue_records import Capabilities
from standins.images_api.errors import model_shut_down, model_unknown
from standins.images_api.facts import MODELS_CREATED


class World:
    """The catalogue's statuses on `today`, narrowed by what a test changes. A part of ImageAPIStandIn, which
    sets these attributes."""

    catalogue: Catalogue
    _today: date | None
    shut_down: set[str]
    shutdown_dates: dict[str, date | str | None]
    added_models: dict[str, str]
    other_models: list[str]

    @property
    def today(self) -> date:
        """The day statuses apply on: the constructor's `today`, or the real UTC date when none was given."""
        return self._today if self._today is not None else datetime.now(UTC).date()

    @today.setter
    def today(self, value: date | None) -> None:
        self._today = value

    def add_model(self, model: str, *, like: str, shutdown_date: date | str | None = None) -> None:
        """Serve `model` (unknown to the catalogue) with the capabilities of catalogue model `like`."""
        if self.catalogue.get(like) is None:
            raise ValueError(f"{like!r} is not a model in the catalogue")
        self.added_models[model] = like
        if shutdown_date is not None:
            self.shutdown_dates[model] = shutdown_date

    def shutdown_date(self, model: str, flavor: str = "openai") -> date | None:
        """The day `model` is (or was) shut down on `flavor`, as this world has it; None when none is announced."""
        if model in self.shutdown_dates:
            return as_day(self.shutdown_dates[model])
        if model in self.added_models:
            return None
        entry = self.catalogue.get(model)
        if entry is not None:
            return entry.status(flavor).shutdown
        gone = self.catalogue.gone(model)
        return gone.shutdown if gone is not None else None

    def is_shut_down(self, model: str, flavor: str = "openai") -> bool:
        """Whether the provider refuses `model` as shut down today (404 model_not_found)."""
        if model in self.shut_down:
            return True
        today = self.today
        if model in self.shutdown_dates:
            when = as_day(self.shutdown_dates[model])
            return when is not None and today >= when
        if model in self.added_models:
            return False
        entry = self.catalogue.get(model)
        if entry is not None:
            return entry.status(flavor).on(today) == "shut_down"
        gone = self.catalogue.gone(model)
        return gone is not None and today >= gone.shutdown

    def capabilities(self, model: str, flavor: str = "openai") -> Capabilities | None:
        """What `model` can do on `flavor` (the catalogue's, narrowed by the provider); None when the provider
        does not offer it at all (unknown to the catalogue, not offered there, or not released yet on `today`)."""
        if model in self.added_models:
            return self.catalogue.capabilities(self.added_models[model], flavor)
        entry = self.catalogue.get(model)
        if entry is None:
            return None
        status = entry.status(flavor)
        if status.state == "unknown" or (status.since is not None and self.today < status.since):
            return None
        return self.catalogue.capabilities(model, flavor)

    def _served(self, model: str, flavor: str) -> Capabilities:
        """The capabilities of a model the provider serves today, or the API's refusal."""
        if self.is_shut_down(model, flavor):
            raise model_shut_down(model)
        caps = self.capabilities(model, flavor)
        if caps is None:
            raise model_unknown(model)
        return caps

    def listed_models(self) -> list[dict[str, Any]]:
        """What GET /v1/models lists: every image model served today (the deprecated ones with their shutdown
        date), then the non-image models."""
        listed = []
        for model in (*self.catalogue.ids, *self.added_models):
            if self.capabilities(model) is not None and not self.is_shut_down(model):
                listed.append(self._model_object(model))
        listed.extend(self._model_object(model) for model in self.other_models if not self.is_shut_down(model))
        return listed

    def _model_object(self, model: str) -> dict[str, Any]:
        entry = self.catalogue.get(model)
        since = entry.status("openai").since if entry is not None else None
        created = int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp()) if since else \
            MODELS_CREATED
        shutdown = self.shutdown_date(model)
        return {"id": model, "object": "model", "created": created, "owned_by": "system",
                "shutdown_date": shutdown.isoformat() if shutdown else None}


def as_day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)
