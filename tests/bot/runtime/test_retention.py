"""IMAGEBOT_RETENTION_DAYS through the real app: files pruned on start-up and by the sweep, rows and ledger kept,
and a thread whose image was pruned says so (replies and buttons alike) without calling or charging anything."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace
from storage.records import ThreadKey
from storage.store import Store
from tests.conftest import WorkspaceFactory
from tests.slack_views import png

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"


def age_images(store: Store, days: int) -> None:
    old = (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")
    with store.db.conn:
        store.db.execute("UPDATE images SET created_at = ?", [old])


async def start(slack: SlackStandIn, workspace: LocalWorkspace, text: str) -> str:
    await slack.send_command(ALICE, CHANNEL, text)
    await workspace.settle()
    return [m for m in slack.messages(CHANNEL) if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]][-1]["ts"]


async def reply(slack: SlackStandIn, workspace: LocalWorkspace, thread_ts: str, text: str,
                files: tuple[tuple[str, bytes, str], ...] = ()) -> str:
    await slack.post_message(ALICE, CHANNEL, text, thread_ts=thread_ts, files=files)
    await workspace.settle()
    return last_said(slack, thread_ts)


def last_said(slack: SlackStandIn, thread_ts: str) -> str:
    said = [m for m in slack.thread(CHANNEL, thread_ts)
            if m.get("bot_id") and not m.get("text", "").startswith("What next for")]
    return str(said[-1].get("text", ""))


async def press(slack: SlackStandIn, workspace: LocalWorkspace, thread_ts: str, version: str, action: str) -> None:
    """Click a result button (Retry, Undo, Use this one, Make it high quality, Variations) under `version`."""
    message, block, button = next((m, block, b) for m in slack.thread(CHANNEL, thread_ts)
                                  for block in m.get("blocks") or []
                                  if block.get("type") == "actions" and f":{version}:" in block.get("block_id", "")
                                  for b in block["elements"] if b["action_id"] == action)
    payload: dict[str, Any] = {
        "type": "block_actions", "user": {"id": ALICE, "team_id": slack.team_id}, "team": {"id": slack.team_id},
        "channel": {"id": CHANNEL}, "trigger_id": f"t-{len(slack.calls)}",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL, "thread_ts": thread_ts,
                      "is_ephemeral": False},
        "message": message, "response_url": slack.new_response_url(ALICE, CHANNEL),
        "actions": [{"action_id": action, "value": button["value"], "type": "button", "block_id": block["block_id"],
                     "action_ts": "1.0"}]}
    assert (await slack.send_interaction(payload)).status == 200
    await workspace.settle()


async def test_a_thread_whose_image_was_pruned_says_so_and_nothing_is_called_or_charged(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(retention_days=30, user_requests_per_minute=100)
    services = workspace.services
    assert services is not None and services.retention is not None
    store = services.images.store
    thread_ts = await start(slack, workspace, "a lighthouse")
    await reply(slack, workspace, thread_ts, "make the sky purple")  # v2, from v1
    key = ThreadKey(slack.team_id, CHANNEL, thread_ts)
    await services.db(age_images, store, 31)

    assert await services.retention.prune() == 2
    images = await services.db(lambda: list(store.db.query("SELECT path, pruned_at FROM images")))
    assert len(images) == 2 and all(r["pruned_at"] and not store.files.exists(r["path"]) for r in images)
    assert len(await services.db(store.ledger_rows)) == 2  # the ledger keeps its rows
    thread = await services.db(store.get_thread, key)
    assert thread is not None and thread.last_image_id is not None  # and the thread its context
    calls = len(image_api.requests)

    said = await reply(slack, workspace, thread_ts, "make it red")
    assert "This thread's image (v2) was removed after 30 days" in said and "/image" in said
    assert "Something went wrong" not in said
    assert "(v1) was removed after 30 days" in await reply(slack, workspace, thread_ts, "use v1")
    assert "(v2) was removed" in await reply(slack, workspace, thread_ts, "grid")
    await press(slack, workspace, thread_ts, "v2", "imagebot_undo")  # back to v1: gone too
    assert "(v1) was removed after 30 days" in last_said(slack, thread_ts)
    await press(slack, workspace, thread_ts, "v2", "imagebot_variations")  # an edit of v1
    assert "(v1) was removed after 30 days" in last_said(slack, thread_ts)
    assert len(image_api.requests) == calls  # no image API call
    assert len(await services.db(store.ledger_rows)) == 2  # and nothing charged

    await press(slack, workspace, thread_ts, "v1", "imagebot_retry")  # a generation needs no old image: v3
    note = await reply(slack, workspace, thread_ts, "make it red")  # and the thread can be edited again
    assert "*v4* (from v3)" in note and len(image_api.requests) == calls + 2


async def test_an_image_posted_on_its_own_gives_a_pruned_thread_a_new_start(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(retention_days=7)
    services = workspace.services
    assert services is not None and services.retention is not None
    thread_ts = await start(slack, workspace, "a lighthouse")
    await services.db(age_images, services.images.store, 8)
    await services.retention.prune()
    assert "removed after 7 days" in await reply(slack, workspace, thread_ts, "make it red")

    await reply(slack, workspace, thread_ts, "", files=(("photo.png", png("green"), "image/png"),))
    note = await reply(slack, workspace, thread_ts, "make it red")
    assert "(from v2)" in note and len(image_api.requests) == 2


async def test_start_up_prunes_what_is_older_than_the_limit(
        slack: SlackStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()  # no retention: nothing is ever pruned (only stray files are swept)
    assert first.services is not None and first.services.retention is not None
    assert first.services.retention.days is None
    await start(slack, first, "a lighthouse")
    await start(slack, first, "a fox")
    data_dir = first.settings.data_dir
    await first.stop()
    with closing(sqlite3.connect(data_dir / "imagebot.db")) as db, db:
        newest = db.execute("SELECT MAX(created_at) FROM images").fetchone()[0]
        old = (datetime.now(UTC) - timedelta(days=3)).isoformat(timespec="milliseconds")
        db.execute("UPDATE images SET created_at = ? WHERE created_at < ?", [old, newest])
    files_before = sorted(p.name for p in (data_dir / "images").rglob("*.png"))
    assert len(files_before) == 2

    second = await workspace_factory(retention_days=2)
    assert second.services is not None and second.services.retention is not None
    await asyncio.wait_for(second.services.retention.swept.wait(), timeout=30)  # the sweep runs on start-up
    store = second.services.images.store
    rows = await second.services.db(lambda: list(store.db.query("SELECT id, pruned_at FROM images ORDER BY "
                                                                  "created_at")))
    assert [r["pruned_at"] is not None for r in rows] == [True, False]
    assert sorted(p.name for p in (data_dir / "images").rglob("*.png")) == [f"{rows[1]['id']}.png"]


async def test_a_file_a_crash_left_unrecorded_is_swept_on_start_up_with_or_without_retention(
        slack: SlackStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    await start(slack, first, "a lighthouse")
    data_dir = first.settings.data_dir
    store = first.services.images.store if first.services else None
    assert store is not None
    await first.stop()
    # As if the process died between writing an image file and recording it, a day and more ago.
    digest, stray = store.files.put(png("white"), "png")
    old = (datetime.now(UTC) - timedelta(days=2)).timestamp()
    os.utime(store.files.root / stray, (old, old))
    kept = sorted(p.name for p in (data_dir / "images").rglob("*.png") if p.name != f"{digest}.png")

    second = await workspace_factory()  # no IMAGEBOT_RETENTION_DAYS
    assert second.services is not None and second.services.retention is not None
    await asyncio.wait_for(second.services.retention.swept.wait(), timeout=30)  # the sweep runs on start-up
    assert sorted(p.name for p in (data_dir / "images").rglob("*.png")) == kept  # the recorded image stays
    assert len(kept) == 1
