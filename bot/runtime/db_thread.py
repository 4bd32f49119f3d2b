"""The database thread, and how long anyone waiting on it may wait.

All SQLite work runs on one dedicated thread: the event loop never waits on the database, and SQLite sees one
writer at a time. An ack is different from other work: Slack wants it within 3 seconds
(https://api.slack.com/apis/events-api#responding), so the database work an ack needs is bounded by one deadline,
ACK_WAIT from when the listener began. A database that is full, failing or locked by another process — or a db
thread still busy with earlier work — then ends in StorageUnavailable, which the Slack edge answers with "try
again", instead of a 500 or an ack Slack has given up on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.errors import StorageUnavailable
from storage.faults import unavailable
from storage.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")
ACK_WAIT = 1.5  # seconds an ack may wait for the database, all its database work together
SETTLE_AT_ONCE = 16  # results of the db thread settled in one turn of the event loop (_Handback)
RETRY_FIRST, RETRY_MAX = 1.0, 60.0  # seconds between tries of a refused write: doubling, capped


def ack_deadline() -> float:
    """The time.monotonic() by which a listener starting now must be done with the database."""
    return time.monotonic() + ACK_WAIT


class DbThread:
    """All SQLite work on one dedicated thread. Image files are written elsewhere (they are large); rows here are
    small and quick.

    Work is done in the order it was asked for. Work whose caller stopped waiting (cancelled, or past its
    deadline: `in_time`) before the thread took it up is never run. An image costs about seventeen trips here, so
    a trip is kept light (issue 16): a plain queue in, and results handed back to the event loop in batches, one
    wake-up for all the results that are ready (`_Handback`). concurrent.futures' executor spent ~130 us of CPU a
    trip, ~50 us each when twenty were waiting; this ~95 and ~11 (measured on the 2-core VM, 2026-12-07).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None  # started by the first call: nothing runs when built
        self._closed = False
        self._handback = _Handback()
        self._retries: dict[asyncio.Task[None], str] = {}  # writes the database refused, being tried again

    async def __call__(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise RuntimeError("the database thread is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if self._thread is None:
            # A daemon: a process that never closes its DbThread (a test, a crash) still exits; SQLite's journal
            # makes a write cut off there as if it had never begun.
            self._thread = threading.Thread(target=self._run, name="imagebot-db", daemon=True)
            self._thread.start()
        self._queue.put(_Work(loop, future, functools.partial(fn, *args, **kwargs)))
        return await future

    def _run(self) -> None:
        while (work := self._queue.get()) is not None:
            if work.future.cancelled():  # its caller is gone: never begun, never run
                continue
            try:
                outcome: tuple[Any, BaseException | None] = (work.fn(), None)
            except BaseException as error:  # handed to the caller, as concurrent.futures does
                outcome = (None, error)
            self._handback.put(work.loop, work.future, outcome)

    async def attempt(self, fn: Callable[..., T], *args: Any, until: float | None = None, **kwargs: Any) -> T:
        """`fn` on the db thread for work whose user is waiting; see `in_time`."""
        return await in_time(self(fn, *args, **kwargs), until)

    def retry(self, what: str, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """A write the database refused (full, failing, locked) that must still be made, such as a job's final
        status: tried again in the background after RETRY_FIRST seconds, then at doubling intervals up to
        RETRY_MAX, until it is written or imagebot stops (what is left then, the next start's recovery settles)."""
        write = functools.partial(fn, *args, **kwargs)
        task = asyncio.get_running_loop().create_task(self._retry(what, write), name=f"retry {what}")
        self._retries[task] = what
        task.add_done_callback(self._retried)

    async def _retry(self, what: str, write: Callable[[], object]) -> None:
        delay = RETRY_FIRST
        while True:
            await asyncio.sleep(delay)
            try:
                await self.attempt(write)
            except StorageUnavailable as error:
                delay = min(delay * 2, RETRY_MAX)
                log.warning("still cannot write %s (%s); next try in %.0f s", what, error.__cause__, delay)
                continue
            log.info("wrote %s, now that the database takes writes again", what)
            return

    def _retried(self, task: asyncio.Task[None]) -> None:
        what = self._retries.pop(task)
        if not task.cancelled() and task.exception() is not None:  # not the database's state: a bug
            log.error("could not write %s", what, exc_info=task.exception())

    async def close(self) -> None:
        if self._retries:
            log.warning("stopping with %d write(s) the database refused, left to the next start: %s",
                        len(self._retries), ", ".join(self._retries.values()))
            for task in list(self._retries):
                task.cancel()
            await asyncio.gather(*self._retries, return_exceptions=True)
        await self(self.store.close)
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)  # after everything already asked for
            await asyncio.to_thread(self._thread.join)


class _Work:
    __slots__ = ("fn", "future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], fn: Callable[[], Any]) -> None:
        self.loop, self.future, self.fn = loop, future, fn


class _Handback:
    """Results from the database thread to the event loop that waits for them. The thread adds each result to its
    loop's list and wakes that loop only when the list was empty; the loop, once awake, settles the results listed
    by then, SETTLE_AT_ONCE a turn. Under load, one wake-up (a write to the loop's self-pipe) serves many results,
    and the tasks they wake share the loop with everything else: sixty job tasks woken in one turn each built a
    Slack call in the next, a 23 ms turn of the loop in a 200-burst (issue 16)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], tuple[Any, Any]]]] = {}

    def put(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], outcome: tuple[Any, Any]) -> None:
        with self._lock:
            ready = self._ready.setdefault(loop, [])
            ready.append((future, outcome))
            wake = len(ready) == 1
        if wake:
            try:
                loop.call_soon_threadsafe(self._settle, loop)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                with self._lock:
                    self._ready.pop(loop, None)

    def _settle(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            ready = self._ready.get(loop, [])
            now = ready[:SETTLE_AT_ONCE]
            del ready[:SETTLE_AT_ONCE]  # in place: the thread may be adding to this very list
            more = bool(ready)
            if not more:
                self._ready.pop(loop, None)  # the thread's next result starts a list and wakes the loop
        if more:
            loop.call_soon(self._settle, loop)  # the rest on the next turn
        for future, (result, error) in now:
            if future.done():  # cancelled while the thread ran it: the work is done, its caller left
                continue
            if error is None:
                future.set_result(result)
            elif isinstance(error, StopIteration):  # a Future cannot hold one
                future.set_exception(RuntimeError(f"StopIteration raised on the database thread: {error!r}"))
            else:
                future.set_exception(error)


async def in_time(work: Awaitable[T], until: float | None = None) -> T:
    """Await database work: StorageUnavailable if the database cannot do it now (full, failing, locked past the
    busy timeout) or, with `until` (a time.monotonic() deadline), has not done it by then. Work that has not begun
    by `until` never runs; work already running is left to finish, so bound only reads and idempotent writes this
    way (an admission decides for itself whether it still counts: Ticket)."""
    try:
        if until is None:
            return await work
        return await asyncio.wait_for(work, max(0.0, until - time.monotonic()))
    except TimeoutError as error:
        raise StorageUnavailable() from error
    except sqlite3.Error as error:
        if not unavailable(error):
            raise
        raise StorageUnavailable() from error


class Ticket:
    """One admission's deadline, shared by the listener waiting for it and the db thread doing it, so that exactly
    one of them decides: the db thread keeps the new job only if the listener is still waiting, and the listener
    gives up only if the db thread has not begun to commit. So a job is either recorded and started, or not
    recorded and its user told to try again — never recorded behind an ack that said otherwise."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._lock = threading.Lock()
        self._state = "open"  # open | committing | abandoned

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def commit(self) -> bool:
        """On the db thread, holding the write lock, before the work's writes: True if they may be kept (they are
        then committed, or the transaction fails and the listener is told so)."""
        with self._lock:
            if self._state == "open":
                self._state = "committing" if self.remaining() > 0 else "abandoned"
            return self._state == "committing"

    def abandon(self) -> bool:
        """The listener's time is up: True if the work will not be kept (it had not begun to commit)."""
        with self._lock:
            if self._state == "open":
                self._state = "abandoned"
            return self._state == "abandoned"
