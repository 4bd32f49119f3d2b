"""Looks at each submitted batch when it is due (bot/usecases/batches.py schedules the looks: first after
IMAGEBOT_BATCH_POLL_SECONDS, then twice as long each time, at most 30 minutes), and tells the Slack edge how it
stands and, once it has ended, what it made. It starts with imagebot and picks up every batch a restart left at
the provider; `wake()` (after a submit or a cancel) makes it look again at once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from bot.errors import ImagebotError
from bot.providers.batches import BatchInfo
from bot.usecases.batches import MAX_POLL_SECONDS, Batches, Finished
from storage.records import BatchRecord

log = logging.getLogger(__name__)


class BatchEdge(Protocol):
    """What the Slack edge shows."""

    async def progress(self, batch: BatchRecord, remote: BatchInfo) -> None: ...

    async def finished(self, finished: Finished) -> None: ...

    async def stuck(self, batch: BatchRecord) -> None:
        """A batch a restart caught while it was being sent: it may or may not be at the provider."""

    async def gave_up(self, batch: BatchRecord, reason: str) -> None:
        """A batch whose results could not be read, given up."""


class BatchPoller:
    def __init__(self, batches: Batches, edge: BatchEdge) -> None:
        self.batches, self.edge = batches, edge
        self._wake = asyncio.Event()
        self._looking = asyncio.Lock()  # one round of looks at a time (the loop, and a wake, or a test)
        self.looks = 0  # looks at the provider so far (tests and the log read it)

    def wake(self) -> None:
        self._wake.set()

    async def recover(self) -> int:
        """At start-up, before requests are served: batches a dead process left `submitting` (between the upload
        and the provider's answer to creating the batch) end as failed, and their askers are told to look at the
        provider's batch list before submitting again: imagebot never sends the same batch twice on its own."""
        stuck = await self.batches.stuck()
        for batch in stuck:
            await self.edge.stuck(batch)
        return len(stuck)

    async def run_once(self) -> int:
        """Look at every batch that is due; how many were looked at."""
        async with self._looking:
            due = await self.batches.due()
            for batch in due:
                await self.look(batch)
            return len(due)

    async def look(self, batch: BatchRecord) -> None:
        """One batch's look. Whatever goes wrong stays with this batch (its next look later), so one batch never
        holds up the others; one whose results still cannot be had long after OpenAI's window is given up."""
        self.looks += 1
        try:
            outcome = await self.batches.poll(batch)
            if isinstance(outcome, Finished):
                await self.edge.finished(outcome)
                await self.batches.shown(outcome)
            else:
                await self.edge.progress(batch, outcome)
        except Exception as error:  # the provider down or refusing, a file unreadable, Slack unreachable, a bug
            if not isinstance(error, ImagebotError):
                log.exception("batch %s: looking at it failed", batch.id)
            else:
                log.warning("batch %s: could not look at %s: %s", batch.id, batch.remote_id, error)
            if self.batches.overdue(batch) and batch.status == "submitted":
                reason = f"imagebot could not read this batch's results: {error}"
                await self.batches.give_up(batch, reason)
                await self.edge.gave_up(batch, reason)
                return
            await self.batches.later(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: look at what is due, then wait until the next is due (or a wake, or stop)."""
        while not stop.is_set():
            self._wake.clear()  # before the round: a wake during it means another round at once
            try:
                await self.run_once()
            except Exception:  # a bug in one look must not end the polling of every batch
                log.exception("batch polling failed; trying again later")
            due_in = self.batches.next_due_in(await self.batches.open())
            wait = MAX_POLL_SECONDS if due_in is None else due_in
            stopped, woken = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({stopped, woken}, timeout=min(wait, MAX_POLL_SECONDS),
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
                woken.cancel()
