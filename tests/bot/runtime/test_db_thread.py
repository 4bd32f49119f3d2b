"""bot/runtime/db_thread.py: the database thread (order, errors, work whose caller left, results handed back in
batches) and the handshake that keeps a job from being recorded behind an ack that said it was not."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.errors import StorageUnavailable
from bot.runtime.db_thread import SETTLE_AT_ONCE, DbThread, Ticket, in_time
from storage.store import Store


def test_a_ticket_is_decided_once_by_whichever_side_comes_first() -> None:
    later = time.monotonic() + 3600
    committed = Ticket(later)
    assert committed.commit() and not committed.abandon()  # committing: the listener waits for its answer
    abandoned = Ticket(later)
    assert abandoned.abandon() and not abandoned.commit()  # the listener left: the db thread rolls back
    expired = Ticket(time.monotonic() - 1)
    assert expired.remaining() == 0 and not expired.commit() and expired.abandon()


# The database thread itself: order, errors, work whose caller left, results handed back in batches.

@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[DbThread]:
    thread = DbThread(Store.open(tmp_path))
    yield thread
    await thread.close()


def blocked(db: DbThread) -> tuple[threading.Event, threading.Event, Callable[[], str]]:
    """Work that holds the db thread until `release` is set; `busy` is set once it runs."""
    busy, release = threading.Event(), threading.Event()

    def hold() -> str:
        busy.set()
        release.wait(30)
        return "held"

    return busy, release, hold


@pytest.mark.anyio
async def test_work_runs_on_one_other_thread_in_the_order_asked(db: DbThread) -> None:
    seen: list[tuple[int, str]] = []

    def note(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * i

    assert await asyncio.gather(*(db(note, i) for i in range(50))) == [i * i for i in range(50)]
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"imagebot-db"}


@pytest.mark.anyio
async def test_an_error_on_the_thread_is_raised_to_its_caller_only(db: DbThread) -> None:
    def fail() -> None:
        raise sqlite3.IntegrityError("UNIQUE constraint failed: jobs.dedupe_key")

    def stop() -> None:
        raise StopIteration

    results = await asyncio.gather(db(fail), db(lambda: 7), db(stop), return_exceptions=True)
    assert isinstance(results[0], sqlite3.IntegrityError) and results[1] == 7
    assert isinstance(results[2], RuntimeError) and "StopIteration" in str(results[2])


@pytest.mark.anyio
async def test_work_whose_caller_stopped_waiting_before_it_began_never_runs(db: DbThread) -> None:
    busy, release, hold = blocked(db)
    ran: list[str] = []
    holding = asyncio.ensure_future(db(hold))
    await asyncio.to_thread(busy.wait, 30)
    with pytest.raises(StorageUnavailable):  # its deadline passes while the thread is busy
        await in_time(db(ran.append, "late"), time.monotonic())
    cancelled = asyncio.ensure_future(db(ran.append, "cancelled"))
    await asyncio.sleep(0)
    cancelled.cancel()
    release.set()
    assert await holding == "held"
    await db(ran.append, "after")  # done in order: the two before it were skipped, not still to come
    assert ran == ["after"] and cancelled.cancelled()


@pytest.mark.anyio
async def test_work_already_running_when_its_caller_leaves_is_finished(db: DbThread) -> None:
    busy, release, hold = blocked(db)
    written: list[str] = []

    def hold_then_write() -> None:
        hold()
        written.append("kept")

    leaving = asyncio.ensure_future(db(hold_then_write))
    await asyncio.to_thread(busy.wait, 30)
    leaving.cancel()
    release.set()
    await db(lambda: None)
    assert written == ["kept"] and leaving.cancelled()


def hold_the_loop_until_handed_back(db: DbThread, loop: asyncio.AbstractEventLoop, count: int) -> None:
    """Called on the loop, on purpose: it cannot settle anything until the thread has handed back `count` results."""
    deadline = time.monotonic() + 30
    while len(db._handback._ready.get(loop, [])) < count and time.monotonic() < deadline:
        time.sleep(0.001)


@pytest.mark.anyio
async def test_results_ready_together_wake_the_loop_once(db: DbThread) -> None:
    loop = asyncio.get_running_loop()
    wakes: list[object] = []
    original = loop.call_soon_threadsafe

    def counted(callback: Callable[..., object], *args: object, **kwargs: Any) -> asyncio.Handle:
        wakes.append(callback)
        return original(callback, *args, **kwargs)

    busy, release, hold = blocked(db)
    holding = asyncio.ensure_future(db(hold))
    await asyncio.to_thread(busy.wait, 30)
    queued = [asyncio.ensure_future(db(lambda i=i: i)) for i in range(20)]
    await asyncio.sleep(0)  # all twenty are in the thread's queue behind the held one
    loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
    try:
        release.set()
        hold_the_loop_until_handed_back(db, loop, 21)
        assert await asyncio.gather(holding, *queued) == ["held", *range(20)]
    finally:
        del loop.call_soon_threadsafe
    assert len(wakes) == 1


@pytest.mark.anyio
async def test_a_closed_db_thread_takes_no_more_work(tmp_path: Path) -> None:
    db = DbThread(Store.open(tmp_path))
    assert await db(lambda: 1) == 1
    await db.close()
    assert db._thread is not None and not db._thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        await db(lambda: 2)


@pytest.mark.anyio
async def test_many_results_ready_at_once_are_settled_a_few_a_turn(tmp_path: Path) -> None:
    """So that the tasks they wake do not all run in the same turn of the event loop."""
    db = DbThread(Store.open(tmp_path))
    try:
        loop = asyncio.get_running_loop()
        busy, release, hold = blocked(db)
        holding = asyncio.ensure_future(db(hold))
        await asyncio.to_thread(busy.wait, 30)
        count = 3 * SETTLE_AT_ONCE + 5
        queued = [asyncio.ensure_future(db(lambda i=i: i)) for i in range(count)]
        await asyncio.sleep(0)
        release.set()
        hold_the_loop_until_handed_back(db, loop, count + 1)
        done_by_turn = []
        while not all(future.done() for future in queued) and len(done_by_turn) < 100:
            await asyncio.sleep(0)  # one turn of the loop
            done_by_turn.append(sum(future.done() for future in [holding, *queued]))
        steps = [after - before for before, after in zip([0, *done_by_turn], done_by_turn, strict=False)]
        assert max(steps) == SETTLE_AT_ONCE and sum(steps) == count + 1  # every one settled, a few a turn
        assert await asyncio.gather(*queued) == list(range(count))
        assert await db(lambda: "after") == "after"  # the thread wakes the loop again once the list is empty
    finally:
        await db.close()
