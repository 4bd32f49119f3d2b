"""storage/faults.py: which errors say the database (or the image files' disk) cannot take writes now — a full
disk, a lock — and which are bugs."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from storage.faults import unavailable
from storage.store import Store
from tests.storage import full_disk

JOB = dict(kind="generate", team_id="T1", channel_id="C1", user_id="U1")


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
