"""The one place that reads and writes imagebot's data: SQLite rows and image files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from storage import reports
from storage.db import open_db
from storage.files import ImageFiles


def ledger_time(moment: datetime) -> str:
    """An aware datetime as storage writes times (created_at, pruned_at…): UTC, milliseconds, "+00:00".

    Same width, same offset, so string order is time order and the strings can bound an index range.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("ledger times need an aware datetime; a naive one has no place on the clock")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def utcnow() -> str:
    return ledger_time(datetime.now(UTC))


@dataclass(frozen=True)
class ThreadKey:
    team_id: str
    channel_id: str
    thread_ts: str


@dataclass(frozen=True)
class ImageRecord:
    id: str
    path: str
    bytes: int
    format: str
    width: int | None
    height: int | None
    origin: str
    parent_id: str | None
    pruned_at: str | None = None  # when IMAGEBOT_RETENTION_DAYS removed its file (the row is kept)


@dataclass(frozen=True)
class ThreadRecord:
    key: ThreadKey
    created_by: str | None
    prompt: str | None
    last_image_id: str | None


@dataclass(frozen=True)
class Spend:
    micro: int  # sum of the calls whose cost is known, and of those that may have been billed, at estimate
    calls: int
    unknown: int  # calls whose price was unknown (not in `micro`)
    estimated: reports.Estimated = field(default_factory=reports.Estimated)  # the part of `micro` that is estimates


@dataclass(frozen=True)
class JobRecord:
    id: int
    dedupe_key: str
    kind: str
    status: str
    team_id: str
    channel_id: str
    user_id: str
    thread_ts: str | None
    message_ts: str | None
    response_url: str | None
    payload: dict[str, Any]
    result: dict[str, Any] | None
    error_code: str | None
    retry_of: int | None
    created_at: str

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobRecord:
        return cls(
            id=row["id"], dedupe_key=row["dedupe_key"], kind=row["kind"], status=row["status"],
            team_id=row["team_id"], channel_id=row["channel_id"], user_id=row["user_id"],
            thread_ts=row["thread_ts"], message_ts=row["message_ts"], response_url=row["response_url"],
            payload=json.loads(row["payload"] or "{}"),
            result=json.loads(row["result"]) if row["result"] else None,
            error_code=row["error_code"], retry_of=row["retry_of"], created_at=row["created_at"],
        )


@dataclass
class LedgerEntry:
    key: ThreadKey
    user_id: str
    kind: str
    provider: str
    model: str
    size: str
    quality: str
    n: int
    prompt: str
    input_images: int = 0
    input_text_tokens: int | None = None
    input_image_tokens: int | None = None
    output_image_tokens: int | None = None
    output_text_tokens: int | None = None
    cost_micro: int | None = None
    status: str = "ok"
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: int | None = None
    request_id: str | None = None
    image_ids: tuple[str, ...] = ()
    job_id: int | None = None
    # What the call was estimated to cost, written with the row before the call. Kept on an error row only while
    # the API may have billed it (spend then counts it at this figure); None for a refusal.
    estimate_micro: int | None = None


@dataclass(frozen=True)
class RecentImage:
    """One successful image API call of a user, as their App Home lists it."""

    created_at: str  # ledger time (ISO UTC)
    channel_id: str
    thread_ts: str
    kind: str  # generate | edit
    provider: str
    model: str
    size: str
    quality: str
    prompt: str
    images: int
    cost_micro: int | None
    versions: tuple[str, ...]  # the thread's labels for what the call made (v3, or v3a, v3b…)


class Store:
    def __init__(self, db: Database, files: ImageFiles) -> None:
        self.db = db
        self.files = files

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        return cls(open_db(data_dir / "imagebot.db"), ImageFiles(data_dir / "images"))

    def reader(self) -> Database:
        """A separate read-only connection to the same database, for long reads (reports, CSV exports) on a
        worker thread: WAL lets them run beside the writes, so the db thread — and every ack — never waits on
        them. Close it when done. (An in-memory database has no second connection: the same one is returned.)"""
        path = self.db.execute("PRAGMA database_list").fetchone()[2]
        if not path:
            return self.db
        return Database(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))

    def close(self) -> None:
        self.db.close()

    def check_writable(self) -> None:
        """For /readyz: raise sqlite3.Error unless a row can be written. Takes the write lock, writes a row and
        rolls it back, so nothing is kept. (A savepoint, not BEGIN: it is safe inside any open transaction.)"""
        self.db.execute("SAVEPOINT readyz")
        try:
            self.db.execute("INSERT INTO report_runs (schedule, slot, posted_at) VALUES ('readyz', 'probe', ?)",
                            [utcnow()])
        finally:
            self.db.execute("ROLLBACK TO readyz")
            self.db.execute("RELEASE readyz")

    # images -----------------------------------------------------------------------------------------
    def save_image(self, data: bytes, fmt: str, *, origin: str, key: ThreadKey, parent_id: str | None = None,
                   width: int | None = None, height: int | None = None) -> ImageRecord:
        """Write the bytes (atomically, content-addressed) and record them; an existing image is kept."""
        digest, relative = self.files.put(data, fmt)
        return self.record_image(digest, relative, len(data), fmt, origin=origin, key=key, parent_id=parent_id,
                                 width=width, height=height)

    def record_image(self, digest: str, relative: str, size: int, fmt: str, *, origin: str, key: ThreadKey,
                     parent_id: str | None = None, width: int | None = None,
                     height: int | None = None) -> ImageRecord:
        """Record an image whose bytes `files.put` already wrote (the two halves can run on different threads)."""
        row = {
            "id": digest, "path": relative, "bytes": size, "format": fmt, "width": width, "height": height,
            "origin": origin, "parent_id": parent_id, "team_id": key.team_id, "channel_id": key.channel_id,
            "thread_ts": key.thread_ts, "created_at": utcnow(),
        }
        self.db["images"].insert(row, ignore=True)
        record = self.get_image(digest)
        if record.pruned_at is not None and self.files.exists(relative):
            # The same bytes again after retention removed them: `put` wrote the file anew, so the image is
            # back and its age counts from now. (Had the pruner removed the file again between `put` and here,
            # the row would rightly stay pruned.)
            with self.db.conn:
                self.db.execute("UPDATE images SET pruned_at = NULL, created_at = ? WHERE id = ?",
                                [row["created_at"], digest])
            record = self.get_image(digest)
        return record

    def get_image(self, image_id: str) -> ImageRecord:
        row = self.db["images"].get(image_id)
        return ImageRecord(id=row["id"], path=row["path"], bytes=row["bytes"], format=row["format"],
                           width=row["width"], height=row["height"], origin=row["origin"],
                           parent_id=row["parent_id"], pruned_at=row.get("pruned_at"))

    def image_bytes(self, image_id: str) -> bytes:
        return self.files.get(self.get_image(image_id).path)

    # threads ----------------------------------------------------------------------------------------
    def start_thread(self, key: ThreadKey, *, created_by: str, prompt: str | None) -> ThreadRecord:
        now = utcnow()
        self.db["threads"].insert(
            {"team_id": key.team_id, "channel_id": key.channel_id, "thread_ts": key.thread_ts,
             "created_by": created_by, "prompt": prompt, "last_image_id": None, "created_at": now,
             "updated_at": now},
            ignore=True,
        )
        thread = self.get_thread(key)
        assert thread is not None
        return thread

    def get_thread(self, key: ThreadKey) -> ThreadRecord | None:
        try:
            row = self.db["threads"].get((key.team_id, key.channel_id, key.thread_ts))
        except NotFoundError:
            return None
        return ThreadRecord(key=key, created_by=row["created_by"], prompt=row["prompt"],
                            last_image_id=row["last_image_id"])

    def set_last_image(self, key: ThreadKey, image_id: str) -> None:
        self.db["threads"].update((key.team_id, key.channel_id, key.thread_ts),
                                  {"last_image_id": image_id, "updated_at": utcnow()})

    # ledger -----------------------------------------------------------------------------------------
    def record_call(self, entry: LedgerEntry, *, ledger_id: int | None = None) -> int:
        """Insert the call's ledger row, or (with `ledger_id`) complete the row written before the call."""
        row = self._ledger_row(entry)
        if ledger_id is not None:
            self.db["ledger"].update(ledger_id, row)
            return ledger_id
        row["created_at"] = utcnow()
        return int(self.db["ledger"].insert(row).last_pk)

    def interrupt_pending_calls(self) -> int:
        """Calls a dead process left `pending` (sent, no answer recorded): failed, cost unknown — the API may
        have billed them, so they stay visible in the ledger rather than vanish, and keep the estimate written
        with them, which spend counts until the cost is known."""
        with self.db.conn:
            cursor = self.db.execute(
                "UPDATE ledger SET status = 'error', error_code = 'interrupted', error_message = "
                "'imagebot stopped before the image API answered; it may have been billed' WHERE status = 'pending'")
        return cursor.rowcount

    @staticmethod
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

    def thread_spend(self, key: ThreadKey) -> Spend:
        """What the thread's calls have cost so far. Refused calls carry no cost; a call that was billed but
        failed afterwards (an unreadable image) keeps its cost; one that may have been billed (cut short, its
        answer lost) counts at its estimate. `unknown` counts successes with no price."""
        row = self.db.execute(
            f"SELECT {reports.SPEND_SQL}, SUM(status = 'ok'), SUM(status = 'ok' AND cost_micro IS NULL), "
            f"{reports.ESTIMATED_SQL} FROM ledger WHERE team_id = ? AND channel_id = ? AND thread_ts = ?",
            [key.team_id, key.channel_id, key.thread_ts],
        ).fetchone()
        return Spend(micro=int(row[0]), calls=int(row[1] or 0), unknown=int(row[2] or 0),
                     estimated=reports.Estimated(int(row[3]), int(row[4])))

    def ledger_rows(self, **where: Any) -> list[dict[str, Any]]:
        clauses = " AND ".join(f"{name} = :{name}" for name in where) or "1"
        return list(self.db.query(f"SELECT * FROM ledger WHERE {clauses} ORDER BY id", where))

    def recent_images(self, team_id: str, user_id: str, limit: int = 5) -> list[RecentImage]:
        """The user's latest successful calls in the team, newest first (ledger_user_time narrows them)."""
        rows = self.db.execute(
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

    # jobs -------------------------------------------------------------------------------------------
    @contextmanager
    def write_lock(self, wait: float | None = None) -> Iterator[None]:
        """One transaction holding SQLite's write lock from its start (BEGIN IMMEDIATE), so what is read inside is
        what its writes are judged against. Waits for the lock at most `wait` seconds (None: the connection's busy
        timeout), then raises sqlite3.OperationalError (SQLITE_BUSY). Commits at the end; rolls back if the block
        raises or the commit fails (a full disk can refuse the commit itself)."""
        conn = self.db.conn
        if conn.in_transaction:
            # A write that failed on this connection (a full disk, a lock) can leave its transaction open: BEGIN
            # would then fail every time, and nothing would recover when space or the lock returns.
            conn.rollback()
        busy = int(self.db.execute("PRAGMA busy_timeout").fetchone()[0])
        if wait is not None:
            self.db.execute(f"PRAGMA busy_timeout = {max(0, round(wait * 1000))}")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        finally:
            if wait is not None:
                self.db.execute(f"PRAGMA busy_timeout = {busy}")
        try:
            yield
            conn.commit()
        finally:
            if conn.in_transaction:
                conn.rollback()

    def create_job(self, **job: Any) -> tuple[JobRecord, bool]:
        """Insert a queued job in its own transaction (`insert_job`'s fields); (job, created)."""
        with self.write_lock():
            return self.insert_job(**job)

    def insert_job(self, *, dedupe_key: str, kind: str, team_id: str, channel_id: str, user_id: str,
                   payload: dict[str, Any], thread_ts: str | None = None, message_ts: str | None = None,
                   response_url: str | None = None, retry_of: int | None = None) -> tuple[JobRecord, bool]:
        """Insert a queued job; if its dedupe key exists, return that job instead. (job, created). Commits nothing:
        call it inside `write_lock` (or use create_job)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO jobs (dedupe_key, kind, status, team_id, channel_id, user_id, thread_ts, "
            "message_ts, response_url, payload, retry_of, created_at) "
            "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [dedupe_key, kind, team_id, channel_id, user_id, thread_ts, message_ts, response_url,
             json.dumps(payload), retry_of, utcnow()],
        )
        created = cursor.rowcount == 1
        row = next(self.db.query("SELECT * FROM jobs WHERE dedupe_key = ?", [dedupe_key]))
        return JobRecord.from_row(row), created

    def job_by_key(self, dedupe_key: str) -> JobRecord | None:
        rows = list(self.db.query("SELECT * FROM jobs WHERE dedupe_key = ?", [dedupe_key]))
        return JobRecord.from_row(rows[0]) if rows else None

    def get_job(self, job_id: int) -> JobRecord | None:
        rows = list(self.db.query("SELECT * FROM jobs WHERE id = ?", [job_id]))
        return JobRecord.from_row(rows[0]) if rows else None

    def jobs_with_status(self, status: str) -> list[JobRecord]:
        return [JobRecord.from_row(r) for r in self.db.query("SELECT * FROM jobs WHERE status = ? ORDER BY id",
                                                              [status])]

    def count_jobs(self, status: str) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM jobs WHERE status = ?", [status]).fetchone()[0])

    def count_recent_jobs(self, team_id: str, user_id: str, since: str) -> tuple[int, str | None]:
        """How many jobs the user created since `since` (ISO time), and the oldest one's time."""
        row = self.db.execute(
            "SELECT COUNT(*), MIN(created_at) FROM jobs WHERE team_id = ? AND user_id = ? AND created_at >= ?",
            [team_id, user_id, since],
        ).fetchone()
        return int(row[0]), row[1]

    def update_job(self, job_id: int, **fields: Any) -> None:
        for name in ("payload", "result"):
            if name in fields and fields[name] is not None:
                fields[name] = json.dumps(fields[name])
        self.db["jobs"].update(job_id, fields)

    def start_job(self, job_id: int) -> None:
        self.update_job(job_id, status="running", started_at=utcnow())

    def finish_job(self, job_id: int, status: str, *, error_code: str | None = None,
                   error_message: str | None = None, result: dict[str, Any] | None = None) -> None:
        self.update_job(job_id, status=status, error_code=error_code, error_message=error_message, result=result,
                        finished_at=utcnow())

    def claim_reupload(self, job_id: int) -> bool:
        """Take a job whose upload Slack refused for one more try; False if it is not waiting for one (a
        redelivered click, or already uploaded)."""
        cursor = self.db.execute("UPDATE jobs SET error_code = 'reuploading' WHERE id = ? AND error_code = "
                                 "'upload_failed'", [job_id])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def settle_confirmation(self, job_id: int, answer: str) -> bool:
        """Record the answer ("confirmed" or "cancelled") to a job waiting for one; False if it was answered
        already — a confirmation is good for one request, however often its button is pressed."""
        cursor = self.db.execute("UPDATE jobs SET error_code = ? WHERE id = ? AND error_code = "
                                 "'awaiting_confirmation'", [answer, job_id])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def claim_rerun(self, job_id: int, rerun_key: str) -> bool:
        """Take an interrupted job to be run again; False if it was not interrupted, or was taken already and its
        rerun (the job deduped on `rerun_key`) exists: one rerun per interruption however often "Run it again" is
        pressed, across restarts. A claim that made no job (the rerun was refused, or the process died in between)
        can be taken again."""
        cursor = self.db.execute(
            "UPDATE jobs SET error_code = 'rerun' WHERE id = ? AND status = 'interrupted' AND (error_code = "
            "'interrupted' OR (error_code = 'rerun' AND NOT EXISTS (SELECT 1 FROM jobs WHERE dedupe_key = ?)))",
            [job_id, rerun_key])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def attach_thread(self, job_id: int, key: ThreadKey, *, created_by: str, prompt: str | None) -> None:
        """A generate job's card is posted: its thread and the job's link to it, in one transaction."""
        now = utcnow()
        with self.db.conn:
            self.db.execute("UPDATE jobs SET thread_ts = ? WHERE id = ?", [key.thread_ts, job_id])
            self.db.execute(
                "INSERT OR IGNORE INTO threads (team_id, channel_id, thread_ts, created_by, prompt, last_image_id, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
                [key.team_id, key.channel_id, key.thread_ts, created_by, prompt, now, now])

    def interrupt_running_jobs(self, owned: set[int] | frozenset[int] = frozenset()) -> list[JobRecord]:
        """Mark every job left `running` by a process that died (not in `owned`) as interrupted; return them."""
        jobs = [job for job in self.jobs_with_status("running") if job.id not in owned]
        for job in jobs:
            self.finish_job(job.id, "interrupted", error_code="interrupted",
                            error_message="imagebot stopped while this request was running")
        return jobs

    # spend -------------------------------------------------------------------------------------------
    def spend(self, team_id: str, start: str, end: str, *, user_id: str | None = None,
              channel_id: str | None = None) -> int:
        """Micro-dollars the ledger records for the team (or one user, or one channel) in [start, end)."""
        return reports.spend(self.db, reports.Scope(team_id, start, end, channel_id=channel_id, user_id=user_id))

    def spend_with_estimates(self, team_id: str, start: str, end: str, *, user_id: str | None = None,
                             channel_id: str | None = None) -> tuple[int, reports.Estimated]:
        """`spend`, and the part of it counted at estimate (calls that may have been billed, cost unknown)."""
        return reports.spend_with_estimates(self.db, reports.Scope(team_id, start, end, channel_id=channel_id,
                                                                   user_id=user_id))

    # budgets, policies, alerts, audit -----------------------------------------------------------------
    def budget_overrides(self, team_id: str) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM budgets WHERE team_id = ?", [team_id]))

    def set_budget(self, team_id: str, scope: str, target: str, period: str, limit_micro: int | None,
                   set_by: str) -> None:
        self.db["budgets"].upsert({"team_id": team_id, "scope": scope, "target": target, "period": period,
                                   "limit_micro": limit_micro, "set_by": set_by, "set_at": utcnow()},
                                  pk=("team_id", "scope", "target", "period"))

    def get_policy(self, team_id: str, channel_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM policies WHERE team_id = ? AND channel_id = ?", [team_id, channel_id]))
        if not rows:
            return None
        row = dict(rows[0])
        row["allowed_models"] = json.loads(row["allowed_models"]) if row["allowed_models"] else None
        return row

    def set_policy(self, team_id: str, channel_id: str, *, max_quality: str | None, max_n: int | None,
                   allowed_models: list[str] | None, set_by: str) -> None:
        self.db["policies"].upsert({"team_id": team_id, "channel_id": channel_id, "max_quality": max_quality,
                                    "max_n": max_n,
                                    "allowed_models": json.dumps(allowed_models) if allowed_models else None,
                                    "set_by": set_by, "set_at": utcnow()}, pk=("team_id", "channel_id"))

    def record_alert(self, team_id: str, scope: str, target: str, period: str, period_start: str,
                     threshold: int) -> bool:
        """Note that an alert was sent; False if it had been already (each is sent once per period)."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO alerts (team_id, scope, target, period, period_start, threshold, sent_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", [team_id, scope, target, period, period_start, threshold, utcnow()])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def audit(self, team_id: str, user_id: str, action: str, details: dict[str, Any]) -> None:
        self.db["audit"].insert({"created_at": utcnow(), "team_id": team_id, "user_id": user_id, "action": action,
                                 "details": json.dumps(details)})

    # per-workspace settings ---------------------------------------------------------------------------
    def team_report_channel(self, team_id: str) -> str | None:
        row = self.db.execute("SELECT report_channel FROM team_settings WHERE team_id = ?", [team_id]).fetchone()
        return row[0] if row and row[0] else None

    def set_team_report_channel(self, team_id: str, channel_id: str | None, set_by: str) -> None:
        with self.db.conn:
            self.db["team_settings"].upsert({"team_id": team_id, "report_channel": channel_id, "updated_by": set_by,
                                             "updated_at": utcnow()}, pk="team_id")

    # scheduled reports --------------------------------------------------------------------------------
    def claim_report_slot(self, schedule: str, slot: str) -> bool:
        """Claim a scheduled report's slot; False if it was claimed (posted) before, by this or an earlier run."""
        cursor = self.db.execute("INSERT OR IGNORE INTO report_runs (schedule, slot, posted_at) VALUES (?, ?, ?)",
                                 [schedule, slot, utcnow()])
        self.db.conn.commit()
        return cursor.rowcount == 1

    def release_report_slot(self, schedule: str, slot: str) -> None:
        """Give a claim back after a post failed, so the next tick tries again."""
        with self.db.conn:
            self.db.execute("DELETE FROM report_runs WHERE schedule = ? AND slot = ?", [schedule, slot])

    # versions ----------------------------------------------------------------------------------------
    def add_versions(self, key: ThreadKey, image_ids: list[str], *, parent_image_id: str | None,
                     job_id: int | None) -> list[str]:
        """Label a call's images with the thread's next version number (v3, or v3a, v3b… for several)."""
        with self.db.conn:
            row = self.db.execute("SELECT COALESCE(MAX(number), 0) FROM versions WHERE team_id = ? AND "
                                  "channel_id = ? AND thread_ts = ?",
                                  [key.team_id, key.channel_id, key.thread_ts]).fetchone()
            number = int(row[0]) + 1
            labels = [f"v{number}"] if len(image_ids) == 1 else [
                f"v{number}{chr(ord('a') + i)}" for i in range(len(image_ids))]
            now = utcnow()
            for label, image_id in zip(labels, image_ids, strict=True):
                self.db.execute(
                    "INSERT INTO versions (team_id, channel_id, thread_ts, label, number, image_id, parent_image_id, "
                    "job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [key.team_id, key.channel_id, key.thread_ts, label, number, image_id, parent_image_id, job_id,
                     now])
        return labels

    def versions(self, key: ThreadKey) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT * FROM versions WHERE team_id = ? AND channel_id = ? AND thread_ts = ? ORDER BY number, label",
            [key.team_id, key.channel_id, key.thread_ts]))

    def version_of(self, key: ThreadKey, image_id: str) -> dict[str, Any] | None:
        """The (latest) version row showing this image in the thread."""
        rows = list(self.db.query(
            "SELECT * FROM versions WHERE team_id = ? AND channel_id = ? AND thread_ts = ? AND image_id = ? "
            "ORDER BY number DESC LIMIT 1", [key.team_id, key.channel_id, key.thread_ts, image_id]))
        return rows[0] if rows else None

    def version(self, key: ThreadKey, label: str) -> dict[str, Any] | None:
        rows = list(self.db.query(
            "SELECT * FROM versions WHERE team_id = ? AND channel_id = ? AND thread_ts = ? AND label = ?",
            [key.team_id, key.channel_id, key.thread_ts, label.lower()]))
        return rows[0] if rows else None
