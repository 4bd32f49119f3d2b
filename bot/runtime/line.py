"""The line of jobs waiting for a slot, and the slots they take (bot/runtime/jobs.py's JobQueue runs the jobs).

At most `max_concurrent` jobs hold a slot at once and at most `max_concurrent_per_user` of one user; waiting jobs
start in arrival order (by job id), skipping only those whose user is at their own limit. When a slot frees, only
the first job in line that may now start is woken, and it wakes the next once it has its slot: waking every
waiting job to look (a Condition's notify_all) made 14,000-16,000 looks for a 200-burst at the default limits,
where this makes about 600 (issue 16).
"""

from __future__ import annotations

import asyncio
import bisect
import operator
from collections import Counter
from collections.abc import Callable

from storage.records import JobRecord

_id: Callable[[JobRecord], int] = operator.attrgetter("id")


class Line:
    def __init__(self, max_concurrent: int, max_concurrent_per_user: int) -> None:
        self.max_concurrent = max_concurrent
        self.max_concurrent_per_user = max_concurrent_per_user
        self.running = 0
        self.by_user: Counter[str] = Counter()
        self.waiting: list[JobRecord] = []  # in line, by id: the order they arrived in
        self._wakers: dict[int, asyncio.Future[None]] = {}  # the wake-ups of those waiting in take(), by id

    def join(self, job: JobRecord) -> int | None:
        """Put the job in line; return how many wait before it, or None if it can start at once."""
        place = bisect.bisect(self.waiting, job.id, key=_id)  # the end, but for a job recovered late
        self.waiting.insert(place, job)
        return None if self.is_next(job) else place

    def is_next(self, job: JobRecord) -> bool:
        first = self._first_startable()
        return first is not None and first.id == job.id  # by id: announce may return an updated record

    async def take(self, job: JobRecord) -> None:
        """Wait until the job is the first in line that may start, then take its slot."""
        while not self.is_next(job):
            waker = self._wakers[job.id] = asyncio.get_running_loop().create_future()
            try:
                await waker
            finally:
                self._wakers.pop(job.id, None)
        self._remove(job)
        self.running += 1
        self.by_user[job.user_id] += 1
        self._wake_next()  # the next in line may fit too

    def give_back(self, job: JobRecord) -> None:
        """The job's slot is free (it ended)."""
        self.running -= 1
        self.by_user[job.user_id] -= 1
        self._wake_next()

    def leave(self, job: JobRecord) -> None:
        """The job will not take a slot (now, or in this process): the next in line may start in its place."""
        self._remove(job)
        self._wake_next()

    def _first_startable(self) -> JobRecord | None:
        if self.running >= self.max_concurrent:
            return None
        for waiting in self.waiting:
            if self.by_user[waiting.user_id] < self.max_concurrent_per_user:
                return waiting
        return None

    def _remove(self, job: JobRecord) -> None:
        place = bisect.bisect_left(self.waiting, job.id, key=_id)
        while place < len(self.waiting) and self.waiting[place].id == job.id:
            del self.waiting[place]

    def _wake_next(self) -> None:
        """Wake the first job in line that may start, if it waits in take(); one still being announced comes to
        take() later and finds itself next."""
        first = self._first_startable()
        waker = self._wakers.get(first.id) if first is not None else None
        if waker is not None and not waker.done():
            waker.set_result(None)
