"""A database that cannot take writes: which SQLite errors say so, the admission's write lock, and the
handshake that keeps a job from being recorded behind an ack that said it was not."""

from __future__ import annotations

import errno
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime.db_thread import Ticket
from storage.faults import unavailable
from storage.store import Store
from tests.storage import full_disk

JOB = dict(kind="generate", team_id="T1", channel_id="C1", user_id="U1")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path)
    yield store
    store.close()


@pytest.fixture
def other(store: Store, tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the same file."""
    conn = sqlite3.connect(tmp_path / "imagebot.db", timeout=0)
    yield conn
    conn.close()


def error_of(conn: sqlite3.Connection, sql: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as raised:
        conn.execute(sql)
    return raised.value


def test_a_full_disk_and_a_lock_are_unavailable_a_bug_is_not(store: Store, other: sqlite3.Connection) -> None:
    full_disk.fill(store)
    full = error_of(store.db.conn, f"INSERT INTO test_ballast VALUES ('{full_disk.LARGE}')")
    assert "database or disk is full" in str(full) and unavailable(full)
    full_disk.free(store)

    other.execute("BEGIN EXCLUSIVE")
    store.db.execute("PRAGMA busy_timeout = 0")
    locked = error_of(store.db.conn, "INSERT INTO test_ballast VALUES (1)")
    other.rollback()
    assert "locked" in str(locked) and unavailable(locked)

    store.create_job(dedupe_key="k", payload={}, **JOB)
    duplicate = error_of(store.db.conn, "INSERT INTO jobs (dedupe_key) VALUES ('k')")
    assert isinstance(duplicate, sqlite3.IntegrityError) and not unavailable(duplicate)
    assert not unavailable(error_of(store.db.conn, "SELECT * FROM no_such_table"))
    assert not unavailable(ValueError("database or disk is full"))
    assert unavailable(OSError(errno.ENOSPC, "No space left on device"))  # the image files' disk, full
    assert not unavailable(FileNotFoundError(errno.ENOENT, "gone"))


def test_the_write_lock_gives_up_at_its_wait_and_leaves_the_busy_timeout_as_it_was(
        store: Store, other: sqlite3.Connection) -> None:
    before = store.db.execute("PRAGMA busy_timeout").fetchone()[0]
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError, match="locked"), store.write_lock(wait=0):
        pytest.fail("the lock is another connection's")
    other.rollback()
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == before
    with store.write_lock(wait=0):
        store.insert_job(dedupe_key="k", payload={}, **JOB)
    assert store.job_by_key("k") is not None


def test_a_refused_commit_rolls_back_and_the_next_write_lock_works_when_space_returns(store: Store) -> None:
    full_disk.fill(store)
    with pytest.raises(sqlite3.OperationalError, match="full"), store.write_lock():
        store.insert_job(dedupe_key="big", payload={"prompt": full_disk.LARGE}, **JOB)
    assert not store.db.conn.in_transaction and store.job_by_key("big") is None
    full_disk.free(store)
    job, created = store.create_job(dedupe_key="big", payload={"prompt": full_disk.LARGE}, **JOB)
    assert created and job.payload["prompt"] == full_disk.LARGE


def test_a_transaction_a_failed_write_left_open_does_not_block_the_next_write_lock(store: Store) -> None:
    # Straight on the connection, as a write that failed half-way would leave it: a transaction nothing commits.
    store.db.conn.execute("INSERT INTO report_runs (schedule, slot, posted_at) VALUES ('s', '1', 'x')")
    assert store.db.conn.in_transaction
    job, created = store.create_job(dedupe_key="k", payload={}, **JOB)
    assert created and store.get_job(job.id) is not None
    assert store.db.execute("SELECT COUNT(*) FROM report_runs").fetchone()[0] == 0


def test_a_ticket_is_decided_once_by_whichever_side_comes_first() -> None:
    later = time.monotonic() + 3600
    committed = Ticket(later)
    assert committed.commit() and not committed.abandon()  # committing: the listener waits for its answer
    abandoned = Ticket(later)
    assert abandoned.abandon() and not abandoned.commit()  # the listener left: the db thread rolls back
    expired = Ticket(time.monotonic() - 1)
    assert expired.remaining() == 0 and not expired.commit() and expired.abandon()
