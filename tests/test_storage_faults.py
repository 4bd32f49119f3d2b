"""A database that cannot take writes, through the real app over HTTP: a full disk (SQLite's max_page_count:
tests/storage/full_disk.py), another process holding the write lock, a db thread stuck on earlier work.

Every ack still comes at once, with a message; nothing reaches the image API that could not be recorded first;
no job is left `running`; and imagebot recovers on its own once space or the lock returns.

No timing: where an ack that waits would be the bug, the test holds the obstacle until the ack has arrived, so a
waiting ack deadlocks and the Slack stand-in's generous client timeout (30 s) fails the test.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.errors import StorageUnavailable
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from storage.records import ThreadKey
from storage.store import Store
from tests.conftest import WorkspaceFactory
from tests.handlers.listeners.test_views import state, submission
from tests.slack_views import card_text, cards
from tests.storage import full_disk

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE, BOB = "U0ALICE", "U0BOB"
CANT_SAVE = "can't save right now"
WAIT = 60.0  # a bound for anything the app does in the background, never a delay


async def on_db(workspace: LocalWorkspace, fn: Callable[[Store], Any]) -> Any:
    """`fn(store)` on the app's own db thread: the app shares one connection, and its PRAGMAs are per connection."""
    assert workspace.services is not None
    return await workspace.services.db(fn, workspace.services.images.store)


def jobs(store: Store) -> list[dict[str, Any]]:
    return list(store.db.query("SELECT * FROM jobs ORDER BY id"))


def told(slack: SlackStandIn, user: str) -> list[str]:
    """What the user was told privately about imagebot not saving."""
    return [e["text"] for e in slack.ephemerals(user_id=user) if CANT_SAVE in e["text"]]


def lock_out(workspace: LocalWorkspace) -> sqlite3.Connection:
    """Another process takes the database's write lock and keeps it until the test rolls back."""
    other = sqlite3.connect(workspace.settings.data_dir / "imagebot.db", timeout=10)
    other.execute("BEGIN EXCLUSIVE")
    return other


async def image_thread(slack: SlackStandIn, workspace: LocalWorkspace) -> str:
    assert (await slack.send_command(ALICE, CHANNEL, "a lighthouse")).response_text == ""
    await workspace.settle()
    return str(cards(slack)[-1]["ts"])


async def until(check: Callable[[], Any], timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := await check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"still not so after {timeout}s")
        await asyncio.sleep(0.02)
    return value


async def test_a_full_disk_is_told_in_the_ack_sends_nothing_and_passes_when_space_returns(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await image_thread(slack, workspace)
    await on_db(workspace, full_disk.fill)

    command = await slack.send_command(ALICE, CHANNEL, full_disk.LARGE)
    assert command.status == 200 and CANT_SAVE in command.response_text, command.response_text
    await slack.post_message(BOB, CHANNEL, full_disk.LARGE, thread_ts=thread_ts)  # an edit asked in the thread
    assert slack.deliveries[-1].status == 200
    await slack.wait_for(lambda: told(slack, BOB), timeout=WAIT)
    await workspace.settle()
    [job] = await on_db(workspace, jobs)  # the first image's: neither request became a job
    assert job["status"] == "done" and len(image_api.requests) == 1

    await on_db(workspace, full_disk.free)  # space is back: no restart needed
    assert (await slack.send_command(ALICE, CHANNEL, full_disk.LARGE)).response_text == ""
    await slack.post_message(BOB, CHANNEL, "make it night", thread_ts=thread_ts)
    await workspace.settle()
    assert [r["status"] for r in await on_db(workspace, jobs)] == ["done"] * 3
    assert len(image_api.requests) == 3


async def test_a_database_locked_by_another_process_is_told_to_try_again_without_waiting_for_the_lock(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await image_thread(slack, workspace)
    await slack.send_command(BOB, CHANNEL, "")  # the /image form, filled in below
    await workspace.settle()
    [form] = slack.views
    other = lock_out(workspace)
    try:  # held until the acks are in: an ack that waited for the lock would never come
        command = await slack.send_command(ALICE, CHANNEL, "a harbour")
        await slack.post_message(BOB, CHANNEL, "make it night", thread_ts=thread_ts)
        reply = slack.deliveries[-1]
        submitted = await slack.send_interaction(submission(slack, form, state("a fox in the snow"), user=BOB))
    finally:
        other.rollback()
        other.close()
    assert command.status == 200 and CANT_SAVE in command.response_text and "Try again" in command.response_text
    assert reply.status == 200 and reply.error is None and submitted.status == 200
    await slack.wait_for(lambda: len(told(slack, BOB)) == 2, timeout=WAIT)  # the reply's and the form's
    await on_db(workspace, lambda store: None)  # the db thread is past whatever the admissions left there
    assert len(await on_db(workspace, jobs)) == 1 and len(image_api.requests) == 1  # the first image's only

    assert (await slack.send_command(ALICE, CHANNEL, "a harbour")).response_text == ""  # the lock is gone
    await workspace.settle()
    assert [r["status"] for r in await on_db(workspace, jobs)] == ["done", "done"]
    assert len(image_api.requests) == 2


async def test_acks_do_not_wait_for_a_db_thread_stuck_on_earlier_work(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await image_thread(slack, workspace)
    chatter = await slack.post_message(ALICE, CHANNEL, "lunch?")  # a plain message: its thread is not imagebot's
    assert workspace.services is not None
    gate = threading.Event()
    stuck = asyncio.ensure_future(workspace.services.db(gate.wait, WAIT))  # earlier work, slow beyond the acks
    try:
        command = await slack.send_command(ALICE, CHANNEL, "a harbour")
        await slack.post_message(BOB, CHANNEL, "make it night", thread_ts=thread_ts)
        reply = slack.deliveries[-1]
        await slack.post_message(ALICE, CHANNEL, "yes, at noon", thread_ts=chatter["ts"])
        aside = slack.deliveries[-1]
    finally:
        gate.set()
    assert await stuck
    assert command.status == 200 and CANT_SAVE in command.response_text
    assert reply.status == 200 and aside.status == 200
    await workspace.settle()  # after the acks: the replies' threads are looked up, and only imagebot's answers
    assert len(told(slack, BOB)) == 1 and len(told(slack, ALICE)) == 1  # Alice's is the command's ack
    assert len(await on_db(workspace, jobs)) == 1 and len(image_api.requests) == 1  # nothing was taken late

    assert (await slack.send_command(ALICE, CHANNEL, "a harbour")).response_text == ""
    await workspace.settle()
    assert len(image_api.requests) == 2


async def test_jobs_whose_writes_are_refused_are_told_never_left_running_and_settled_once_the_lock_goes(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(max_concurrent=1)
    await on_db(workspace, lambda store: store.db.execute("PRAGMA busy_timeout = 100"))  # only to keep it quick
    image_api.pause()
    assert (await slack.send_command(ALICE, CHANNEL, "first")).response_text == ""
    await image_api.wait_for_waiting(1, timeout=WAIT)
    assert (await slack.send_command(BOB, CHANNEL, "second")).response_text == ""

    def announced(store: Store) -> bool:  # both cards are up: the second job waits for the one slot
        rows = jobs(store)
        return len(rows) == 2 and all(r["thread_ts"] for r in rows)

    await until(lambda: on_db(workspace, announced))

    other = lock_out(workspace)
    try:  # the first job's answer comes back to a database that takes no writes; the second's start is refused
        image_api.resume()
        await slack.wait_for(lambda: told(slack, ALICE) and told(slack, BOB), timeout=WAIT)
    finally:
        other.rollback()
        other.close()
    assert "could not finish" in told(slack, ALICE)[0] and "did not take" in told(slack, BOB)[0]
    assert len(image_api.requests) == 1  # the second never reached the image API
    # Neither card is left saying it is queued or working: each says no image came, and why.
    await workspace.settle()
    assert all("No image" in card_text(card) and CANT_SAVE in card_text(card) for card in cards(slack)), \
        [card_text(card) for card in cards(slack)]

    def settled(store: Store) -> list[dict[str, Any]]:
        rows = jobs(store)
        return rows if all(r["status"] not in ("queued", "running") for r in rows) else []

    rows = await until(lambda: on_db(workspace, settled))  # written in the background once the lock is gone
    assert [(r["status"], r["error_code"]) for r in rows] == [("failed", "storage_unavailable")] * 2
    assert all(r["finished_at"] for r in rows) and rows[1]["started_at"] is None

    assert (await slack.send_command(ALICE, CHANNEL, "third")).response_text == ""
    await workspace.settle()
    assert (await on_db(workspace, jobs))[-1]["status"] == "done" and len(image_api.requests) == 2


async def test_the_image_api_is_not_called_when_its_ledger_row_cannot_be_written_first(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    assert workspace.services is not None
    images = workspace.services.images
    key = ThreadKey(slack.team_id, CHANNEL, "1700000000.000100")
    await images.start_thread(key, user_id=ALICE, prompt=None)
    await on_db(workspace, full_disk.fill)
    with pytest.raises(StorageUnavailable):  # what a job tells its user as "can't save right now"
        await images.generate(key, ALICE, full_disk.LARGE, images.default_options)
    assert image_api.requests == [] and await on_db(workspace, lambda store: store.ledger_rows()) == []

    await on_db(workspace, full_disk.free)
    await images.generate(key, ALICE, full_disk.LARGE, images.default_options)
    assert len(image_api.requests) == 1



async def test_a_button_pressed_while_the_db_thread_is_stuck_is_acked_and_told_to_try_again(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    from handlers.ui import results as views
    from tests.handlers.test_reliability import button, press

    thread_ts = await image_thread(slack, workspace)
    result = next(m for m in slack.thread(CHANNEL, thread_ts)[1:] if button(m, views.RETRY))
    assert workspace.services is not None
    gate = threading.Event()
    stuck = asyncio.ensure_future(workspace.services.db(gate.wait, WAIT))  # earlier work, slow beyond the ack
    try:  # held until the ack is in: a press that waited for the db thread would never be acked
        pressed = await slack.send_interaction(press(slack, ALICE, result, views.RETRY))
    finally:
        gate.set()
    assert await stuck
    assert pressed.status == 200, pressed.status
    await slack.wait_for(lambda: told(slack, ALICE), timeout=WAIT)
    await workspace.settle()
    assert len(await on_db(workspace, jobs)) == 1 and len(image_api.requests) == 1  # nothing was taken late
