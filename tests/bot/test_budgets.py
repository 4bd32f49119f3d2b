"""Budgets against a real SQLite ledger: where a user stands, and what a reservation holds back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.budgets import Budget, Budgets, default_budgets
from bot.errors import BudgetExceeded
from bot.jobs import DbThread
from bot.settings import Settings
from storage.store import LedgerEntry, Store, ThreadKey

pytestmark = pytest.mark.anyio
TEAM, OTHER_TEAM = "T1", "T2"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[DbThread]:
    thread = DbThread(Store.open(tmp_path))
    yield thread
    await thread.close()


def settings(**budgets: int | None) -> Settings:
    return replace(Settings.from_env({}), **budgets)


async def spend(db: DbThread, micro: int, *, team: str = TEAM, user: str = "U1", channel: str = "C1",
                status: str = "ok") -> None:
    entry = LedgerEntry(key=ThreadKey(team, channel, "1.0"), user_id=user, kind="generate", provider="openai",
                        model="gpt-image-1", size="1024x1024", quality="low", n=1, prompt="p", cost_micro=micro,
                        status=status)
    await db(db.store.record_call, entry)


def test_default_budgets_lists_only_those_set() -> None:
    assert default_budgets(settings()) == []
    assert default_budgets(settings(user_daily_budget_micro=1_000_000, workspace_monthly_budget_micro=0)) == [
        ("user", "daily", 1_000_000), ("workspace", "monthly", 0)]


async def test_standing_adds_up_the_users_own_spend_and_each_budget_that_applies(db: DbThread) -> None:
    budgets = Budgets(db, settings(user_daily_budget_micro=500_000, channel_monthly_budget_micro=2_000_000,
                                   workspace_monthly_budget_micro=10_000_000))
    await spend(db, 300_000)
    await spend(db, 400_000)  # past the daily budget: what is left stops at zero
    await spend(db, 1_000_000, user="U2")  # someone else, same channel
    await spend(db, 9_000_000, team=OTHER_TEAM)  # another workspace never counts
    standing = await budgets.standing(TEAM, "U1", "C1")
    assert (standing.today_micro, standing.month_micro) == (700_000, 700_000)
    by_scope = {line.budget.scope: (line.spent_micro, line.left_micro) for line in standing.budgets}
    assert by_scope == {"user": (700_000, 0), "channel": (1_700_000, 300_000), "workspace": (1_700_000, 8_300_000)}
    now = datetime.now(UTC)
    for line in standing.budgets:  # each resets at the next local midnight (daily) or the 1st (monthly)
        assert line.resets_at > now and (line.resets_at.hour, line.resets_at.minute) == (0, 0)
        assert line.budget.period == "daily" or line.resets_at.day == 1


async def test_standing_without_a_channel_leaves_channel_budgets_out(db: DbThread) -> None:
    budgets = Budgets(db, settings(channel_monthly_budget_micro=2_000_000, user_monthly_budget_micro=1_000_000))
    assert [line.budget.scope for line in (await budgets.standing(TEAM, "U1", "")).budgets] == ["user"]
    # An admin removes the user budget from Slack ("none"): it no longer applies.
    await db(db.store.set_budget, TEAM, "user", "U1", "monthly", None, "UADMIN")
    assert (await budgets.standing(TEAM, "U1", "")).budgets == ()


async def test_a_reservation_counts_until_released(db: DbThread) -> None:
    budgets = Budgets(db, settings(user_daily_budget_micro=100_000))
    [applied] = await budgets.reserve("first", TEAM, "U1", "C1", 60_000, model="gpt-image-1")
    assert applied == Budget("user", "U1", "daily", 100_000, "env")
    with pytest.raises(BudgetExceeded) as refused:
        await budgets.reserve("second", TEAM, "U1", "C1", 60_000, model="gpt-image-1")
    assert (refused.value.spent_micro, refused.value.estimate_micro) == (60_000, 60_000)
    await budgets.reserve("other user", TEAM, "U2", "C1", 60_000, model="gpt-image-1")  # their own budget
    budgets.release("first")
    await budgets.reserve("second", TEAM, "U1", "C1", 60_000, model="gpt-image-1")
