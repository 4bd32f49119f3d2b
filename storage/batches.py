"""`/image batch`: the batches table, and the ledger rows of a batch's calls (one a prompt, with its batch_id).

A batch's calls are written to the ledger when it is submitted, with status `batched` and their estimate (spend
counts them at it, storage/spend.py, so budgets do while the provider works), and each is settled when its result
is read: its cost from its own usage, or its error. A restart leaves them as they are (they are not `pending`, the
status of a synchronous call in flight that a restart marks interrupted): polling resumes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlite_utils import Database

from storage.ledger import write_call
from storage.records import BatchRecord, LedgerEntry, ThreadKey, utcnow
from storage.rows import insert_row, update_row

OPEN = ("submitting", "submitted", "delivering")  # at the provider, on the way, or read and not yet shown


def create_batch(db: Database, *, team_id: str, channel_id: str, user_id: str, model: str,
                 requests: Sequence[dict[str, Any]], estimate_micro: int | None) -> BatchRecord:
    now = utcnow()
    with db.atomic():
        row_id = insert_row(db, "batches", {
            "team_id": team_id, "channel_id": channel_id, "user_id": user_id, "model": model, "status": "asked",
            "requests": json.dumps(list(requests)), "estimate_micro": estimate_micro, "created_at": now,
            "updated_at": now})
    found = get_batch(db, row_id)
    assert found is not None
    return found


def get_batch(db: Database, batch_id: int) -> BatchRecord | None:
    rows = list(db.query("SELECT * FROM batches WHERE id = ?", [batch_id]))
    return BatchRecord.from_row(rows[0]) if rows else None


def batch_in_thread(db: Database, key: ThreadKey) -> BatchRecord | None:
    rows = list(db.query("SELECT * FROM batches WHERE team_id = ? AND channel_id = ? AND thread_ts = ?",
                         [key.team_id, key.channel_id, key.thread_ts]))
    return BatchRecord.from_row(rows[0]) if rows else None


def open_batches(db: Database) -> list[BatchRecord]:
    marks = ", ".join("?" for _ in OPEN)
    return [BatchRecord.from_row(r) for r in db.query(
        f"SELECT * FROM batches WHERE status IN ({marks}) ORDER BY next_poll_at, id", list(OPEN))]


def update_batch(db: Database, batch_id: int, **fields: Any) -> None:
    """Set a batch's columns (a `summary` given as a dict is stored as JSON)."""
    if isinstance(fields.get("summary"), dict):
        fields["summary"] = json.dumps(fields["summary"])
    with db.atomic():
        update_row(db, "batches", {"id": batch_id}, {**fields, "updated_at": utcnow()})


def claim_batch(db: Database, batch_id: int, from_status: str, to_status: str) -> bool:
    """Move a batch from one status to another, once: False if it was not in `from_status` (a second press)."""
    with db.atomic():
        cursor = db.execute("UPDATE batches SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
                            [to_status, utcnow(), batch_id, from_status])
    return cursor.rowcount == 1


def submitted(db: Database, batch_id: int, *, remote_id: str, input_file_id: str, entries: Sequence[LedgerEntry],
              next_poll_at: str, poll_seconds: float) -> list[int]:
    """The provider took the batch: its ids, and a `batched` ledger row for each call, in one transaction."""
    with db.atomic():
        ids = []
        for entry in entries:
            row_id = write_call(db, entry)
            db.execute("UPDATE ledger SET batch_id = ? WHERE id = ?", [batch_id, row_id])
            ids.append(row_id)
        update_row(db, "batches", {"id": batch_id}, {
            "status": "submitted", "remote_id": remote_id, "remote_status": "validating",
            "input_file_id": input_file_id, "next_poll_at": next_poll_at, "poll_seconds": poll_seconds,
            "updated_at": utcnow()})
    return ids


def batch_calls(db: Database, batch_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT * FROM ledger WHERE batch_id = ? ORDER BY id", [batch_id]))


def settle_batch_call(db: Database, ledger_id: int, entry: LedgerEntry) -> None:
    """One call's result: its row completed (cost from usage, or the error), keeping its batch_id."""
    with db.atomic():
        write_call(db, entry, ledger_id=ledger_id)


def batch_unknown(db: Database, batch_id: int, entries: Sequence[LedgerEntry], summary: dict[str, Any]) -> None:
    """A batch that may exist at the provider, unknown to imagebot: its calls as errors that may have been billed
    (with their estimates, which spend counts), and the batch failed; in one transaction."""
    with db.atomic():
        for entry in entries:
            row_id = write_call(db, entry)
            db.execute("UPDATE ledger SET batch_id = ? WHERE id = ?", [batch_id, row_id])
        update_row(db, "batches", {"id": batch_id}, {"status": "failed", "summary": json.dumps(summary),
                                              "updated_at": utcnow()})


def batch_given_up(db: Database, batch_id: int, code: str, message: str, summary: dict[str, Any]) -> None:
    """A batch whose results cannot be read: its calls still `batched` become errors that may have been billed
    (their estimates kept), and the batch failed; in one transaction."""
    with db.atomic():
        db.execute("UPDATE ledger SET status = 'error', error_code = ?, error_message = ? "
                   "WHERE batch_id = ? AND status = 'batched'", [code, message, batch_id])
        update_row(db, "batches", {"id": batch_id}, {"status": "failed", "summary": json.dumps(summary),
                                              "updated_at": utcnow()})
