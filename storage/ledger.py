"""The ledger: one row per image API call (and per attempt the provider may have billed), written before the
call and completed after it, and what a thread, a user or a team has spent.

Functions over the database, taking it first. Reports over the ledger are in storage/spend.py.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from storage import spend
from storage.records import LedgerEntry, RecentImage, Spend, ThreadKey, utcnow
from storage.rows import insert_row, update_row


def record_call(db: Database, entry: LedgerEntry, *, ledger_id: int | None = None) -> int:
    """Insert the call's ledger row, or (with `ledger_id`) complete the row written before the call; committed."""
    with db.atomic():
        return write_call(db, entry, ledger_id=ledger_id)


def write_call(db: Database, entry: LedgerEntry, *, ledger_id: int | None = None) -> int:
    """`record_call` inside the caller's transaction (it commits nothing)."""
    row = _ledger_row(entry)
    if ledger_id is not None:
        update_row(db, "ledger", {"id": ledger_id}, row)
        return ledger_id
    row["created_at"] = utcnow()
    return insert_row(db, "ledger", row)


def interrupt_pending_calls(db: Database) -> int:
    """Calls a dead process left `pending` (sent, no answer recorded): failed, cost unknown — the API may
    have billed them, so they stay visible in the ledger rather than vanish, and keep the estimate written
    with them, which spend counts until the cost is known."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE ledger SET status = 'error', error_code = 'interrupted', error_message = "
            "'imagebot stopped before the image API answered; it may have been billed' WHERE status = 'pending'")
    return cursor.rowcount


def _ledger_row(entry: LedgerEntry) -> dict[str, Any]:
    tokens = [entry.input_text_tokens, entry.input_image_tokens, entry.output_image_tokens,
              entry.output_text_tokens]
    return {
        "team_id": entry.key.team_id,
        "user_id": entry.user_id,
        "channel_id": entry.key.channel_id,
        "thread_ts": entry.key.thread_ts,
        "kind": entry.kind,
        "provider": entry.provider,
        "model": entry.model,
        "size": entry.size,
        "quality": entry.quality,
        "n": entry.n,
        "prompt": entry.prompt,
        "input_images": entry.input_images,
        "input_text_tokens": entry.input_text_tokens,
        "input_image_tokens": entry.input_image_tokens,
        "output_image_tokens": entry.output_image_tokens,
        "output_text_tokens": entry.output_text_tokens,
        "total_tokens": None if all(t is None for t in tokens) else sum(t or 0 for t in tokens),
        "cost_micro": entry.cost_micro,
        "status": entry.status,
        "error_code": entry.error_code,
        "error_message": entry.error_message,
        "latency_ms": entry.latency_ms,
        "request_id": entry.request_id,
        "image_ids": json.dumps(list(entry.image_ids)),
        "images": len(entry.image_ids) if entry.status == "ok" else 0,
        "job_id": entry.job_id,
        "estimate_micro": entry.estimate_micro,
    }


def thread_spend(db: Database, key: ThreadKey) -> Spend:
    """What the thread's calls have cost so far. Refused calls carry no cost; a call that was billed but
    failed afterwards (an unreadable image) keeps its cost; one that may have been billed (cut short, its
    answer lost) counts at its estimate. `unknown` counts successes with no price."""
    row = db.execute(
        f"SELECT {spend.SPEND_SQL}, SUM(status = 'ok'), SUM(status = 'ok' AND cost_micro IS NULL), "
        f"{spend.ESTIMATED_SQL} FROM ledger WHERE team_id = ? AND channel_id = ? AND thread_ts = ?",
        [key.team_id, key.channel_id, key.thread_ts],
    ).fetchone()
    return Spend(micro=int(row[0]), calls=int(row[1] or 0), unknown=int(row[2] or 0),
                 estimated=spend.Estimated(int(row[3]), int(row[4])))


def ledger_rows(db: Database, **where: Any) -> list[dict[str, Any]]:
    clauses = " AND ".join(f"{name} = :{name}" for name in where) or "1"
    return list(db.query(f"SELECT * FROM ledger WHERE {clauses} ORDER BY id", where))


def recent_images(db: Database, team_id: str, user_id: str, limit: int = 5) -> list[RecentImage]:
    """The user's latest successful calls in the team, newest first (ledger_user_time narrows them)."""
    rows = db.execute(
        "SELECT created_at, channel_id, thread_ts, kind, provider, model, size, quality, prompt, images, "
        "cost_micro, (SELECT group_concat(label, ' ') FROM (SELECT v.label FROM versions v, "
        "json_each(ledger.image_ids) j WHERE v.team_id = ledger.team_id AND v.channel_id = ledger.channel_id "
        "AND v.thread_ts = ledger.thread_ts AND v.image_id = j.value ORDER BY v.number, v.label)) "
        "FROM ledger WHERE team_id = ? AND user_id = ? AND status = 'ok' "
        "ORDER BY created_at DESC, id DESC LIMIT ?", [team_id, user_id, limit]).fetchall()
    return [RecentImage(created_at=r[0], channel_id=r[1], thread_ts=r[2], kind=r[3], provider=r[4],
                        model=r[5], size=r[6], quality=r[7], prompt=r[8] or "", images=int(r[9] or 0),
                        cost_micro=r[10], versions=tuple((r[11] or "").split()))
            for r in rows]
