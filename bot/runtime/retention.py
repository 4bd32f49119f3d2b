"""Housekeeping of the image folder, on start-up and every few hours.

IMAGEBOT_RETENTION_DAYS: image files older than that are deleted.

Age counts from when imagebot first kept the image, also for an image that is still a thread's current
context: retention is a promise about how long images are kept, so it does not bend to use. The rows stay
(the ledger keeps every call; a thread's versions stay listed), marked `pruned_at`, and a reply that needs a
removed image is told so and asked for a new one (bot/usecases/image_service.py `ImagePruned`).
Images posted in Slack are
Slack's, under the workspace's own retention settings; this covers imagebot's copies.

Pruning runs in small batches on the db thread (storage/lifecycle.py `prune_images`), so a request that
arrives meanwhile waits for one batch at most, never for the whole sweep.

Stray files (with or without retention): a crash between writing an image file and recording its row leaves a
file nothing points at, and a crash mid-write a temporary one. Files no row records and untouched for a day
(`STRAY_AGE`: no job takes that long between the two steps) are deleted. The folder is walked on a worker
thread; the lookups go to the db thread a few hundred at a time.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.runtime.db_thread import DbThread
from storage.lifecycle import prune_images, remove_strays, retention_cutoff, stray_candidates, unrecorded

log = logging.getLogger(__name__)
PRUNE_INTERVAL = 6 * 3600.0  # seconds between sweeps: a file outlives its limit by at most this
BATCH = 100  # images per db-thread call: a few milliseconds of unlinks and one small transaction
STRAY_AGE = timedelta(days=1)
STRAY_BATCH = 500  # file names looked up per db-thread call (one indexed query)


class RetentionPruner:
    def __init__(self, db: DbThread, days: int | None, *, clock: Callable[[], datetime] | None = None,
                 interval: float = PRUNE_INTERVAL, batch: int = BATCH) -> None:
        self._db = db
        self.days = days
        self._clock = clock or (lambda: datetime.now(UTC))
        self.interval = interval
        self.batch = batch
        self.swept = asyncio.Event()  # set after each sweep: for tests and probes

    async def prune(self, stop: asyncio.Event | None = None) -> int:
        """One sweep: every image older than the limit, batch by batch; stops early when `stop` is set."""
        if self.days is None:
            return 0
        cutoff = retention_cutoff(self._clock(), self.days)
        total = 0
        while stop is None or not stop.is_set():
            pruned = await self._db(prune_images, self._db.store, cutoff, limit=self.batch)
            total += len(pruned)
            if len(pruned) < self.batch:
                break
        if total:
            log.info("retention: removed %d image file(s) older than %d day(s)", total, self.days)
        return total

    async def sweep_strays(self, stop: asyncio.Event | None = None) -> int:
        """Delete image files no row records that are older than STRAY_AGE; returns how many went."""
        root = self._db.store.files.root
        before = (self._clock() - STRAY_AGE).timestamp()
        candidates = await asyncio.to_thread(stray_candidates, root, before)
        strays: list[str] = []
        for start in range(0, len(candidates), STRAY_BATCH):
            if stop is not None and stop.is_set():
                return 0
            strays += await self._db(unrecorded, self._db.store, candidates[start:start + STRAY_BATCH])
        removed = await asyncio.to_thread(remove_strays, root, strays, before) if strays else 0
        if removed:
            log.warning("removed %d image file(s) no record points at (left by a crash, or put there by hand)",
                        removed)
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep now, then every `interval` seconds, until `stop` is set. Every sleep is bounded."""
        while not stop.is_set():
            try:
                await self.prune(stop)
                await self.sweep_strays(stop)
            except (OSError, sqlite3.Error):  # a full or read-only disk, a locked database: try at the next sweep
                log.exception("retention: pruning failed; will try again in %.0f s", self.interval)
            self.swept.set()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                continue
