"""ImageService's choices and default options are worked out once a day (bot/usecases/of_today.py), and again as
soon as the day, the settings or the catalogue is another: never a stale model after a shutdown date."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.money.budgets import Budgets
from bot.money.catalogue import Catalogue, load_catalogue
from bot.providers.offline import OfflineImageAPI
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from bot.usecases.image_service import ImageService
from storage.store import Store

pytestmark = pytest.mark.anyio


def _retiring(catalogue: Catalogue) -> tuple[str, date, str]:
    """A model the catalogue has shutting down on OpenAI on a date, with a usable replacement: from the data."""
    for model in catalogue.ids:
        status = catalogue.status(model, "openai")
        if (status.state == "deprecated" and status.shutdown and status.replacement
                and catalogue.status(status.replacement, "openai").usable(status.shutdown)):
            return model, status.shutdown, status.replacement
    raise AssertionError("the catalogue has no model shutting down with a replacement")


class Day:
    def __init__(self, today: date) -> None:
        self.today = today

    def __call__(self) -> date:
        return self.today


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[ImageService, Day, str, date, str]]:
    base = replace(Settings.from_env({}), provider="offline", data_dir=tmp_path)
    catalogue, prices = load_catalogue(base)
    model, shutdown, replacement = _retiring(catalogue)
    settings = replace(base, model=model)
    day = Day(shutdown - timedelta(days=1))
    db = DbThread(Store.open(tmp_path))
    yield (ImageService(OfflineImageAPI(catalogue=catalogue), db, prices, settings, Budgets(db, settings),
                        catalogue=catalogue, today=day), day, model, shutdown, replacement)
    await db.close()


async def test_the_day_a_model_shuts_down_requests_get_its_replacement(
        service: tuple[ImageService, Day, str, date, str]) -> None:
    images, day, model, shutdown, replacement = service
    assert images.default_options.model == model
    assert model in images.choices().models
    day.today = shutdown
    assert images.default_options.model == replacement
    assert images.choices().today == shutdown and model not in images.choices().models


async def test_the_same_day_gives_the_same_answer_without_working_it_out_again(
        service: tuple[ImageService, Day, str, date, str]) -> None:
    images, *_ = service
    first, choices = images.default_options, images.choices()
    assert images.default_options is first and images.choices() is choices


async def test_other_settings_or_another_catalogue_are_seen_at_once(
        service: tuple[ImageService, Day, str, date, str]) -> None:
    images, _, model, _, _ = service
    assert images.default_options.quality != "low"
    images.settings = replace(images.settings, quality="low")
    assert images.default_options.quality == "low"
    narrowed = Catalogue.from_data(Catalogue.builtin_data(), source="a test")
    images.catalogue = narrowed
    assert images.choices().catalogue is narrowed and images.default_options.model == model
