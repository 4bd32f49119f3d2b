"""Scheduled usage reports: IMAGEBOT_REPORT_SCHEDULE ("daily 09:00" or "weekly mon 09:00") in IMAGEBOT_TIMEZONE,
posted to IMAGEBOT_REPORT_CHANNEL.

Each slot is claimed in the `report_runs` table before it is posted, so a restart never posts a slot twice;
a post that fails gives its claim back, to be tried at the next tick. After downtime only the latest missed
slot is posted (one catch-up report, not one per missed day). A daily report covers the local day before its
slot; a weekly one the seven days before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.jobs import DbThread

log = logging.getLogger(__name__)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SLEEP = 300.0  # seconds: wake up at least this often, so a changed clock or a missed wake-up costs little


def parse_schedule(schedule: str) -> tuple[str | None, int, int]:
    """("mon" or None for daily, hour, minute) from "daily 09:00" / "weekly mon 09:00" (validated by settings)."""
    words = schedule.split()
    hour, minute = (int(v) for v in words[-1].split(":"))
    return (words[1] if words[0] == "weekly" else None), hour, minute


def latest_slot(schedule: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The most recent slot at or before `now`, as an aware local datetime."""
    weekday, hour, minute = parse_schedule(schedule)
    local = now.astimezone(tz)
    slot = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if weekday is None:
        return slot if slot <= local else (slot - timedelta(days=1)).replace(hour=hour, minute=minute)
    back = (local.weekday() - WEEKDAYS.index(weekday)) % 7
    slot = (slot - timedelta(days=back)).replace(hour=hour, minute=minute)
    return slot if slot <= local else (slot - timedelta(days=7)).replace(hour=hour, minute=minute)


def next_slot(schedule: str, now: datetime, tz: ZoneInfo) -> datetime:
    weekday, hour, minute = parse_schedule(schedule)
    step = timedelta(days=7 if weekday else 1)
    latest = latest_slot(schedule, now, tz)
    return (latest + step + timedelta(hours=3)).replace(hour=hour, minute=minute)  # +3h: safe across DST


def report_window(schedule: str, slot: datetime) -> tuple[datetime, datetime]:
    """What a slot's report covers: the local day (daily) or seven days (weekly) before the slot's day."""
    weekday, _, _ = parse_schedule(schedule)
    end = slot.replace(hour=0, minute=0, second=0, microsecond=0)
    start = (end - timedelta(days=7 if weekday else 1, hours=-3)).replace(hour=0)  # -(days)+3h, then midnight
    return start, end


PostReport = Callable[[datetime, datetime, datetime], Awaitable[None]]  # (slot, window start, window end)


class ReportScheduler:
    def __init__(self, db: DbThread, schedule: str, tz: ZoneInfo, post: PostReport,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self.schedule = schedule
        self.tz = tz
        self._post = post
        self._clock = clock or (lambda: datetime.now(tz))

    async def tick(self) -> datetime | None:
        """Post the latest due slot if nobody has; return the slot posted, if any."""
        slot = latest_slot(self.schedule, self._clock(), self.tz)
        key = slot.isoformat()
        if not await self._db(self._db.store.claim_report_slot, self.schedule, key):
            return None
        start, end = report_window(self.schedule, slot)
        try:
            await self._post(slot, start, end)
        except Exception:
            await self._db(self._db.store.release_report_slot, self.schedule, key)
            log.exception("scheduled report for %s failed; will try again", key)
            return None
        log.info("posted the scheduled report for %s", key)
        return slot

    async def run(self, stop: asyncio.Event) -> None:
        """Tick now (the catch-up), then at every slot, until `stop` is set. Every sleep is bounded."""
        while not stop.is_set():
            await self.tick()
            wait = (next_slot(self.schedule, self._clock(), self.tz) - self._clock()).total_seconds()
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(MAX_SLEEP, max(1.0, wait)))
            except TimeoutError:
                continue
