"""storage/db.py: opening the database (its schema, once; WAL on a file) and the write lock that admissions take,
on a real SQLite file — a lock held by another connection, a full disk, a transaction left open."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.db import migration_names, open_db
from storage.store import Store
from tests.storage import full_disk

JOB = dict(kind="generate", team_id="T1", channel_id="C1", user_id="U1")


# opening --------------------------------------------------------------------------------------------------


def test_open_db_creates_the_tables(tmp_path: Path) -> None:
    db = open_db(tmp_path / "nested" / "imagebot.db")
    try:
        assert {"images", "threads", "ledger"} <= set(db.table_names())
        assert {"ledger_thread", "ledger_team_time", "ledger_user_time"} <= {i.name for i in db["ledger"].indexes}
        assert db["threads"].pks == ["team_id", "channel_id", "thread_ts"]
        assert db["images"].pks == ["id"]
    finally:
        db.close()
    assert (tmp_path / "nested" / "imagebot.db").is_file()


def test_opening_twice_applies_migrations_once_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "imagebot.db"
    db = open_db(path)
    db["threads"].insert({"team_id": "T1", "channel_id": "C1", "thread_ts": "1.0"})
    db.close()

    again = open_db(path)
    try:
        applied = list(again.query("SELECT name FROM _sqlite_migrations WHERE migration_set = 'imagebot'"))
        assert applied == [{"name": n} for n in migration_names()]  # each once, in order
        assert again["threads"].count == 1
    finally:
        again.close()


def test_file_database_uses_wal(tmp_path: Path) -> None:
    db = open_db(tmp_path / "imagebot.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_in_memory_database_has_the_schema() -> None:
    db = open_db(None)
    try:
        assert {"images", "threads", "ledger"} <= set(db.table_names())
    finally:
        db.close()


# the write lock -------------------------------------------------------------------------------------------


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
