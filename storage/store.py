"""Store: the one object the rest of imagebot reads and writes its data through — SQLite rows and image files.

Each method is the function of the same name in the module that owns its tables, given this store's database
(and its image files where bytes are involved), so the modules stay plain functions over a database:

- storage/db.py        opening, the schema and its migrations, the write lock, a read-only reader
- storage/threads.py   images, image threads, version labels
- storage/ledger.py    one row per image API call; what a thread has spent
- storage/jobs.py      requests as jobs, deduped, their lifecycle, one-use claims on them
- storage/controls.py  budgets, policies, the report channel, the audit; alerts and report slots sent once
- storage/spend.py   spend reports and budget sums over the ledger
- storage/posted.py  what imagebot posted in Slack and needs again: cards' last blocks, the files of each image
- storage/batches.py `/image batch`: batches at the provider, and their calls' ledger rows
The rows they take and return are in storage/records.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from storage import batches, controls, jobs, ledger, posted, threads
from storage import db as database
from storage import spend as sums
from storage.files import ImageFiles
from storage.records import (
    BatchRecord,
    ImageRecord,
    JobRecord,
    LedgerEntry,
    PostedFile,
    RecentImage,
    Spend,
    ThreadFacts,
    ThreadKey,
    ThreadRecord,
)


class Store:
    def __init__(self, db: Database, files: ImageFiles) -> None:
        self.db = db
        self.files = files

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        return cls(database.open_db(data_dir / "imagebot.db"), ImageFiles(data_dir / "images"))

    def reader(self) -> Database:
        return database.reader(self.db)

    def close(self) -> None:
        self.db.close()

    def check_writable(self) -> None:
        database.check_writable(self.db)

    def write_lock(self, wait: float | None = None) -> AbstractContextManager[None]:
        return database.write_lock(self.db, wait)

    # images, threads, versions ----------------------------------------------------------------------------------
    def save_image(self, data: bytes, fmt: str, *, origin: str, key: ThreadKey, parent_id: str | None = None,
                   width: int | None = None, height: int | None = None) -> ImageRecord:
        return threads.save_image(self.db, self.files, data, fmt, origin=origin, key=key, parent_id=parent_id,
                                  width=width, height=height)

    def record_image(self, digest: str, relative: str, size: int, fmt: str, *, origin: str, key: ThreadKey,
                     parent_id: str | None = None, width: int | None = None,
                     height: int | None = None) -> ImageRecord:
        return threads.record_image(self.db, self.files, digest, relative, size, fmt, origin=origin, key=key,
                                    parent_id=parent_id, width=width, height=height)

    def get_image(self, image_id: str) -> ImageRecord:
        return threads.get_image(self.db, image_id)

    def image_bytes(self, image_id: str) -> bytes:
        return threads.image_bytes(self.db, self.files, image_id)

    def start_thread(self, key: ThreadKey, *, created_by: str, prompt: str | None) -> ThreadRecord:
        return threads.start_thread(self.db, key, created_by=created_by, prompt=prompt)

    def get_thread(self, key: ThreadKey) -> ThreadRecord | None:
        return threads.get_thread(self.db, key)

    def set_last_image(self, key: ThreadKey, image_id: str) -> None:
        threads.set_last_image(self.db, key, image_id)

    def attach_thread(self, job_id: int, key: ThreadKey, *, created_by: str, prompt: str | None) -> None:
        threads.attach_thread(self.db, job_id, key, created_by=created_by, prompt=prompt)

    def add_versions(self, key: ThreadKey, image_ids: list[str], *, parent_image_id: str | None,
                     job_id: int | None) -> list[str]:
        return threads.add_versions(self.db, key, image_ids, parent_image_id=parent_image_id, job_id=job_id)

    def record_outcome(self, entry: LedgerEntry, *, ledger_id: int, image_ids: list[str],
                       parent_image_id: str | None) -> list[str]:
        """A call's images are kept: in one transaction its ledger row is completed, its images become the
        thread's next version, and the first of them the context of the next edit. The version labels."""
        with self.db.atomic():
            ledger.record_call(self.db, entry, ledger_id=ledger_id)
            labels = threads.add_versions(self.db, entry.key, image_ids, parent_image_id=parent_image_id,
                                          job_id=entry.job_id)
            threads.set_last_image(self.db, entry.key, image_ids[0])
        return labels

    def thread_facts(self, key: ThreadKey, image_ids: list[str], base_image_id: str | None) -> ThreadFacts:
        """What the footnote of a delivered call reads from the thread (records.ThreadFacts), in one read."""
        return ThreadFacts(spend=ledger.thread_spend(self.db, key),
                           labels=tuple(threads.label_of(self.db, key, i) for i in image_ids),
                           base_label=threads.label_of(self.db, key, base_image_id),
                           next_edit=threads.next_edit_label(self.db, key))

    def next_edit_label(self, key: ThreadKey) -> str | None:
        return threads.next_edit_label(self.db, key)

    def versions(self, key: ThreadKey) -> list[dict[str, Any]]:
        return threads.versions(self.db, key)

    def version_of(self, key: ThreadKey, image_id: str) -> dict[str, Any] | None:
        return threads.version_of(self.db, key, image_id)

    def version(self, key: ThreadKey, label: str) -> dict[str, Any] | None:
        return threads.version(self.db, key, label)

    # what was posted in Slack: cards, files -------------------------------------------------------------------
    def remember_card(self, key: ThreadKey, text: str, blocks: list[dict[str, Any]]) -> None:
        posted.remember_card(self.db, key, text, blocks)

    def posted_card(self, key: ThreadKey) -> tuple[str, list[dict[str, Any]]] | None:
        return posted.posted_card(self.db, key)

    def remember_files(self, key: ThreadKey, files: Iterable[PostedFile]) -> None:
        posted.remember_files(self.db, key, files)

    def drawn_file(self, key: ThreadKey, image_id: str) -> str | None:
        return posted.drawn_file(self.db, key, image_id)

    # ledger and spend -------------------------------------------------------------------------------------------
    def record_call(self, entry: LedgerEntry, *, ledger_id: int | None = None) -> int:
        return ledger.record_call(self.db, entry, ledger_id=ledger_id)

    def interrupt_pending_calls(self) -> int:
        return ledger.interrupt_pending_calls(self.db)

    def thread_spend(self, key: ThreadKey) -> Spend:
        return ledger.thread_spend(self.db, key)

    def ledger_rows(self, **where: Any) -> list[dict[str, Any]]:
        return ledger.ledger_rows(self.db, **where)

    def recent_images(self, team_id: str, user_id: str, limit: int = 5) -> list[RecentImage]:
        return ledger.recent_images(self.db, team_id, user_id, limit)

    def spend(self, team_id: str, start: str, end: str, *, user_id: str | None = None,
              channel_id: str | None = None) -> int:
        """Micro-dollars the ledger records for the team (or one user, or one channel) in [start, end)."""
        return sums.spend(self.db, sums.Scope(team_id, start, end, channel_id=channel_id, user_id=user_id))

    def spend_with_estimates(self, team_id: str, start: str, end: str, *, user_id: str | None = None,
                             channel_id: str | None = None) -> tuple[int, sums.Estimated]:
        """`spend`, and the part of it counted at estimate (calls that may have been billed, cost unknown)."""
        return sums.spend_with_estimates(self.db, sums.Scope(team_id, start, end, channel_id=channel_id,
                                                                   user_id=user_id))

    def spends_with_estimates(self, team_id: str,
                              windows: list[tuple[str, str, dict[str, str]]]) -> list[tuple[int, sums.Estimated]]:
        """Several `spend_with_estimates` at once: (start, end, {"user_id" or "channel_id": …}) each."""
        return [self.spend_with_estimates(team_id, start, end, **where) for start, end, where in windows]

    # jobs -------------------------------------------------------------------------------------------------------
    def create_job(self, **job: Any) -> tuple[JobRecord, bool]:
        return jobs.create_job(self.db, **job)

    def insert_job(self, *, dedupe_key: str, kind: str, team_id: str, channel_id: str, user_id: str,
                   payload: dict[str, Any], thread_ts: str | None = None, message_ts: str | None = None,
                   response_url: str | None = None, retry_of: int | None = None) -> tuple[JobRecord, bool]:
        return jobs.insert_job(self.db, dedupe_key=dedupe_key, kind=kind, team_id=team_id, channel_id=channel_id,
                               user_id=user_id, payload=payload, thread_ts=thread_ts, message_ts=message_ts,
                               response_url=response_url, retry_of=retry_of)

    def job_by_key(self, dedupe_key: str) -> JobRecord | None:
        return jobs.job_by_key(self.db, dedupe_key)

    def get_job(self, job_id: int) -> JobRecord | None:
        return jobs.get_job(self.db, job_id)

    def jobs_with_status(self, status: str) -> list[JobRecord]:
        return jobs.jobs_with_status(self.db, status)

    def count_jobs(self, status: str) -> int:
        return jobs.count_jobs(self.db, status)

    def count_recent_jobs(self, team_id: str, user_id: str, since: str) -> tuple[int, str | None]:
        return jobs.count_recent_jobs(self.db, team_id, user_id, since)

    def update_job(self, job_id: int, **fields: Any) -> None:
        jobs.update_job(self.db, job_id, **fields)

    def start_job(self, job_id: int) -> None:
        jobs.start_job(self.db, job_id)

    def finish_job(self, job_id: int, status: str, *, error_code: str | None = None,
                   error_message: str | None = None, result: dict[str, Any] | None = None) -> None:
        jobs.finish_job(self.db, job_id, status, error_code=error_code, error_message=error_message, result=result)

    def interrupt_running_jobs(self, owned: set[int] | frozenset[int] = frozenset()) -> list[JobRecord]:
        return jobs.interrupt_running_jobs(self.db, owned)

    def claim_reupload(self, job_id: int) -> bool:
        return jobs.claim_reupload(self.db, job_id)

    def settle_confirmation(self, job_id: int, answer: str, confirmed_key: str) -> bool:
        return jobs.settle_confirmation(self.db, job_id, answer, confirmed_key)

    def claim_rerun(self, job_id: int, rerun_key: str) -> bool:
        return jobs.claim_rerun(self.db, job_id, rerun_key)

    # batches (`/image batch`) ------------------------------------------------------------------------------------
    def create_batch(self, *, team_id: str, channel_id: str, user_id: str, model: str,
                     requests: Sequence[dict[str, Any]], estimate_micro: int | None) -> BatchRecord:
        return batches.create_batch(self.db, team_id=team_id, channel_id=channel_id, user_id=user_id, model=model,
                                    requests=requests, estimate_micro=estimate_micro)

    def get_batch(self, batch_id: int) -> BatchRecord | None:
        return batches.get_batch(self.db, batch_id)

    def batch_in_thread(self, key: ThreadKey) -> BatchRecord | None:
        return batches.batch_in_thread(self.db, key)

    def open_batches(self) -> list[BatchRecord]:
        return batches.open_batches(self.db)

    def update_batch(self, batch_id: int, **fields: Any) -> None:
        batches.update_batch(self.db, batch_id, **fields)

    def claim_batch(self, batch_id: int, from_status: str, to_status: str) -> bool:
        return batches.claim_batch(self.db, batch_id, from_status, to_status)

    def batch_submitted(self, batch_id: int, *, remote_id: str, input_file_id: str, entries: Sequence[LedgerEntry],
                        next_poll_at: str, poll_seconds: float) -> list[int]:
        return batches.submitted(self.db, batch_id, remote_id=remote_id, input_file_id=input_file_id,
                                 entries=entries, next_poll_at=next_poll_at, poll_seconds=poll_seconds)

    def batch_calls(self, batch_id: int) -> list[dict[str, Any]]:
        return batches.batch_calls(self.db, batch_id)

    def settle_batch_call(self, ledger_id: int, entry: LedgerEntry) -> None:
        batches.settle_batch_call(self.db, ledger_id, entry)

    def batch_unknown(self, batch_id: int, entries: Sequence[LedgerEntry], summary: dict[str, Any]) -> None:
        batches.batch_unknown(self.db, batch_id, entries, summary)

    def batch_given_up(self, batch_id: int, code: str, message: str, summary: dict[str, Any]) -> None:
        batches.batch_given_up(self.db, batch_id, code, message, summary)

    # budgets, policies, the report channel, audit; alerts and report slots --------------------------------------
    def budget_overrides(self, team_id: str) -> list[dict[str, Any]]:
        return controls.budget_overrides(self.db, team_id)

    def set_budget(self, team_id: str, scope: str, target: str, period: str, limit_micro: int | None,
                   set_by: str) -> None:
        controls.set_budget(self.db, team_id, scope, target, period, limit_micro, set_by)

    def get_policy(self, team_id: str, channel_id: str) -> dict[str, Any] | None:
        return controls.get_policy(self.db, team_id, channel_id)

    def set_policy(self, team_id: str, channel_id: str, *, max_quality: str | None, max_n: int | None,
                   allowed_models: list[str] | None, set_by: str) -> None:
        controls.set_policy(self.db, team_id, channel_id, max_quality=max_quality, max_n=max_n,
                            allowed_models=allowed_models, set_by=set_by)

    def audit(self, team_id: str, user_id: str, action: str, details: dict[str, Any]) -> None:
        controls.audit(self.db, team_id, user_id, action, details)

    def team_report_channel(self, team_id: str) -> str | None:
        return controls.team_report_channel(self.db, team_id)

    def set_team_report_channel(self, team_id: str, channel_id: str | None, set_by: str) -> None:
        controls.set_team_report_channel(self.db, team_id, channel_id, set_by)

    def record_alert(self, team_id: str, scope: str, target: str, period: str, period_start: str,
                     threshold: int) -> bool:
        return controls.record_alert(self.db, team_id, scope, target, period, period_start, threshold)

    def claim_report_slot(self, schedule: str, slot: str) -> bool:
        return controls.claim_report_slot(self.db, schedule, slot)

    def release_report_slot(self, schedule: str, slot: str) -> None:
        controls.release_report_slot(self.db, schedule, slot)
