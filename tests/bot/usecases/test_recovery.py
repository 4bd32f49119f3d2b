"""bot/usecases/recovery.py: which press may act on a job, and one rerun, one answer, one re-upload per button, on a
real SQLite through the real database thread and job queue."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.errors import StorageUnavailable
from bot.runtime.db_thread import DbThread
from bot.runtime.jobs import JobQueue, Limits, Outcome
from bot.usecases.recovery import Pressed, Recovery, Refused, job_id_of
from storage.records import JobRecord
from storage.store import Store

pytestmark = pytest.mark.anyio
TEAM, CHANNEL, THREAD, ALICE, BOB = "T1", "C1", "1.0", "U0ALICE", "U0BOB"
AT_HOME = Pressed(TEAM, CHANNEL, ALICE, THREAD, own_button=True)


class Runs:
    """The job handler: every job it is given is done at once, and kept."""

    def __init__(self) -> None:
        self.jobs: list[JobRecord] = []

    async def announce(self, job: JobRecord, ahead: int | None) -> JobRecord | None:
        return job

    async def run(self, job: JobRecord) -> Outcome:
        self.jobs.append(job)
        return Outcome("done")

    async def interrupted(self, job: JobRecord) -> None:
        pass

    async def tell(self, job: JobRecord, text: str, /) -> None:
        pass


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[DbThread]:
    thread = DbThread(Store.open(tmp_path))
    yield thread
    await thread.close()


@pytest.fixture
async def runs(db: DbThread) -> AsyncIterator[tuple[Recovery, Runs]]:
    jobs = JobQueue(db, Limits(max_concurrent=2, max_concurrent_per_user=2, max_queue=10, user_requests_per_minute=100))
    handler = Runs()
    jobs.bind(handler)
    yield Recovery(db, jobs), handler
    await jobs.shutdown(5)


async def job(db: DbThread, *, key: str = "command:1", **fields: Any) -> JobRecord:
    """A job as the queue leaves it: `fields` are its status, error_code, result… after the fact. On the db thread,
    like every other use of the database: a job the queue runs meanwhile uses the same connection."""
    made, _ = await db(db.store.create_job, dedupe_key=key, kind="generate", team_id=TEAM, channel_id=CHANNEL,
                       user_id=ALICE, payload={"prompt": "a lighthouse"}, thread_ts=THREAD, message_ts="1.1")
    if fields:
        await db(db.store.update_job, made.id, **fields)
    found = await db(db.store.get_job, made.id)
    assert found is not None
    return found


def test_a_button_value_names_a_job_only_as_a_short_run_of_ascii_digits() -> None:
    assert job_id_of("42") == 42 and job_id_of("9" * 18) == int("9" * 18)
    assert [job_id_of(v) for v in ("", "4a", "²", "-1", "9" * 19, " 4")] == [None] * 6


async def test_a_press_acts_only_on_its_own_users_job_asked_for_where_it_was_pressed(
        runs: tuple[Recovery, Runs], db: DbThread) -> None:
    recovery, _ = runs
    asked = await job(db)
    value = str(asked.id)
    assert await recovery.owned_job(value, AT_HOME, until=None) == asked
    assert await recovery.owned_job(str(asked.id + 1), AT_HOME, until=None) == Refused("unknown")
    assert await recovery.owned_job("9" * 40, AT_HOME, until=None) == Refused("unknown")
    elsewhere = {
        Pressed("T2", CHANNEL, ALICE, THREAD, True): "the request is another channel's",
        Pressed(TEAM, "C2", ALICE, THREAD, True): "the request is another channel's",
        Pressed(TEAM, CHANNEL, ALICE, "2.0", True): "the request is another thread's",
        Pressed(TEAM, CHANNEL, ALICE, THREAD, False): "not one of the message's buttons",
    }
    for pressed, why in elsewhere.items():
        assert await recovery.owned_job(value, pressed, until=None) == Refused("elsewhere", why)
    assert await recovery.owned_job(value, Pressed(TEAM, CHANNEL, BOB, THREAD, True), until=None) == Refused(
        "not_theirs", owner=ALICE)


async def test_an_interrupted_job_runs_again_once_however_often_it_is_pressed(runs: tuple[Recovery, Runs],
                                                                             db: DbThread) -> None:
    recovery, handler = runs
    cut = await job(db, status="interrupted", error_code="interrupted")
    admission = await recovery.run_again(cut, until=None)
    assert admission is not None and admission.status == "accepted" and admission.job is not None
    assert (admission.job.dedupe_key, admission.job.retry_of, admission.job.payload) == (
        f"rerun:{cut.id}", cut.id, cut.payload)
    assert await recovery.run_again(cut, until=None) is None  # pressed again: run again already
    done = await job(db, key="command:2", status="done")
    assert await recovery.run_again(done, until=None) is None  # not interrupted
    await recovery.jobs.wait_idle(5)
    assert [j.retry_of for j in handler.jobs] == [cut.id]


async def test_a_confirmation_is_answered_once(runs: tuple[Recovery, Runs], db: DbThread) -> None:
    recovery, _ = runs
    waiting = await job(db, status="failed", error_code="awaiting_confirmation")
    admission = await recovery.confirm(waiting, until=None)
    assert admission is not None and admission.job is not None
    assert admission.job.dedupe_key == f"confirmed:{waiting.id}" and admission.job.payload["confirmed"] is True
    answered = await db(db.store.get_job, waiting.id)
    assert answered is not None and answered.error_code == "confirmed"
    assert not await recovery.cancel(waiting, until=None) and await recovery.confirm(waiting, until=None) is None
    other = await job(db, key="command:2", status="failed", error_code="awaiting_confirmation")
    assert await recovery.cancel(other, until=None)
    assert await recovery.confirm(other, until=None) is None
    cancelled = await db(db.store.get_job, other.id)
    assert cancelled is not None and cancelled.error_code == "cancelled"


async def test_a_confirmation_refused_at_the_press_can_be_pressed_again(runs: tuple[Recovery, Runs],
                                                                       db: DbThread) -> None:
    recovery, handler = runs
    waiting = await job(db, status="failed", error_code="awaiting_confirmation")
    full = JobQueue(db, Limits(max_concurrent=1, max_concurrent_per_user=1, max_queue=0, user_requests_per_minute=100))
    full.bind(handler)
    refused = await Recovery(db, full).confirm(waiting, until=None)  # the queue was full when it was pressed
    assert refused is not None and refused.status == "queue_full" and refused.job is None
    await full.shutdown(5)
    again = await recovery.confirm(waiting, until=None)  # pressed again, once there is room
    assert again is not None and again.status == "accepted" and again.job is not None
    assert await recovery.confirm(waiting, until=None) is None  # and now it has been answered
    await recovery.jobs.wait_idle(5)
    assert [j.dedupe_key for j in handler.jobs] == [f"confirmed:{waiting.id}"]


async def test_an_upload_slack_refused_is_tried_again_once_per_refusal(runs: tuple[Recovery, Runs],
                                                                      db: DbThread) -> None:
    recovery, _ = runs
    result = {"images": ["f" * 64]}
    refused = await job(db, status="failed", error_code="upload_failed", result=result)
    assert await recovery.claim_reupload(refused, until=None)
    assert not await recovery.claim_reupload(refused, until=None)  # a redelivered click
    await recovery.reuploaded(refused, "refused", result)  # refused again: it may be pressed again
    assert await recovery.claim_reupload(refused, until=None)
    await recovery.reuploaded(refused, "done", result)
    done = await db(db.store.get_job, refused.id)
    assert done is not None and (done.status, done.result) == ("done", result)
    assert not await recovery.claim_reupload(refused, until=None)
    pruned = await job(db, key="command:2", status="failed", error_code="upload_failed", result=result)
    await recovery.reuploaded(pruned, "pruned", result)
    after = await db(db.store.get_job, pruned.id)
    assert after is not None and after.error_code == "image_pruned"


async def test_a_press_past_its_deadline_is_told_the_database_cannot_answer(runs: tuple[Recovery, Runs],
                                                                           db: DbThread) -> None:
    recovery, _ = runs
    cut = await job(db, status="interrupted", error_code="interrupted")
    gone = time.monotonic() - 1  # the ack's deadline has passed: no database work starts
    with pytest.raises(StorageUnavailable):
        await recovery.owned_job(str(cut.id), AT_HOME, until=gone)
    with pytest.raises(StorageUnavailable):
        await recovery.run_again(cut, until=gone)
    assert await recovery.run_again(cut, until=None) is not None  # the claim above was never made
