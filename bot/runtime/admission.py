"""A request becomes a job row, or is told why not, before its ack: the database side of JobQueue.submit.

One trip to the db thread does the dedupe check, the rate count and the insert, in one transaction that takes
SQLite's write lock first, so they see one state. The trip is bounded by the ack's deadline (a Ticket): a
database that is full, failing or locked past it answers "unavailable", and the job is then not recorded.

Admissions that arrive while a trip is under way go together on the next one, in one transaction (Admissions):
in a burst, a trip each was one commit, a dozen statements and a hand-over of the GIL between the loop and the
db thread per request, and the db thread, not the loop, set how fast a burst was acked (1.1 ms an admission
during a 200-burst against 0.17 ms alone, issue 16). Each keeps its own ticket, so each is still decided alone.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.runtime.db_thread import ACK_WAIT, DbThread, Ticket
from storage.faults import unavailable
from storage.records import JobRecord
from storage.store import Store

log = logging.getLogger(__name__)
Decision = tuple[str, JobRecord | None, int | None]  # (Admission status, job, retry_in)
UNAVAILABLE: Decision = ("unavailable", None, None)


@dataclass(frozen=True)
class Asked:
    """One admission waiting for the db thread."""

    ticket: Ticket
    new_job: dict[str, Any]
    queue_full: bool
    per_minute: int


class Admissions:
    """Admissions to the db thread, those that arrive while a trip is under way together on the next trip."""

    def __init__(self, db: DbThread) -> None:
        self.db = db
        self._waiting: list[tuple[Asked, asyncio.Future[Decision]]] = []
        self._trip: asyncio.Task[None] | None = None
        self.trips = 0  # db trips made: what batching saves is visible to tests and the bench

    async def decide(self, ticket: Ticket, new_job: dict[str, Any], *, queue_full: bool,
                     per_minute: int) -> Decision:
        """The db thread's decision, or "unavailable" when the database cannot give one by the ticket's deadline
        (the db thread is stuck behind a lock or slower work, or the disk refuses the write)."""
        loop = asyncio.get_running_loop()
        decided: asyncio.Future[Decision] = loop.create_future()
        self._waiting.append((Asked(ticket, new_job, queue_full, per_minute), decided))
        if self._trip is None:
            self._trip = asyncio.create_task(self._trips(), name="admissions")
        # The deadline answers for the database when it has not begun to commit (a timer, not wait_for and shield:
        # those cost 20 us an ack, a twentieth of it in a 200-burst, issue 16).
        deadline = loop.call_later(ticket.remaining(), _past_deadline, ticket, decided, new_job["dedupe_key"])
        try:
            return await decided
        except sqlite3.Error as error:
            if not unavailable(error):
                raise
            log.warning("could not admit %s: the database cannot take it: %s", new_job["dedupe_key"], error)
            return UNAVAILABLE
        finally:
            deadline.cancel()

    async def _trips(self) -> None:
        batch: list[tuple[Asked, asyncio.Future[Decision]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                self.trips += 1
                try:
                    decisions = await self.db(admit_all, self.db.store, [asked for asked, _ in batch])
                except Exception as error:  # the database's fault, or a bug: each waiting admission is told
                    for _, decided in batch:
                        if not decided.done():
                            decided.set_exception(error)
                    continue
                for (_, decided), decision in zip(batch, decisions, strict=True):
                    if not decided.done():
                        decided.set_result(decision)
        finally:  # cancelled (only as the loop closes): no waiter is left waiting for an answer that will not come
            for _, decided in batch:
                decided.cancel()
            self._trip = None


def _past_deadline(ticket: Ticket, decided: asyncio.Future[Decision], key: str) -> None:
    """The ack cannot wait longer: "unavailable", unless the db thread has begun to commit the job (its answer is
    then a moment away, and is the one given). Not begun: it is skipped, or not kept (Ticket.commit says no)."""
    if decided.done() or not ticket.abandon():
        return
    log.warning("could not admit %s: the database gave no answer within %.1f s", key, ACK_WAIT)
    decided.set_result(UNAVAILABLE)


def admit_all(store: Store, batch: list[Asked]) -> list[Decision]:
    """On the db thread: each admission decided as `admit` would alone, in order, and the new jobs written in one
    transaction. An admission is kept only if its listener is still waiting when its turn comes (Ticket.commit
    before its insert: from then on it is committed or the whole trip fails, and its listener waits for that)."""
    decisions: list[Decision | None] = [_before_lock(store, asked) for asked in batch]
    writes = [i for i, decision in enumerate(decisions) if decision is None]
    if writes:
        with store.write_lock(wait=max(batch[i].ticket.remaining() for i in writes)):
            for i in writes:
                asked = batch[i]
                keep = asked.ticket.commit()
                decisions[i] = _rate_and_insert(store, asked.new_job, asked.per_minute) if keep else UNAVAILABLE
    return [decision or UNAVAILABLE for decision in decisions]


def _before_lock(store: Store, asked: Asked) -> Decision | None:
    """What is decided without the write lock; None: the admission needs it."""
    if asked.ticket.remaining() == 0:
        return UNAVAILABLE  # queued behind slower work past its deadline: nobody waits for this answer now
    existing = store.job_by_key(asked.new_job["dedupe_key"])  # a read: WAL serves it even while another writes
    if existing is not None:
        return "duplicate", existing, None
    if asked.queue_full:
        return "queue_full", None, None
    return None


def _rate_and_insert(store: Store, new_job: dict[str, Any], per_minute: int) -> Decision:
    now = datetime.now(UTC)
    since = (now - timedelta(minutes=1)).isoformat(timespec="milliseconds")
    recent, oldest = store.count_recent_jobs(new_job["team_id"], new_job["user_id"], since)
    if recent >= per_minute:
        age = (now - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
        return "rate_limited", None, max(1, round(60 - age))
    job, created = store.insert_job(**new_job)
    return ("accepted" if created else "duplicate"), job, None
