"""Schema migrations from every earlier version: a database left at any historical schema, with data in it,
opens with `open_db` at today's schema (the same tables and indexes as a fresh database) with its data intact.

The versions are read from the migrations object, so a new migration is covered without touching this file;
a new table needs a representative row in ROWS (a test says so).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from storage.db import migration_names, migrations, open_db
from storage.files import ImageFiles
from storage.records import LedgerEntry, PostedFile, ThreadKey
from storage.store import Store

NAMES = migration_names()
SHA = "ab" + "0" * 62
SHA2 = "cd" + "1" * 62
KEY = ThreadKey("T1", "C1", "1700000000.000100")

# A representative row (or two) for every table, with every column any version has had; each version's
# rows keep only the columns that version's tables have.
ROWS: dict[str, list[dict[str, Any]]] = {
    "images": [
        {"id": SHA, "path": f"ab/{SHA}.png", "bytes": 1234, "format": "png", "width": 1024, "height": 1024,
         "origin": "generated", "parent_id": None, "team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts,
         "created_at": "2026-01-02T03:04:05.678+00:00"},
        {"id": SHA2, "path": f"cd/{SHA2}.jpg", "bytes": 99, "format": "jpeg", "width": 1536, "height": 1024,
         "origin": "edited", "parent_id": SHA, "team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts,
         "created_at": "2026-01-02T03:05:00.000+00:00"},
    ],
    "threads": [{"team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts, "created_by": "U1",
                 "prompt": "a lighthouse", "last_image_id": SHA2, "created_at": "2026-01-02T03:04:00.000+00:00",
                 "updated_at": "2026-01-02T03:05:00.000+00:00"}],
    "ledger": [
        {"id": 1, "created_at": "2026-01-02T03:04:05.000+00:00", "team_id": "T1", "user_id": "U1",
         "channel_id": "C1", "thread_ts": KEY.thread_ts, "kind": "generate", "provider": "openai",
         "model": "gpt-image-1", "size": "1024x1024", "quality": "medium", "n": 2, "prompt": "a lighthouse",
         "input_images": 0, "input_text_tokens": 14, "input_image_tokens": 0, "output_image_tokens": 2112,
         "output_text_tokens": 0, "total_tokens": 2126, "cost_micro": 84_620, "status": "ok", "error_code": None,
         "error_message": None, "latency_ms": 9000, "request_id": "req_1", "image_ids": json.dumps([SHA, SHA2]),
         "job_id": 1, "images": 2},
        {"id": 2, "created_at": "2026-01-02T03:06:00.000+00:00", "team_id": "T1", "user_id": "U1",
         "channel_id": "C1", "thread_ts": KEY.thread_ts, "kind": "edit", "provider": "openai",
         "model": "gpt-image-1", "size": "1024x1024", "quality": "medium", "n": 1, "prompt": "make it red",
         "input_images": 1, "cost_micro": None, "status": "error", "error_code": "moderation_blocked",
         "error_message": "blocked", "latency_ms": 300, "request_id": "req_2", "image_ids": "[]", "job_id": 2,
         "images": 0},
    ],
    "jobs": [{"id": 1, "dedupe_key": "command:T1:trigger-1", "kind": "generate", "status": "done", "team_id": "T1",
              "channel_id": "C1", "user_id": "U1", "thread_ts": KEY.thread_ts, "message_ts": None,
              "response_url": "https://hooks.slack.com/commands/T1/1/x", "payload": json.dumps({"prompt": "a"}),
              "result": json.dumps({"image_ids": [SHA]}), "error_code": None, "error_message": None,
              "retry_of": None, "created_at": "2026-01-02T03:04:00.000+00:00",
              "started_at": "2026-01-02T03:04:00.100+00:00", "finished_at": "2026-01-02T03:04:09.000+00:00"}],
    "budgets": [{"team_id": "T1", "scope": "user", "target": "U1", "period": "monthly", "limit_micro": 5_000_000,
                 "set_by": "U0ADMIN", "set_at": "2026-01-01T00:00:00.000+00:00"}],
    "policies": [{"team_id": "T1", "channel_id": "C1", "max_quality": "medium", "max_n": 2,
                  "allowed_models": json.dumps(["gpt-image-1"]), "set_by": "U0ADMIN",
                  "set_at": "2026-01-01T00:00:00.000+00:00"}],
    "audit": [{"id": 1, "created_at": "2026-01-01T00:00:00.000+00:00", "team_id": "T1", "user_id": "U0ADMIN",
               "action": "budget", "details": json.dumps({"limit": 5})}],
    "alerts": [{"team_id": "T1", "scope": "channel", "target": "C1", "period": "monthly",
                "period_start": "2026-01-01", "threshold": 80, "sent_at": "2026-01-20T00:00:00.000+00:00"}],
    "report_runs": [{"schedule": "daily 09:00", "slot": "2026-01-02T09:00:00+00:00",
                     "posted_at": "2026-01-02T09:00:01.000+00:00"}],
    "versions": [
        {"team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts, "label": "v1", "number": 1,
         "image_id": SHA, "parent_image_id": None, "job_id": 1, "created_at": "2026-01-02T03:04:09.000+00:00"},
        {"team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts, "label": "v2", "number": 2,
         "image_id": SHA2, "parent_image_id": SHA, "job_id": 2, "created_at": "2026-01-02T03:05:00.000+00:00"},
    ],
    "installations": [{"enterprise_id": "", "team_id": "T1", "user_id": "U0ADMIN", "is_enterprise_install": 0,
                       "installed_at": 1767225600.0, "data": json.dumps({"team_id": "T1"})}],
    "bots": [{"enterprise_id": "", "team_id": "T1", "is_enterprise_install": 0, "installed_at": 1767225600.0,
              "data": json.dumps({"team_id": "T1"})}],
    "oauth_states": [{"state": "state-1", "expires_at": 1767225600.0}],
    "team_settings": [{"team_id": "T1", "report_channel": "C1", "updated_by": "U0ADMIN",
                       "updated_at": "2026-01-01T00:00:00.000+00:00"}],
    "cards": [{"team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts, "text": "U1 asked for an image",
               "blocks": json.dumps([{"type": "section", "block_id": "imagebot_card"}]),
               "updated_at": "2026-01-02T03:05:01.000+00:00"}],
    "posted_files": [{"team_id": "T1", "channel_id": "C1", "thread_ts": KEY.thread_ts, "file_id": "F1",
                      "image_id": SHA, "kind": "image", "drawn": 1, "posted_at": "2026-01-02T03:04:10.000+00:00"}],
    "batches": [{"id": 1, "team_id": "T1", "channel_id": "C1", "thread_ts": "1700000001.000100", "user_id": "U1",
                 "model": "gpt-image-2", "status": "submitted",
                 "requests": json.dumps([{"custom_id": "line-1", "prompt": "a", "options": {"model": "gpt-image-2"},
                                          "estimate_micro": 26_000}]),
                 "estimate_micro": 26_000, "remote_id": "batch_1", "remote_status": "in_progress",
                 "input_file_id": "file-1", "output_file_id": None, "error_file_id": None, "poll_seconds": 120.0,
                 "next_poll_at": "2026-01-02T03:10:00+00:00", "cancel_requested": 0, "summary": None,
                 "created_at": "2026-01-02T03:04:00.000+00:00", "updated_at": "2026-01-02T03:05:00.000+00:00"}],
}


def schema(db: Database) -> list[tuple[str, str, str, str | None]]:
    """Every table, index, view and trigger, as SQLite itself records it."""
    return sorted(db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall())


def at_version(path: Path, applied: int) -> dict[str, list[dict[str, Any]]]:
    """A database with only the first `applied` migrations, holding ROWS for the tables it has; return what
    was written (rows cut down to the columns that version has)."""
    written: dict[str, list[dict[str, Any]]] = {}
    with closing(sqlite3.connect(path)) as conn:
        db = Database(conn)
        if applied < len(NAMES):
            migrations.apply(db, stop_before=NAMES[applied])
        else:
            migrations.apply(db)
        for table in db.tables:
            if table.name not in ROWS:
                continue
            columns = set(table.columns_dict)
            rows = [{k: v for k, v in row.items() if k in columns} for row in ROWS[table.name]]
            table.insert_all(rows)
            written[table.name] = rows
        conn.commit()
    return written


@pytest.fixture(scope="module")
def fresh_schema(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str, str | None]]:
    db = open_db(tmp_path_factory.mktemp("fresh") / "imagebot.db")
    try:
        return schema(db)
    finally:
        db.close()


def test_the_migrations_are_known_in_order() -> None:
    assert NAMES[0] == "0001_core_loop" and len(set(NAMES)) == len(NAMES)
    assert NAMES.index("0007_retention") > NAMES.index("0005_report_speed")


def test_every_table_has_a_representative_row(tmp_path: Path) -> None:
    """A new migration's table needs a row in ROWS, so the upgrade tests carry data through it."""
    db = open_db(tmp_path / "imagebot.db")
    try:
        missing = set(db.table_names()) - set(ROWS) - {"_sqlite_migrations"}
    finally:
        db.close()
    assert not missing, f"add representative rows to ROWS for {sorted(missing)}"


@pytest.mark.parametrize("applied", range(len(NAMES)), ids=["empty", *NAMES[:-1]])
def test_a_database_at_every_earlier_version_upgrades_with_its_data(
        tmp_path: Path, applied: int, fresh_schema: list[tuple[str, str, str, str | None]]) -> None:
    path = tmp_path / "imagebot.db"
    written = at_version(path, applied)

    db = open_db(path)
    try:
        assert [m.name for m in migrations.applied(db)] == NAMES
        assert schema(db) == fresh_schema  # the same tables, columns (in order) and indexes as a new database
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        for table, rows in written.items():
            kept = list(db[table].rows)
            assert len(kept) == len(rows), table
            for before, after in zip(rows, kept, strict=True):
                assert {k: after[k] for k in before} == before, table
        # What later migrations derive from earlier data: 0005 counts each call's images, 0007 starts unpruned.
        if "ledger" in written:
            assert [r["images"] for r in db["ledger"].rows] == [2, 0]
        if "images" in written:
            assert [r["pruned_at"] for r in db["images"].rows] == [None, None]
    finally:
        db.close()


@pytest.mark.parametrize("applied", range(1, len(NAMES)), ids=NAMES[:-1])
def test_an_upgraded_database_works_with_the_store(tmp_path: Path, applied: int) -> None:
    at_version(tmp_path / "imagebot.db", applied)
    store = Store(open_db(tmp_path / "imagebot.db"), ImageFiles(tmp_path / "images"))
    try:
        thread = store.get_thread(KEY)
        assert thread is not None and thread.last_image_id == SHA2
        assert store.get_image(SHA2).parent_id == SHA and store.get_image(SHA2).pruned_at is None
        assert store.thread_spend(KEY).micro == 84_620
        store.record_call(LedgerEntry(key=KEY, user_id="U2", kind="generate", provider="offline",
                                      model="gpt-image-1", size="1024x1024", quality="low", n=1, prompt="a fox"))
        assert len(store.ledger_rows()) == 3
        store.remember_files(KEY, [PostedFile(SHA, "F9", "image", drawn=True)])  # what 0009 keeps, on any older db
        assert store.drawn_file(KEY, SHA) == "F9"
    finally:
        store.close()


def test_opening_an_upgraded_database_again_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "imagebot.db"
    at_version(path, 1)
    open_db(path).close()
    db = open_db(path)
    try:
        before = schema(db)
        applied = list(db.query("SELECT name, applied_at FROM _sqlite_migrations"))
    finally:
        db.close()
    db = open_db(path)
    try:
        assert schema(db) == before
        assert list(db.query("SELECT name, applied_at FROM _sqlite_migrations")) == applied
    finally:
        db.close()


def test_the_report_speed_migration_counts_images_of_existing_rows(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from storage.db import migrations

    db = Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="0005_report_speed")  # a database from before the column existed
    db["ledger"].insert_all([
        {"team_id": "T1", "created_at": "2026-11-01T00:00:00.000+00:00", "status": "ok", "image_ids": '["a","b"]'},
        {"team_id": "T1", "created_at": "2026-11-02T00:00:00.000+00:00", "status": "error", "image_ids": '["c"]'},
    ])
    migrations.apply(db)
    assert [r["images"] for r in db.query("SELECT images FROM ledger ORDER BY id")] == [2, 0]
    assert "images" in next(c for c in db["ledger"].indexes if c.name == "ledger_report").columns
    db.close()
