"""bot/runtime/line.py: jobs take their slots in arrival order within the limits, and a freed slot wakes only the
job that may take it (not every waiting job to look)."""

from __future__ import annotations

import asyncio

import pytest

from bot.runtime.line import Line
from storage.records import JobRecord

pytestmark = pytest.mark.anyio


def job(job_id: int, user: str) -> JobRecord:
    return JobRecord(id=job_id, dedupe_key=f"k{job_id}", kind="generate", status="queued", team_id="T0",
                     channel_id="C0", user_id=user, thread_ts=None, message_ts=None, response_url=None,
                     payload={}, result=None, error_code=None, retry_of=None, created_at="2026-12-07T00:00:00")


class Counted(Line):
    """The real Line, counting how often a job looks whether it is next."""

    looks = 0

    def is_next(self, job: JobRecord) -> bool:
        self.looks += 1
        return super().is_next(job)


async def turns(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_waiting_jobs_start_in_order_skipping_a_user_at_their_limit() -> None:
    line = Line(max_concurrent=2, max_concurrent_per_user=1)
    jobs = [job(1, "alice"), job(2, "alice"), job(3, "bob"), job(4, "carol")]
    assert [line.join(j) for j in jobs] == [None, 1, 2, 3]  # how many wait before each
    taken: list[int] = []

    async def take(j: JobRecord) -> None:
        await line.take(j)
        taken.append(j.id)

    tasks = [asyncio.create_task(take(j)) for j in jobs]
    await turns()
    assert taken == [1, 3]  # alice's second waits for her own slot; bob's starts beside her first
    line.give_back(jobs[0])
    await turns()
    assert taken == [1, 3, 2]  # alice's slot went to her next, first in line, ahead of carol
    line.give_back(jobs[2])
    await turns()
    assert taken == [1, 3, 2, 4] and line.running == 2 and not line.waiting
    await asyncio.gather(*tasks)


async def test_a_freed_slot_wakes_one_waiting_job_not_all_of_them() -> None:
    line = Counted(max_concurrent=1, max_concurrent_per_user=100)
    jobs = [job(i, f"U{i}") for i in range(1, 101)]
    for j in jobs:
        line.join(j)
    tasks = [asyncio.create_task(line.take(j)) for j in jobs]
    await turns()
    assert line.running == 1 and len(line.waiting) == 99
    line.looks = 0
    line.give_back(jobs[0])
    await turns()
    assert line.running == 1 and len(line.waiting) == 98  # the next one took it
    assert line.looks <= 4, f"{line.looks} looks for one freed slot"  # with every job looking: 99 or more
    for j in jobs[1:]:
        line.give_back(j)
        await turns(3)
    await asyncio.gather(*tasks)
    assert not line.waiting and line.running == 0


async def test_a_job_woken_for_a_slot_that_leaves_instead_lets_the_next_one_start() -> None:
    line = Line(max_concurrent=1, max_concurrent_per_user=1)
    first, second, third = job(1, "alice"), job(2, "bob"), job(3, "carol")
    for j in (first, second, third):
        line.join(j)
    await line.take(first)
    waiting = [asyncio.create_task(line.take(j)) for j in (second, third)]
    await turns()
    line.give_back(first)  # wakes bob's job, and only bob's
    waiting[0].cancel()  # which is cut short before it takes the slot (shutdown, or its task ended)
    with pytest.raises(asyncio.CancelledError):
        await waiting[0]
    assert line.running == 0 and not waiting[1].done()  # carol's still waits: nobody woke her yet
    line.leave(second)  # as JobQueue does for a job cut short in line
    await asyncio.wait_for(waiting[1], 30)
    assert line.running == 1 and line.by_user["carol"] == 1 and not line.waiting


async def test_a_job_recovered_after_newer_ones_waits_in_the_place_of_its_id() -> None:
    line = Line(max_concurrent=1, max_concurrent_per_user=1)
    assert line.join(job(5, "alice")) is None
    assert line.join(job(7, "bob")) == 1
    assert line.join(job(6, "carol")) == 1  # an older job joins late: it waits before the newer one
    assert [j.id for j in line.waiting] == [5, 6, 7]
