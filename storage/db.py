"""The SQLite database: opening it, its schema (created and migrated by one entry point), and the connection-wide
helpers: the write lock, a second read-only connection, the readiness probe.

Tables
- images:  every image imagebot has kept (generated, edited, or uploaded by a user as an input), keyed by
           the SHA-256 of its bytes; the bytes live on disk (storage/files.py). `pruned_at`: when
           IMAGEBOT_RETENTION_DAYS removed the file (the row stays).
- threads: which Slack threads are image threads, and which image the next edit starts from.
- ledger:  one row per image API call (and per attempt the provider may have billed), failed calls included:
           who, where, what, tokens, cost, outcome, and the estimate made before the call (`estimate_micro`),
           which spend counts for a failed call the API may have billed while its cost is unknown.
- jobs:    every request a user made, written before any image API call: its lifecycle
           (queued → running → done | failed | interrupted), the Slack coordinates to answer it, and a
           unique dedupe key so a redelivered event or command never becomes a second job.
- budgets: spend limits set from Slack (per user, channel or workspace; daily or monthly), overriding the
           environment's defaults; a row with no limit means "no budget" on purpose.
- policies: per-channel caps set by admins (highest quality, largest n, allowed models).
- audit:   every admin action: who, what, when.
- alerts:  which budget alerts (80 %, 100 %) were sent for which period, so each is sent once.
- report_runs: which scheduled report slots were posted, so a restart never posts one twice.
- installations, bots, oauth_states: multi-workspace installs (Slack OAuth v2), through slack_sdk's interface.
- team_settings: per-workspace choices made from Slack (the report channel).
- cards:   each card imagebot posted, as it last posted it (text and blocks), so it can be changed without
           reading the channel back.
- posted_files: the Slack file ids that show each image in each thread (imagebot's uploads, their SVG previews,
           a user's upload that became a version), and whether Slack draws the file in an image block.
- batches: each `/image batch` (OpenAI's Batch API): its prompts and estimate, the provider's batch and file
           ids once submitted, where it stands, when it is next asked about; its calls are ledger rows with its
           `batch_id`, pending (counted at their estimate) until the results are in.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlite_utils import Database, Migrations

from storage.records import utcnow

migrations = Migrations("imagebot")


@migrations(name="0001_core_loop")
def _core_loop(db: Database) -> None:
    _create_images(db)
    _create_threads(db)
    _create_ledger(db)


def _create_images(db: Database) -> None:
    db.table("images").create(
        {
            "id": str,  # sha256 hex of the bytes
            "path": str,  # relative to the images folder
            "bytes": int,
            "format": str,
            "width": int,
            "height": int,
            "origin": str,  # generated | edited | upload
            "parent_id": str,  # the image an edit started from
            "team_id": str,
            "channel_id": str,
            "thread_ts": str,
            "created_at": str,
        },
        pk="id",
    )


def _create_threads(db: Database) -> None:
    db.table("threads").create(
        {
            "team_id": str,
            "channel_id": str,
            "thread_ts": str,
            "created_by": str,
            "prompt": str,
            "last_image_id": str,
            "created_at": str,
            "updated_at": str,
        },
        pk=("team_id", "channel_id", "thread_ts"),
    )


def _create_ledger(db: Database) -> None:
    db.table("ledger").create(
        {
            "id": int,
            "created_at": str,
            "team_id": str,
            "user_id": str,
            "channel_id": str,
            "thread_ts": str,
            "kind": str,  # generate | edit
            "provider": str,  # openai | azure | offline
            "model": str,
            "size": str,
            "quality": str,
            "n": int,
            "prompt": str,
            "input_images": int,
            "input_text_tokens": int,
            "input_image_tokens": int,
            "output_image_tokens": int,
            "output_text_tokens": int,
            "total_tokens": int,
            "cost_micro": int,  # NULL when the price is unknown
            "status": str,  # ok | error | pending (a call in flight) | batched (in a batch at the provider)
            "error_code": str,
            "error_message": str,
            "latency_ms": int,
            "request_id": str,
            "image_ids": str,  # JSON list of the images this call produced
        },
        pk="id",
    )
    db.table("ledger").create_index(["team_id", "channel_id", "thread_ts"], index_name="ledger_thread")
    db.table("ledger").create_index(["team_id", "created_at"], index_name="ledger_team_time")
    db.table("ledger").create_index(["team_id", "user_id", "created_at"], index_name="ledger_user_time")


@migrations(name="0002_jobs")
def _jobs(db: Database) -> None:
    db.table("jobs").create(
        {
            "id": int,
            "dedupe_key": str,  # event/command/action identity: one job per request, across restarts
            "kind": str,  # generate | edit
            "status": str,  # queued | running | done | failed | interrupted
            "team_id": str,
            "channel_id": str,
            "user_id": str,
            "thread_ts": str,  # the image thread (the card's ts), once known
            "message_ts": str,  # the user's reply that asked for an edit
            "response_url": str,  # a slash command's private reply channel (valid 30 minutes)
            "payload": str,  # JSON: what was asked (prompt, options, attachments)
            "result": str,  # JSON: what came of it (image ids, cost), for a later re-upload
            "error_code": str,
            "error_message": str,
            "retry_of": int,  # the interrupted job this one runs again
            "created_at": str,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
    )
    db.table("jobs").create_index(["dedupe_key"], unique=True, index_name="jobs_dedupe")
    db.table("jobs").create_index(["status", "id"], index_name="jobs_status")
    db.table("jobs").create_index(["team_id", "user_id", "created_at"], index_name="jobs_user_time")
    db.table("ledger").add_column("job_id", int)


@migrations(name="0003_spend_control")
def _spend_control(db: Database) -> None:
    db.table("budgets").create(
        {"team_id": str, "scope": str, "target": str, "period": str, "limit_micro": int, "set_by": str,
         "set_at": str},
        pk=("team_id", "scope", "target", "period"),
    )
    db.table("policies").create(
        {"team_id": str, "channel_id": str, "max_quality": str, "max_n": int, "allowed_models": str,
         "set_by": str, "set_at": str},
        pk=("team_id", "channel_id"),
    )
    db.table("audit").create(
        {"id": int, "created_at": str, "team_id": str, "user_id": str, "action": str, "details": str}, pk="id",
    )
    db.table("audit").create_index(["team_id", "created_at"], index_name="audit_team_time")
    db.table("alerts").create(
        {"team_id": str, "scope": str, "target": str, "period": str, "period_start": str, "threshold": int,
         "sent_at": str},
        pk=("team_id", "scope", "target", "period", "period_start", "threshold"),
    )
    db.table("report_runs").create({"schedule": str, "slot": str, "posted_at": str}, pk=("schedule", "slot"))
    # Reports and budget checks aggregate the ledger by team and time, then by channel, user, model, quality:
    # a covering index answers them from the index alone, without touching the (wide) rows.
    db.table("ledger").create_index(
        ["team_id", "created_at", "channel_id", "user_id", "model", "quality", "status", "provider", "n",
         "cost_micro"],
        index_name="ledger_report",
    )
    db.table("ledger").create_index(["team_id", "channel_id", "created_at"], index_name="ledger_channel_time")


@migrations(name="0004_versions")
def _versions(db: Database) -> None:
    # Every image a thread shows gets a label: v1, v2, … in the order they are made (a branch takes the next
    # free number); the outputs of one call with n > 1 share a number: v3a, v3b, …
    db.table("versions").create(
        {"team_id": str, "channel_id": str, "thread_ts": str, "label": str, "number": int, "image_id": str,
         "parent_image_id": str, "job_id": int, "created_at": str},
        pk=("team_id", "channel_id", "thread_ts", "label"),
    )
    db.table("versions").create_index(["team_id", "channel_id", "thread_ts", "image_id"], index_name="versions_image")


@migrations(name="0005_report_speed")
def _report_speed(db: Database) -> None:
    # How many images each call delivered, as a number the covering index can hold: report totals then come
    # from the index alone instead of reading every row's image_ids (58 → 30 ms for a month at 1M rows).
    db.table("ledger").add_column("images", int)
    db.execute("UPDATE ledger SET images = CASE WHEN status = 'ok' THEN json_array_length(image_ids) ELSE 0 END")
    db.execute("DROP INDEX ledger_report")
    db.table("ledger").create_index(
        ["team_id", "created_at", "channel_id", "user_id", "model", "quality", "status", "provider", "n",
         "cost_micro", "images"],
        index_name="ledger_report",
    )


@migrations(name="0006_installations")
def _installations(db: Database) -> None:
    # Multi-workspace distribution (Slack OAuth v2): one row per workspace (or org) install, its bot, and the
    # OAuth states handed out by /slack/install. enterprise_id and team_id are "" when absent (never NULL, so
    # they can be part of a primary key). `data` is slack_sdk's own model, as JSON, tokens included.
    db.table("installations").create(
        {"enterprise_id": str, "team_id": str, "user_id": str, "is_enterprise_install": int, "installed_at": float,
         "data": str},
        pk=("enterprise_id", "team_id", "user_id"),
    )
    db.table("installations").create_index(["enterprise_id", "team_id", "installed_at"],
                                           index_name="installations_latest")
    db.table("bots").create(
        {"enterprise_id": str, "team_id": str, "is_enterprise_install": int, "installed_at": float, "data": str},
        pk=("enterprise_id", "team_id"),
    )
    db.table("oauth_states").create({"state": str, "expires_at": float}, pk="state")
    # Per-workspace choices made from Slack (the channel scheduled reports and budget alerts go to).
    db.table("team_settings").create(
        {"team_id": str, "report_channel": str, "updated_by": str, "updated_at": str}, pk="team_id",
    )


@migrations(name="0007_retention")
def _retention(db: Database) -> None:
    # IMAGEBOT_RETENTION_DAYS: an image's file is deleted once it is older than that, but its row stays (the
    # ledger, the versions and the threads point at it), marked with when its file went, so the bot can say
    # what happened instead of failing. The pruner walks the unpruned images oldest first, in batches.
    db.table("images").add_column("pruned_at", str)
    db.table("images").create_index(["pruned_at", "created_at"], index_name="images_retention")


@migrations(name="0008_possibly_billed")
def _possibly_billed(db: Database) -> None:
    # The estimate made before each call. On an error row it is kept only where the API may have billed the call
    # (interrupted by a crash, its answer lost mid-body): spend counts those at their estimate while the cost is
    # unknown, instead of at nothing. Earlier rows have none (they count as before). The covering index gains
    # the column so reports still read the index alone.
    db.table("ledger").add_column("estimate_micro", int)
    db.execute("DROP INDEX ledger_report")
    db.table("ledger").create_index(
        ["team_id", "created_at", "channel_id", "user_id", "model", "quality", "status", "provider", "n",
         "cost_micro", "images", "estimate_micro"],
        index_name="ledger_report",
    )


@migrations(name="0009_posted")
def _posted(db: Database) -> None:
    # What imagebot posted in Slack and needs again: a card's last text and blocks (JSON) per thread, and the
    # Slack files of each image in a thread (a file uploaded again gets a new id: the newest row is the one).
    # Recorded when they are posted, so the card follows undo / use v2 without reading the thread back
    # (conversations.replies, rate-limited hard for distributed apps since 2025-05-29).
    db.table("cards").create(
        {"team_id": str, "channel_id": str, "thread_ts": str, "text": str, "blocks": str, "updated_at": str},
        pk=("team_id", "channel_id", "thread_ts"),
    )
    db.table("posted_files").create(
        {"team_id": str, "channel_id": str, "thread_ts": str, "file_id": str, "image_id": str, "kind": str,
         "drawn": int, "posted_at": str},
        pk=("team_id", "channel_id", "thread_ts", "file_id"),
    )
    db.table("posted_files").create_index(["team_id", "channel_id", "thread_ts", "image_id"],
                                          index_name="posted_files_image")


@migrations(name="0010_batches")
def _batches(db: Database) -> None:
    # A batch survives restarts: its provider ids are kept as soon as known, and polling resumes from next_poll_at.
    db.table("batches").create(
        {"id": int, "team_id": str, "channel_id": str, "thread_ts": str, "user_id": str, "model": str,
         "status": str,  # asked | submitting | submitted | done | failed | expired | cancelled | declined
         "requests": str,  # JSON: [{custom_id, prompt, options, estimate_micro}]
         "estimate_micro": int, "remote_id": str, "remote_status": str, "input_file_id": str,
         "output_file_id": str, "error_file_id": str, "poll_seconds": float, "next_poll_at": str,
         "cancel_requested": int, "summary": str, "created_at": str, "updated_at": str},
        pk="id", defaults={"cancel_requested": 0},
    )
    db.table("batches").create_index(["status", "next_poll_at"], index_name="batches_open")
    db.table("batches").create_index(["team_id", "channel_id", "thread_ts"], index_name="batches_thread")
    db.table("ledger").add_column("batch_id", int)


def open_db(path: Path | str | None) -> Database:
    """Open (or create) the database at `path`, or an in-memory one for None, with the schema applied."""
    if path is None:
        conn = sqlite3.connect(":memory:", check_same_thread=False)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread=False: storage calls may run in a worker thread; SQLite serialises them itself.
        # timeout: how long a write waits for another process's lock (SQLite's busy timeout). imagebot's own writes
        # take milliseconds; a lock held longer is an outage, and the db thread stuck waiting on it delays every
        # ack behind it, so it stays well under Slack's 3 s (admissions wait less still: bot/runtime/db_thread.py).
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=2.0)
    db = Database(conn)
    if path is not None:
        db.enable_wal()
    db.execute("PRAGMA synchronous=NORMAL")  # with WAL: durable at checkpoints, never corrupt
    ensure_schema(db)
    return db


def ensure_schema(db: Database) -> None:
    migrations.apply(db)


def migration_names() -> list[str]:
    """Every migration this version knows, in the order they apply (the last one is the current schema)."""
    with closing(sqlite3.connect(":memory:")) as conn:
        return [migration.name for migration in migrations.pending(Database(conn))]


@contextmanager
def write_lock(db: Database, wait: float | None = None) -> Iterator[None]:
    """One transaction holding SQLite's write lock from its start (BEGIN IMMEDIATE), so what is read inside is
    what its writes are judged against. Waits for the lock at most `wait` seconds (None: the connection's busy
    timeout), then raises sqlite3.OperationalError (SQLITE_BUSY). Commits at the end; rolls back if the block
    raises or the commit fails (a full disk can refuse the commit itself)."""
    conn = db.conn
    if conn.in_transaction:
        # A write that failed on this connection (a full disk, a lock) can leave its transaction open: BEGIN
        # would then fail every time, and nothing would recover when space or the lock returns.
        conn.rollback()
    busy = int(db.execute("PRAGMA busy_timeout").fetchone()[0])
    if wait is not None:
        db.execute(f"PRAGMA busy_timeout = {max(0, round(wait * 1000))}")
    try:
        db.execute("BEGIN IMMEDIATE")
    finally:
        if wait is not None:
            db.execute(f"PRAGMA busy_timeout = {busy}")
    try:
        yield
        conn.commit()
    finally:
        if conn.in_transaction:
            conn.rollback()


def reader(db: Database) -> Database:
    """A separate read-only connection to the same database, for long reads (reports, CSV exports) on a
    worker thread: WAL lets them run beside the writes, so the db thread — and every ack — never waits on
    them. Close it when done. (An in-memory database has no second connection: the same one is returned.)"""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    if not path:
        return db
    return Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))


def check_writable(db: Database) -> None:
    """For /readyz: raise sqlite3.Error unless a row can be written. Takes the write lock, writes a row and
    rolls it back, so nothing is kept. (A savepoint, not BEGIN: it is safe inside any open transaction.)"""
    db.execute("SAVEPOINT readyz")
    try:
        db.execute("INSERT INTO report_runs (schedule, slot, posted_at) VALUES ('readyz', 'probe', ?)", [utcnow()])
    finally:
        db.execute("ROLLBACK TO readyz")
        db.execute("RELEASE readyz")
