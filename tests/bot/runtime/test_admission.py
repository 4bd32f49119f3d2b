"""bot/runtime/admission.py: admissions that arrive together share one db trip and one transaction, and each is
still decided as it would be alone (its own deadline, its dedupe key, the rate count)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.runtime.admission import Admissions, Asked, admit_all
from bot.runtime.db_thread import DbThread, Ticket
from storage.store import Store

HOUR = 3600.0


def new_job(key: str, user: str = "U0ALICE") -> dict[str, Any]:
    return dict(dedupe_key=key, kind="generate", team_id="T0", channel_id="C0", user_id=user,
                payload={"prompt": "a lighthouse"}, thread_ts=None, message_ts=None, response_url=None, retry_of=None)


def asked(key: str, *, deadline: float | None = None, per_minute: int = 100, user: str = "U0ALICE") -> Asked:
    return Asked(Ticket(time.monotonic() + HOUR if deadline is None else deadline), new_job(key, user), False,
                 per_minute)


def keys(store: Store) -> list[str]:
    return [row["dedupe_key"] for row in store.db.query("SELECT dedupe_key FROM jobs ORDER BY id")]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path)


def test_one_trip_decides_each_as_alone(store: Store) -> None:
    gone = asked("late", deadline=time.monotonic() - 1)  # its listener's deadline passed while it waited
    left = asked("left")
    assert left.ticket.abandon()  # its listener gave up before the trip reached it
    batch = [asked("a"), gone, asked("a"), left, asked("b", per_minute=2), asked("c", per_minute=2)]
    decisions = admit_all(store, batch)
    assert [status for status, _, _ in decisions] == [
        "accepted", "unavailable", "duplicate", "unavailable", "accepted", "rate_limited"]
    first, again = decisions[0][1], decisions[2][1]
    assert first is not None and again is not None and first.id == again.id  # a redelivery in the same trip
    assert decisions[5][2] is not None and decisions[5][2] > 0  # told how long to wait
    assert keys(store) == ["a", "b"]  # nothing kept for those not waiting, nor for the refused


def test_a_redelivery_of_a_job_already_written_is_found_before_the_lock(store: Store) -> None:
    admit_all(store, [asked("a")])
    [(status, job, _)] = admit_all(store, [asked("a")])
    assert status == "duplicate" and job is not None and keys(store) == ["a"]


@pytest.fixture
async def db(store: Store) -> AsyncIterator[DbThread]:
    thread = DbThread(store)
    yield thread
    await thread.close()


@pytest.mark.anyio
async def test_admissions_that_arrive_while_the_db_thread_is_busy_go_on_one_trip(db: DbThread) -> None:
    admissions = Admissions(db)
    busy, release = threading.Event(), threading.Event()

    def earlier_work() -> None:
        busy.set()
        release.wait(30)

    blocker = asyncio.ensure_future(db(earlier_work))
    await asyncio.to_thread(busy.wait, 30)
    first = asyncio.ensure_future(admissions.decide(Ticket(time.monotonic() + HOUR), new_job("k0"),
                                                    queue_full=False, per_minute=100))
    for _ in range(100):  # a few loop turns: the first admission's trip starts, and waits behind the earlier work
        if admissions.trips:
            break
        await asyncio.sleep(0)
    assert admissions.trips == 1
    rest = [asyncio.ensure_future(admissions.decide(Ticket(time.monotonic() + HOUR), new_job(f"k{i}"),
                                                    queue_full=False, per_minute=100)) for i in range(1, 9)]
    await asyncio.sleep(0)
    release.set()
    decisions = await asyncio.gather(first, *rest)
    await blocker
    assert [status for status, _, _ in decisions] == ["accepted"] * 9
    assert admissions.trips == 2  # the first alone, the eight that came meanwhile together
    assert keys(db.store) == [f"k{i}" for i in range(9)]


@pytest.mark.anyio
async def test_a_deadline_that_passes_while_the_job_is_being_committed_waits_for_its_answer(db: DbThread) -> None:
    """Once the db thread has begun to commit, the listener's deadline does not turn the job away: it is being
    written, so the ack must say it was taken. The insert is held (a trigger calling a function that waits) until
    the deadline is past; then it goes on."""
    inserting, release = threading.Event(), threading.Event()

    def held() -> int:
        inserting.set()
        release.wait(30)
        return 0

    def hold_inserts() -> None:
        db.store.db.conn.create_function("held", 0, held)
        db.store.db.conn.execute("CREATE TEMP TRIGGER hold AFTER INSERT ON jobs BEGIN SELECT held(); END")

    await db(hold_inserts)
    ticket = Ticket(time.monotonic() + 0.2)
    decision = asyncio.ensure_future(Admissions(db).decide(ticket, new_job("k0"), queue_full=False, per_minute=100))
    try:
        await asyncio.to_thread(inserting.wait, 30)  # committing: Ticket.commit said yes before the insert
        async with asyncio.timeout(30):
            while ticket.remaining() > 0:  # noqa: ASYNC110 - the deadline passes, whatever the machine's speed
                await asyncio.sleep(0.05)
        for _ in range(20):  # the deadline's timer has had its turns
            await asyncio.sleep(0)
        assert not decision.done()
    finally:
        release.set()
    status, job, _ = await asyncio.wait_for(decision, 30)
    assert status == "accepted" and job is not None and keys(db.store) == ["k0"]
