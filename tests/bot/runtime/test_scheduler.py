"""Scheduled reports: slot arithmetic in a time zone, and once-per-slot posting across restarts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.runtime.db_thread import DbThread
from bot.runtime.scheduler import ReportScheduler, latest_slot, next_slot, report_window
from storage.store import Store

pytestmark = pytest.mark.anyio
BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.mark.parametrize(("schedule", "now", "latest", "following"), [
    ("daily 09:00", "2026-11-21 10:00", "2026-11-21 09:00", "2026-11-22 09:00"),
    ("daily 09:00", "2026-11-21 08:59", "2026-11-20 09:00", "2026-11-21 09:00"),
    ("daily 09:00", "2026-11-21 09:00", "2026-11-21 09:00", "2026-11-22 09:00"),
    ("weekly mon 09:00", "2026-11-21 10:00", "2026-11-16 09:00", "2026-11-23 09:00"),  # a Saturday
    ("weekly mon 09:00", "2026-11-23 08:00", "2026-11-16 09:00", "2026-11-23 09:00"),
    ("weekly sat 23:30", "2026-11-21 23:45", "2026-11-21 23:30", "2026-11-28 23:30"),
    ("daily 02:30", "2026-10-25 12:00", "2026-10-25 02:30", "2026-10-26 02:30"),  # the day DST ends
])
def test_slots(schedule: str, now: str, latest: str, following: str) -> None:
    assert latest_slot(schedule, at(now), BERLIN) == at(latest)
    assert next_slot(schedule, at(now), BERLIN) == at(following)


def test_a_daily_report_covers_the_day_before_and_a_weekly_one_the_week_before() -> None:
    assert report_window("daily 09:00", at("2026-11-21 09:00")) == (at("2026-11-20 00:00"), at("2026-11-21 00:00"))
    assert report_window("weekly mon 09:00", at("2026-11-23 09:00")) == (
        at("2026-11-16 00:00"), at("2026-11-23 00:00"))
    # Across the end of DST (25 Oct 2026 in Berlin) the day is 25 hours, still midnight to midnight.
    assert report_window("daily 09:00", at("2026-10-26 09:00")) == (at("2026-10-25 00:00"), at("2026-10-26 00:00"))


class Clock:
    def __init__(self, now: str) -> None:
        self.now = at(now)

    def __call__(self) -> datetime:
        return self.now


async def test_each_slot_is_posted_once_across_restarts_with_one_catch_up_after_downtime(tmp_path: Path) -> None:
    posts: list[tuple[datetime, datetime, datetime]] = []

    async def post(slot: datetime, start: datetime, end: datetime) -> None:
        posts.append((slot, start, end))

    clock = Clock("2026-11-21 09:05")
    db = DbThread(Store.open(tmp_path))
    scheduler = ReportScheduler(db, "daily 09:00", BERLIN, post, clock=clock)
    assert await scheduler.tick() == at("2026-11-21 09:00")
    assert await scheduler.tick() is None  # the same slot: not again
    await db.close()

    db = DbThread(Store.open(tmp_path))  # a restart on the same data
    scheduler = ReportScheduler(db, "daily 09:00", BERLIN, post, clock=clock)
    assert await scheduler.tick() is None
    clock.now = at("2026-11-25 11:00")  # down for four days: one catch-up report, for the latest slot
    assert await scheduler.tick() == at("2026-11-25 09:00")
    assert await scheduler.tick() is None
    await db.close()
    assert [slot for slot, _, _ in posts] == [at("2026-11-21 09:00"), at("2026-11-25 09:00")]
    assert posts[1][1:] == (at("2026-11-24 00:00"), at("2026-11-25 00:00"))


async def test_a_failed_post_is_tried_again_at_the_next_tick(tmp_path: Path) -> None:
    attempts = []

    async def flaky(slot: datetime, start: datetime, end: datetime) -> None:
        attempts.append(slot)
        if len(attempts) == 1:
            raise RuntimeError("Slack is down")

    db = DbThread(Store.open(tmp_path))
    scheduler = ReportScheduler(db, "daily 09:00", BERLIN, flaky, clock=Clock("2026-11-21 09:05"))
    assert await scheduler.tick() is None
    assert await scheduler.tick() == at("2026-11-21 09:00")
    assert await scheduler.tick() is None
    await db.close()
    assert len(attempts) == 2
