"""bot/usecases/home.py: what the App Home shows one user, from a real SQLite ledger through the real database
thread."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.money.budgets import Budgets
from bot.providers.offline import OfflineImageAPI
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from bot.usecases.home import RECENT_IMAGES, home_summary
from bot.usecases.image_service import ImageService
from storage.records import LedgerEntry, ThreadKey
from storage.store import Store
from tests.catalogue_helpers import catalogue, default_model

pytestmark = pytest.mark.anyio
TEAM, ALICE = "T1", "U0ALICE"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[DbThread]:
    thread = DbThread(Store.open(tmp_path))
    yield thread
    await thread.close()


def service(db: DbThread, settings: Settings) -> ImageService:
    cat = catalogue()
    return ImageService(OfflineImageAPI(catalogue=cat), db, cat.price_table(), settings, Budgets(db, settings),
                        catalogue=cat)


async def spend(db: DbThread, micro: int, *, team: str = TEAM, user: str = ALICE, channel: str = "C1",
                prompt: str = "a lighthouse", status: str = "ok") -> None:
    entry = LedgerEntry(key=ThreadKey(team, channel, "1.0"), user_id=user, kind="generate", provider="openai",
                        model=default_model(), size="1024x1024", quality="low", n=1, prompt=prompt, cost_micro=micro,
                        status=status)
    await db(db.store.record_call, entry)


async def test_the_home_shows_the_users_own_spend_budgets_and_latest_images_in_their_workspace(
        db: DbThread) -> None:
    settings = replace(Settings.from_env({}), timezone="Europe/Berlin", provider="openai",
                       user_monthly_budget_micro=5_000_000, channel_monthly_budget_micro=1_000_000)
    for i in range(RECENT_IMAGES + 1):
        await spend(db, 100_000, prompt=f"image {i}")
    await spend(db, 50_000, status="error")  # billed, no image
    await spend(db, 7_000_000, user="U0BOB")  # someone else
    await spend(db, 9_000_000, team="T2")  # another workspace
    summary = await home_summary(service(db, settings), settings, TEAM, ALICE)
    assert (summary.user_id, summary.month_micro, summary.today_micro) == (ALICE, 650_000, 650_000)
    assert summary.timezone == "Europe/Berlin" and not summary.offline
    assert [line.budget.scope for line in summary.budgets] == ["user"]  # a channel's depends on where one asks
    assert summary.budgets[0].spent_micro == 650_000
    assert [r.prompt for r in summary.recent] == [f"image {i}" for i in range(RECENT_IMAGES, 0, -1)]


async def test_the_month_is_named_in_the_settings_time_zone_and_offline_says_nothing_is_billed(
        db: DbThread) -> None:
    settings = replace(Settings.from_env({}), timezone="Europe/Berlin", provider="offline")
    new_year = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # already January in Berlin
    summary = await home_summary(service(db, settings), settings, TEAM, ALICE, now=new_year)
    assert summary.month_label == "January 2027" and summary.offline
    assert (summary.month_micro, summary.budgets, summary.recent) == (0, (), ())
