"""Recovering a request: run an interrupted one again, answer a confirmation, upload kept images again after Slack
refused them.

Each is good for one press however often its button is pressed: the claims are atomic in the store, and a new job is
deduped on the button's one use, so a redelivery, a click on a stale copy or a press after a restart finds the job
the first press made. The database work a press needs before its ack keeps to `until` (a time.monotonic() deadline:
the Slack edge's ack deadline), and ends in StorageUnavailable past it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bot.runtime.db_thread import DbThread
from bot.runtime.jobs import Admission, JobQueue
from storage.records import JobRecord

# A job id is a SQLite integer: a longer run of digits names no job, and must not reach SQLite, which refuses
# integers past 2**63 with an overflow.
MAX_ID_DIGITS = 18


@dataclass(frozen=True)
class Pressed:
    """Who pressed a button naming a job, and where."""

    team_id: str
    channel_id: str
    user_id: str
    thread_ts: str | None  # the thread of the pressed message
    own_button: bool  # one of the pressed message's own buttons (or an ephemeral message: it has no copy to check)


@dataclass(frozen=True)
class Refused:
    """Why a press may not act on the job it names: no such job, a job asked for elsewhere, or someone else's."""

    reason: Literal["unknown", "elsewhere", "not_theirs"]
    why: str = ""  # elsewhere: what does not match, for the log
    owner: str = ""  # not_theirs: who asked for it


def job_id_of(value: str) -> int | None:
    """The job a button's value names; None for a value no job id could be (str.isdigit() also passes '²')."""
    return int(value) if value.isascii() and value.isdigit() and len(value) <= MAX_ID_DIGITS else None


def confirmed_key(job: JobRecord) -> str:
    """The dedupe key of the request a confirmation's "Generate" makes: one per confirmation."""
    return f"confirmed:{job.id}"


def elsewhere(job: JobRecord, pressed: Pressed) -> str | None:
    """What shows the job was not asked for where its button was pressed (None: it was): its workspace and channel,
    its thread, the button one of the message's own."""
    if (pressed.team_id, pressed.channel_id) != (job.team_id, job.channel_id):
        return "the request is another channel's"
    if job.thread_ts is not None and pressed.thread_ts != job.thread_ts:
        return "the request is another thread's"
    if not pressed.own_button:
        return "not one of the message's buttons"
    return None


class Recovery:
    """The recovery buttons' use cases, over the database thread and the job queue."""

    def __init__(self, db: DbThread, jobs: JobQueue) -> None:
        self.db = db
        self.store = db.store
        self.jobs = jobs

    async def owned_job(self, value: str, pressed: Pressed, *, until: float | None) -> JobRecord | Refused:
        """The job a button's value names, if it was asked for where the button was pressed and by the presser."""
        number = job_id_of(value)
        job = await self.db.attempt(self.store.get_job, number, until=until) if number is not None else None
        if job is None:
            return Refused("unknown")
        why = elsewhere(job, pressed)
        if why is not None:
            return Refused("elsewhere", why)
        if pressed.user_id != job.user_id:
            return Refused("not_theirs", owner=job.user_id)
        return job

    async def run_again(self, job: JobRecord, *, until: float | None) -> Admission | None:
        """One press, one rerun of an interrupted job: None if it was run again already."""
        key = f"rerun:{job.id}"
        if not await self.db.attempt(self.store.claim_rerun, job.id, key, until=until):
            return None
        return await self._resubmit(job, job.payload, key, until)

    async def confirm(self, job: JobRecord, *, until: float | None) -> Admission | None:
        """The confirmed request, made now: None if its confirmation was answered already."""
        key = confirmed_key(job)
        if not await self.db.attempt(self.store.settle_confirmation, job.id, "confirmed", key, until=until):
            return None
        return await self._resubmit(job, {**job.payload, "confirmed": True}, key, until)

    async def cancel(self, job: JobRecord, *, until: float | None) -> bool:
        """The request is not made: False if its confirmation was answered already (a "confirmed" the press could
        not make a request of may still be cancelled)."""
        return await self.db.attempt(self.store.settle_confirmation, job.id, "cancelled", confirmed_key(job),
                                     until=until)

    async def claim_reupload(self, job: JobRecord, *, until: float | None) -> bool:
        """Take a job whose upload Slack refused for one more try: False for a redelivered click, or uploaded
        already (one upload per refusal)."""
        return await self.db.attempt(self.store.claim_reupload, job.id, until=until)

    async def reuploaded(self, job: JobRecord, outcome: Literal["done", "pruned", "refused"],
                         result: dict[str, Any]) -> None:
        """What became of the upload tried again: done, its image pruned by retention meanwhile, or refused again
        (it may be pressed again)."""
        if outcome == "done":
            await self.db(self.store.finish_job, job.id, "done", result=result)
        else:
            code = "image_pruned" if outcome == "pruned" else "upload_failed"
            await self.db(self.store.update_job, job.id, error_code=code)

    async def _resubmit(self, job: JobRecord, payload: dict[str, Any], dedupe_key: str,
                        until: float | None) -> Admission:
        """A new job for the same request, in the same thread; `dedupe_key` names the button's one use."""
        return await self.jobs.submit(
            dedupe_key=dedupe_key, kind=job.kind, team_id=job.team_id, channel_id=job.channel_id,
            user_id=job.user_id, payload=payload, thread_ts=job.thread_ts, message_ts=job.message_ts,
            retry_of=job.id, deadline=until)
