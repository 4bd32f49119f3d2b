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
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.runtime.db_thread import DbThread

log = logging.getLogger(__name__)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_SLEEP = 300.0  # seconds: wake up at least this often, so a changed clock or a missed wake-up costs little


def parse_schedule(schedule: str) -> tuple[str | None, int, int]:
    """("mon" or None for daily, hour, minute) from "daily 09:00" / "weekly mon 09:00" (validated by settings)."""
    words = schedule.split()
    hour, minute = (int(v) for v in words[-1].split(":"))
    return (words[1] if words[0] == "weekly" else None), hour, minute


def _at(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """A wall-clock time on a local day (date arithmetic, so DST changes never shift it)."""
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def latest_slot(schedule: str, now: datetime, tz: ZoneInfo) -> datetime:
    """The most recent slot at or before `now`, as an aware local datetime."""
    weekday, hour, minute = parse_schedule(schedule)
    local = now.astimezone(tz)
    day = local.date()
    if weekday is not None:
        day -= timedelta(days=(day.weekday() - WEEKDAYS.index(weekday)) % 7)
    slot = _at(day, hour, minute, tz)
    if slot > local:
        slot = _at(day - timedelta(days=7 if weekday else 1), hour, minute, tz)
    return slot


def next_slot(schedule: str, now: datetime, tz: ZoneInfo) -> datetime:
    weekday, hour, minute = parse_schedule(schedule)
    latest = latest_slot(schedule, now, tz)
    return _at(latest.date() + timedelta(days=7 if weekday else 1), hour, minute, tz)


def report_window(schedule: str, slot: datetime) -> tuple[datetime, datetime]:
    """What a slot's report covers: the local day (daily) or seven days (weekly) before the slot's day."""
    weekday, _, _ = parse_schedule(schedule)
    tz = slot.tzinfo
    assert isinstance(tz, ZoneInfo)
    end = _at(slot.date(), 0, 0, tz)
    return _at(slot.date() - timedelta(days=7 if weekday else 1), 0, 0, tz), end


PostReport = Callable[[datetime, datetime, datetime], Awaitable[None]]  # (slot, window start, window end)


class ReportScheduler:
    def __init__(self, db: DbThread, schedule: str, tz: ZoneInfo, post: PostReport,
                 clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self.schedule = schedule
        self.tz = tz
        self._post = post
        self._clock = clock or (lambda: datetime.now(tz))
        self.ticked = asyncio.Event()  # set after the first tick (the catch-up) is done: for tests and probes

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
            self.ticked.set()
            wait = (next_slot(self.schedule, self._clock(), self.tz) - self._clock()).total_seconds()
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(MAX_SLEEP, max(1.0, wait)))
            except TimeoutError:
                continue
