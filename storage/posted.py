"""What imagebot posted in Slack and needs again, recorded as it posts: each card's last text and blocks, and the
Slack files that show each image in a thread. The card then changes (undo, use v2) with one chat.update and no
reading back of the thread.

Functions over the database, taking it first. The blocks are kept as the JSON they were posted as; what they
mean is the edge's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlite_utils import Database

from storage.records import PostedFile, ThreadKey, utcnow


def remember_card(db: Database, key: ThreadKey, text: str, blocks: list[dict[str, Any]]) -> None:
    """The card at `key.thread_ts` now reads `text` / `blocks` (replacing what it read before)."""
    with db.atomic():
        db.execute(
            "INSERT OR REPLACE INTO cards (team_id, channel_id, thread_ts, text, blocks, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [key.team_id, key.channel_id, key.thread_ts, text, json.dumps(blocks), utcnow()])


def posted_card(db: Database, key: ThreadKey) -> tuple[str, list[dict[str, Any]]] | None:
    """The text and blocks the thread's card was last posted with; None if imagebot posted no card there."""
    row = db.execute("SELECT text, blocks FROM cards WHERE team_id = ? AND channel_id = ? AND thread_ts = ?",
                     [key.team_id, key.channel_id, key.thread_ts]).fetchone()
    return None if row is None else (str(row[0]), list(json.loads(row[1])))


def remember_files(db: Database, key: ThreadKey, files: Iterable[PostedFile]) -> None:
    """Slack made these files in the thread (an upload, a re-upload, a user's file that became a version)."""
    now = utcnow()
    with db.atomic():
        for file in files:
            db.execute(
                "INSERT OR REPLACE INTO posted_files (team_id, channel_id, thread_ts, file_id, image_id, kind, "
                "drawn, posted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [key.team_id, key.channel_id, key.thread_ts, file.file_id, file.image_id, file.kind,
                 int(file.drawn), now])


def drawn_file(db: Database, key: ThreadKey, image_id: str) -> str | None:
    """The Slack file that draws `image_id` in the thread (the newest, if it was uploaded again); None when none
    does (a WEBP, an SVG without its preview, an image never uploaded there)."""
    row = db.execute(
        "SELECT file_id FROM posted_files WHERE team_id = ? AND channel_id = ? AND thread_ts = ? AND image_id = ? "
        "AND drawn = 1 ORDER BY posted_at DESC, rowid DESC LIMIT 1",
        [key.team_id, key.channel_id, key.thread_ts, image_id]).fetchone()
    return None if row is None else str(row[0])

