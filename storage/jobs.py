"""Jobs: every request a user made, written before any image API call, deduped by a key so a redelivered event
or command never becomes a second job; their lifecycle (queued → running → done | failed | interrupted); and the
claims that make a button good for one use (re-upload, confirm, run again).

Functions over the database, taking it first. The job runner that works through them is bot/runtime/jobs.py.
"""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from storage.db import write_lock
from storage.records import JobRecord, utcnow
from storage.rows import update_row


def create_job(db: Database, **job: Any) -> tuple[JobRecord, bool]:
    """Insert a queued job in its own transaction (`insert_job`'s fields); (job, created)."""
    with write_lock(db):
        return insert_job(db, **job)


def insert_job(db: Database, *, dedupe_key: str, kind: str, team_id: str, channel_id: str, user_id: str,
               payload: dict[str, Any], thread_ts: str | None = None, message_ts: str | None = None,
               response_url: str | None = None, retry_of: int | None = None) -> tuple[JobRecord, bool]:
    """Insert a queued job; if its dedupe key exists, return that job instead. (job, created). Commits nothing:
    call it inside `write_lock` (or use create_job)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO jobs (dedupe_key, kind, status, team_id, channel_id, user_id, thread_ts, "
        "message_ts, response_url, payload, retry_of, created_at) "
        "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [dedupe_key, kind, team_id, channel_id, user_id, thread_ts, message_ts, response_url,
         json.dumps(payload), retry_of, utcnow()],
    )
    created = cursor.rowcount == 1
    row = next(db.query("SELECT * FROM jobs WHERE dedupe_key = ?", [dedupe_key]))
    return JobRecord.from_row(row), created


def job_by_key(db: Database, dedupe_key: str) -> JobRecord | None:
    rows = list(db.query("SELECT * FROM jobs WHERE dedupe_key = ?", [dedupe_key]))
    return JobRecord.from_row(rows[0]) if rows else None


def get_job(db: Database, job_id: int) -> JobRecord | None:
    rows = list(db.query("SELECT * FROM jobs WHERE id = ?", [job_id]))
    return JobRecord.from_row(rows[0]) if rows else None


def jobs_with_status(db: Database, status: str) -> list[JobRecord]:
    return [JobRecord.from_row(r) for r in db.query("SELECT * FROM jobs WHERE status = ? ORDER BY id", [status])]


def count_jobs(db: Database, status: str) -> int:
    return int(db.execute("SELECT COUNT(*) FROM jobs WHERE status = ?", [status]).fetchone()[0])


def count_recent_jobs(db: Database, team_id: str, user_id: str, since: str) -> tuple[int, str | None]:
    """How many jobs the user created since `since` (ISO time), and the oldest one's time."""
    row = db.execute(
        "SELECT COUNT(*), MIN(created_at) FROM jobs WHERE team_id = ? AND user_id = ? AND created_at >= ?",
        [team_id, user_id, since],
    ).fetchone()
    return int(row[0]), row[1]


def update_job(db: Database, job_id: int, **fields: Any) -> None:
    for name in ("payload", "result"):
        if name in fields and fields[name] is not None:
            fields[name] = json.dumps(fields[name])
    with db.atomic():
        update_row(db, "jobs", {"id": job_id}, fields)


def start_job(db: Database, job_id: int) -> None:
    update_job(db, job_id, status="running", started_at=utcnow())


def finish_job(db: Database, job_id: int, status: str, *, error_code: str | None = None,
               error_message: str | None = None, result: dict[str, Any] | None = None) -> None:
    update_job(db, job_id, status=status, error_code=error_code, error_message=error_message, result=result,
               finished_at=utcnow())


def interrupt_running_jobs(db: Database, owned: set[int] | frozenset[int] = frozenset()) -> list[JobRecord]:
    """Mark every job left `running` by a process that died (not in `owned`) as interrupted; return them."""
    jobs = [job for job in jobs_with_status(db, "running") if job.id not in owned]
    for job in jobs:
        finish_job(db, job.id, "interrupted", error_code="interrupted",
                   error_message="imagebot stopped while this request was running")
    return jobs


# claims: a button good for one use ----------------------------------------------------------------------------


def claim_reupload(db: Database, job_id: int) -> bool:
    """Take a job whose upload Slack refused for one more try; False if it is not waiting for one (a
    redelivered click, or already uploaded)."""
    cursor = db.execute("UPDATE jobs SET error_code = 'reuploading' WHERE id = ? AND error_code = 'upload_failed'",
                        [job_id])
    db.conn.commit()
    return cursor.rowcount == 1


def settle_confirmation(db: Database, job_id: int, answer: str, confirmed_key: str) -> bool:
    """Record the answer ("confirmed" or "cancelled") to a job waiting for one; False if it was answered
    already — a confirmation is good for one request, however often its button is pressed, across restarts. A
    "confirmed" that made no request (the job deduped on `confirmed_key`: refused at the press, say over a rate
    limit, or the process died in between) can be answered again, either way, as a rerun's claim can."""
    cursor = db.execute(
        "UPDATE jobs SET error_code = ? WHERE id = ? AND (error_code = 'awaiting_confirmation' OR (error_code = "
        "'confirmed' AND NOT EXISTS (SELECT 1 FROM jobs WHERE dedupe_key = ?)))", [answer, job_id, confirmed_key])
    db.conn.commit()
    return cursor.rowcount == 1


def claim_rerun(db: Database, job_id: int, rerun_key: str) -> bool:
    """Take an interrupted job to be run again; False if it was not interrupted, or was taken already and its
    rerun (the job deduped on `rerun_key`) exists: one rerun per interruption however often "Run it again" is
    pressed, across restarts. A claim that made no job (the rerun was refused, or the process died in between)
    can be taken again."""
    cursor = db.execute(
        "UPDATE jobs SET error_code = 'rerun' WHERE id = ? AND status = 'interrupted' AND (error_code = "
        "'interrupted' OR (error_code = 'rerun' AND NOT EXISTS (SELECT 1 FROM jobs WHERE dedupe_key = ?)))",
        [job_id, rerun_key])
    db.conn.commit()
    return cursor.rowcount == 1
