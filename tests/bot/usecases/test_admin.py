"""bot/usecases/admin.py: budget, policy and report-channel changes and reports, each audited, on a real SQLite
through the real database thread."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.errors import InvalidOption
from bot.money.budgets import Budget, Budgets
from bot.providers.offline import OfflineImageAPI
from bot.runtime.db_thread import DbThread
from bot.settings import Settings
from bot.usecases.admin import Admin, PolicyLimits, window_label
from bot.usecases.image_service import ImageService
from storage.records import LedgerEntry, ThreadKey
from storage.store import Store
from tests.catalogue_helpers import catalogue, default_model

pytestmark = pytest.mark.anyio
TEAM, ADMIN = "T1", "UADMIN"
UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 21, 19, 44, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[DbThread]:
    thread = DbThread(Store.open(tmp_path))
    yield thread
    await thread.close()


def make_admin(db: DbThread, **settings: Any) -> Admin:
    chosen = replace(Settings.from_env({}), **settings)
    cat = catalogue()
    images = ImageService(OfflineImageAPI(catalogue=cat), db, cat.price_table(), chosen, Budgets(db, chosen),
                          catalogue=cat)
    return Admin(images, UTC_ZONE)


def audit_rows(db: DbThread) -> list[tuple[str, str, dict[str, Any]]]:
    return [(r["user_id"], r["action"], json.loads(r["details"])) for r in db.store.db["audit"].rows]


async def test_a_budget_set_is_in_force_and_audited_and_none_removes_it(db: DbThread) -> None:
    admin = make_admin(db, workspace_monthly_budget_micro=100_000_000)
    await admin.set_budget(TEAM, ADMIN, "user", "U1", "daily", 2_500_000)
    assert await admin.budgets(TEAM) == [Budget("workspace", "", "monthly", 100_000_000, "env"),
                                         Budget("user", "U1", "daily", 2_500_000, "slack")]
    assert await admin.budgets("T2") == [Budget("workspace", "", "monthly", 100_000_000, "env")]  # one workspace's
    await admin.set_budget(TEAM, ADMIN, "user", "U1", "daily", None)
    await admin.set_budget(TEAM, ADMIN, "workspace", "", "monthly", None)  # the default, removed from Slack
    assert await admin.budgets(TEAM) == []
    assert audit_rows(db) == [
        (ADMIN, "budget", {"scope": "user", "target": "U1", "period": "daily", "limit_micro": 2_500_000}),
        (ADMIN, "budget", {"scope": "user", "target": "U1", "period": "daily", "limit_micro": None}),
        (ADMIN, "budget", {"scope": "workspace", "target": "", "period": "monthly", "limit_micro": None})]


async def test_a_policy_set_is_the_one_in_force_and_audited(db: DbThread) -> None:
    admin = make_admin(db)
    model = default_model()
    policy = await admin.set_policy(TEAM, ADMIN, "C1", PolicyLimits(max_quality="medium", max_n=2,
                                                                    allowed_models=[model]))
    assert policy is not None
    assert (policy.max_quality, policy.max_n, policy.allowed_models) == ("medium", 2, (model,))
    assert await admin.images.policy(TEAM, "C1") == policy and await admin.images.policy(TEAM, "C2") is None
    cleared = await admin.set_policy(TEAM, ADMIN, "C1", PolicyLimits())
    assert cleared is None or cleared.empty
    assert audit_rows(db) == [
        (ADMIN, "policy", {"channel": "C1", "max_quality": "medium", "max_n": 2, "allowed_models": [model]}),
        (ADMIN, "policy", {"channel": "C1", "max_quality": None, "max_n": None, "allowed_models": None})]


async def test_the_report_channel_chosen_is_stored_and_audited(db: DbThread) -> None:
    admin = make_admin(db)
    await admin.set_report_channel(TEAM, ADMIN, "C0ALERTS")
    assert db.store.team_report_channel(TEAM) == "C0ALERTS" and db.store.team_report_channel("T2") is None
    await admin.set_report_channel(TEAM, ADMIN, None)
    assert db.store.team_report_channel(TEAM) is None
    assert audit_rows(db) == [(ADMIN, "report-channel", {"channel": "C0ALERTS"}),
                              (ADMIN, "report-channel", {"channel": None})]


async def spend(db: DbThread, micro: int, *, user: str = "U1", channel: str = "C1") -> None:
    entry = LedgerEntry(key=ThreadKey(TEAM, channel, "1.0"), user_id=user, kind="generate", provider="openai",
                        model=default_model(), size="1024x1024", quality="low", n=1, prompt="p", cost_micro=micro,
                        status="ok")
    await db(db.store.record_call, entry)


async def test_a_report_adds_up_the_ledger_comes_with_chart_and_csv_and_is_audited(db: DbThread) -> None:
    admin = make_admin(db)
    await spend(db, 300_000)
    await spend(db, 200_000, user="U2", channel="C2")
    later = datetime.now(UTC) + timedelta(minutes=1)  # the window ends at `now`; the rows are well inside it
    built = await admin.report(TEAM, ADMIN, "30d", now=later)
    assert built.report.totals.spend_micro == 500_000 and built.report.team_id == TEAM
    one = await admin.report(TEAM, ADMIN, "30d", channel_id="C2", now=later)
    assert one.report.totals.spend_micro == 200_000 and one.report.channel_id == "C2"
    with Image.open(io.BytesIO(built.chart)) as chart:
        assert chart.format == "PNG"
    assert len(built.csv.decode("utf-8").strip().splitlines()) == 3  # a header and two calls
    assert audit_rows(db) == [(ADMIN, "report", {"spec": "30d", "channel": None, "user": None}),
                              (ADMIN, "report", {"spec": "30d", "channel": "C2", "user": None})]


async def test_a_report_for_a_window_it_cannot_read_is_refused_and_not_audited(db: DbThread) -> None:
    with pytest.raises(InvalidOption):
        await make_admin(db).report(TEAM, ADMIN, "fortnight", now=NOW)
    assert audit_rows(db) == []


async def test_a_scheduled_report_covers_its_window_and_writes_no_audit(db: DbThread) -> None:
    await spend(db, 300_000)
    start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    built = await make_admin(db).scheduled_report(TEAM, start, start + timedelta(days=3))
    assert built.report.totals.spend_micro == 300_000 and built.report.label == window_label(built.report.start,
                                                                                          built.report.end)
    assert audit_rows(db) == []


def test_a_scheduled_window_is_named_by_its_day_or_its_first_and_last_day() -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    assert window_label(day, day.replace(day=21)) == "Fri 20 Nov 2026"
    assert window_label(day.replace(day=16), day.replace(day=23)) == "16 Nov to 22 Nov 2026"
