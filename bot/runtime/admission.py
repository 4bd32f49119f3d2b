"""A request becomes a job row, or is told why not, before its ack: the database side of JobQueue.submit.

One trip to the db thread does the dedupe check, the rate count and the insert, in one transaction that takes
SQLite's write lock first, so they see one state. The trip is bounded by the ack's deadline (a Ticket): a
database that is full, failing or locked past it answers "unavailable", and the job is then not recorded.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.runtime.db_thread import ACK_WAIT, DbThread, Ticket
from storage.faults import unavailable
from storage.records import JobRecord
from storage.store import Store

log = logging.getLogger(__name__)
Decision = tuple[str, JobRecord | None, int | None]  # (Admission status, job, retry_in)
UNAVAILABLE: Decision = ("unavailable", None, None)


class _TooLate(Exception):
    """Raised inside an admission's transaction to roll it back: its listener has stopped waiting."""


async def decide(db: DbThread, ticket: Ticket, new_job: dict[str, Any], *, queue_full: bool,
                 per_minute: int) -> Decision:
    """The db thread's decision, or "unavailable" when the database cannot give one by the ticket's deadline (the
    db thread is stuck behind a lock or slower work, or the disk refuses the write)."""
    work = asyncio.ensure_future(db(admit, db.store, ticket, new_job, queue_full, per_minute))
    try:
        try:
            return await asyncio.wait_for(asyncio.shield(work), ticket.remaining())
        except TimeoutError:
            if not ticket.abandon():
                return await work  # the job is being committed: its answer is a moment away
            work.cancel()  # not begun: it never runs; begun: it rolls back (Ticket.commit says no)
            log.warning("could not admit %s: the database gave no answer within %.1f s", new_job["dedupe_key"],
                        ACK_WAIT)
            return UNAVAILABLE
    except sqlite3.Error as error:
        if not unavailable(error):
            raise
        log.warning("could not admit %s: the database cannot take it: %s", new_job["dedupe_key"], error)
        return UNAVAILABLE


def admit(store: Store, ticket: Ticket, new_job: dict[str, Any], queue_full: bool, per_minute: int) -> Decision:
    """On the db thread. A redelivery is a duplicate before anything else (never refused, never counted). The rest
    happens in one transaction that waits for SQLite's write lock no longer than the listener waits, and the new
    job is kept only if the listener is still waiting for it (Ticket)."""
    if ticket.remaining() == 0:
        return UNAVAILABLE  # queued behind slower work past its deadline: nobody waits for this answer now
    existing = store.job_by_key(new_job["dedupe_key"])  # a read: WAL serves it even while another holds the lock
    if existing is not None:
        return "duplicate", existing, None
    if queue_full:
        return "queue_full", None, None
    try:
        with store.write_lock(wait=ticket.remaining()):
            decision = _rate_and_insert(store, new_job, per_minute)
            if not ticket.commit():
                raise _TooLate
    except _TooLate:
        return UNAVAILABLE
    return decision


def _rate_and_insert(store: Store, new_job: dict[str, Any], per_minute: int) -> Decision:
    now = datetime.now(UTC)
    since = (now - timedelta(minutes=1)).isoformat(timespec="milliseconds")
    recent, oldest = store.count_recent_jobs(new_job["team_id"], new_job["user_id"], since)
    if recent >= per_minute:
        age = (now - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
        return "rate_limited", None, max(1, round(60 - age))
    job, created = store.insert_job(**new_job)
    return ("accepted" if created else "duplicate"), job, None
