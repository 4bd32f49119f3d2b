"""Read-only looks at the database for `imagebot doctor`: it never creates, migrates or writes it.

The doctor may run beside a serving imagebot, or before one has ever started: a missing database is simply
"no history yet", and one from an older imagebot (not migrated yet) answers what its tables can.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from slack_sdk.oauth.installation_store import Bot
from sqlite_utils import Database

from storage.installations import installed_bots

DB_NAME = "imagebot.db"  # as storage.store.Store.open names it


def open_readonly(data_dir: Path) -> Database | None:
    """The database in `data_dir`, opened read-only, or None when there is none yet. A file that is not a
    readable SQLite database raises sqlite3.Error: that is a fault to report, not "no history"."""
    path = data_dir / DB_NAME
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True, check_same_thread=False, timeout=5.0)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")
    except sqlite3.Error:
        conn.close()
        raise
    return Database(conn)


def last_model_verdict(db: Database, provider: str, model: str) -> dict[str, Any] | None:
    """The newest ledger row that tells whether this account may use `model`: a call that succeeded, or one
    refused because the organisation is not verified (`created_at`, `status`, `error_code`). None: no such call."""
    try:
        row = db.execute(
            "SELECT created_at, status, error_code FROM ledger WHERE provider = ? AND model = ? "
            "AND (status = 'ok' OR error_code = 'organization_not_verified') ORDER BY id DESC LIMIT 1",
            [provider, model],
        ).fetchone()
    except sqlite3.OperationalError:  # a database without a ledger yet
        return None
    return {"created_at": row[0], "status": row[1], "error_code": row[2]} if row else None


def installed_workspace_bots(db: Database) -> list[Bot] | None:
    """Every installed workspace's bot (its token, and for rotation its expiry and refresh token); None when the
    database predates installs."""
    try:
        return installed_bots(db)
    except sqlite3.OperationalError:
        return None
