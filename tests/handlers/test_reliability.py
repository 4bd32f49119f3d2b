"""Reliability through the real app: requests as durable jobs, exactly once from Slack's side, shutdown and
restart, limits and fairness, and faults on either wire. Every scenario ends with each request answered by
an image or a message.

The image API stand-in's pause gate (`image_api.pause()`) freezes jobs at the image API, so a test can look at
the app while calls are in flight, with no sleeps: waits are on recorded state, bounded and generous.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.providers.image_api import ImageAPI
from bot.providers.targets import OpenAITarget
from bot.runtime.services import Services
from bot.settings import Settings
from handlers.app import EVENTS_PATH
from handlers.delivery.jobs import generate_payload
from imagebot.compose import Imagebot
from standins.images_api import ImageAPIStandIn
from standins.slack import Delivery, SlackStandIn
from standins.workspace import LocalWorkspace, settings_for
from storage.store import Store
from tests.conftest import Sleeps, WorkspaceFactory
from tests.slack_views import bot_replies, card_text, cards, image_replies

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE = "U0ALICE"
BOB = "U0BOB"
RUN_AGAIN = "imagebot_run_again"
UPLOAD_AGAIN = "imagebot_upload_again"
WAIT = 60.0  # a bound for anything the app does in the background, never a delay


# what Slack shows ---------------------------------------------------------------------------------------








def button(message: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("type") == "button" and element.get("action_id") == action_id:
                return element
    return None


def notices(slack: SlackStandIn, thread_ts: str, action_id: str) -> list[dict[str, Any]]:
    """The bot's messages in a thread that carry a button with `action_id`."""
    return [m for m in bot_replies(slack, thread_ts) if button(m, action_id)]


def first_statuses(slack: SlackStandIn) -> dict[str, str]:
    """The status line each /image card was first posted with, by prompt."""
    found = {}
    for call in slack.calls_to("chat.postMessage"):
        text, blocks = call.params.get("text") or "", call.json_param("blocks") or []
        if call.status == 200 and " asked for an image: " in text and len(blocks) == 3:
            found[text.split(": ", 1)[1]] = blocks[2]["elements"][0]["text"]
    return found


# what imagebot keeps ------------------------------------------------------------------------------------
def job_rows(store: Store) -> list[dict[str, Any]]:
    return list(store.db.query("SELECT * FROM jobs ORDER BY id"))


@dataclasses.dataclass
class Records:
    """imagebot's rows, read on its own database thread: the app shares one SQLite connection, so a test reading
    it from the event loop's thread while jobs write would race them."""

    workspace: LocalWorkspace

    async def run(self, fn: Callable[[Store], Any]) -> Any:
        services = self.workspace.services
        assert services is not None, "the workspace is stopped: open the store directly"
        return await services.db(fn, services.images.store)

    async def jobs(self) -> list[dict[str, Any]]:
        return await self.run(job_rows)

    async def ledger(self) -> list[dict[str, Any]]:
        return await self.run(lambda store: store.ledger_rows())

    async def image_path(self, image_id: str) -> Path:
        return await self.run(lambda store: store.files.root / store.get_image(image_id).path)


def answered(slack: SlackStandIn, job: dict[str, Any]) -> str | None:
    """How the user learnt what came of a job: "image", "message" (in its thread), "private", or None."""
    if job["thread_ts"]:
        replies = bot_replies(slack, job["thread_ts"])
        if any(m.get("files") for m in replies):
            return "image"
        if replies:
            return "message"
    if slack.ephemerals(user_id=job["user_id"]):
        return "private"
    return None


def assert_every_job_answered(slack: SlackStandIn, rows: list[dict[str, Any]]) -> None:
    for job in rows:
        if job["status"] == "queued":
            continue  # still waiting for its turn: its card says so
        outcome = answered(slack, job)
        assert outcome, f"job {job['id']} ({job['status']}) left its user without an answer"
        if job["status"] == "done":
            assert outcome in ("image", "message")


async def until(predicate: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Re-check in-memory state (queue counters, held requests) until it holds; bounded, never a fixed delay."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition still false after {timeout}s")
        await asyncio.sleep(0.005)
    return value


async def wait_announced(services: Services | None, count: int, timeout: float = WAIT) -> None:
    """Until `count` jobs have their card posted and their thread recorded (read on the app's db thread)."""
    assert services is not None
    db, store = services.db, services.images.store
    query = ("SELECT COUNT(*) FROM jobs JOIN threads ON threads.team_id = jobs.team_id "
             "AND threads.channel_id = jobs.channel_id AND threads.thread_ts = jobs.thread_ts")
    deadline = time.monotonic() + timeout
    while await db(lambda: store.db.execute(query).fetchone()[0]) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} jobs announced after {timeout}s")
        await asyncio.sleep(0.005)


# acting as Slack ----------------------------------------------------------------------------------------
async def redeliver(slack: SlackStandIn, delivery: Delivery) -> httpx.Response:
    """Send a recorded request again, byte for byte with its signature: what Slack does when it resends."""
    assert slack.app_request_url
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.post(slack.app_request_url, content=delivery.body.encode(), headers=delivery.headers)


def block_of(message: dict[str, Any], element: dict[str, Any]) -> str:
    """The block_id of the block holding `element`: Slack sends it with the press."""
    return next(b["block_id"] for b in message["blocks"] if element in (b.get("elements") or []))


def press(slack: SlackStandIn, user_id: str, message: dict[str, Any], action_id: str, *,
          trigger_id: str | None = None) -> dict[str, Any]:
    """A block_actions payload, as Slack sends it when `user_id` clicks the button in `message`."""
    element = button(message, action_id)
    assert element is not None, f"no {action_id} button in {message.get('text')!r}"
    user = slack.users[user_id]
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": user["name"], "name": user["name"], "team_id": slack.team_id},
        "api_app_id": slack.app_id, "token": slack.verification_token,
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL, "is_ephemeral": False,
                      "thread_ts": message.get("thread_ts")},
        "trigger_id": trigger_id or f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
        "team": {"id": slack.team_id, "domain": slack.team_domain}, "enterprise": None,
        "is_enterprise_install": False, "channel": {"id": CHANNEL, "name": "general"},
        "message": copy.deepcopy(message), "state": {"values": {}},
        "response_url": slack.new_response_url(user_id, CHANNEL),
        "actions": [{"action_id": action_id, "block_id": block_of(message, element), "text": element["text"],
                     "value": element["value"], "type": "button", "action_ts": f"{time.time():.6f}"}],
    }


async def generate(slack: SlackStandIn, workspace: LocalWorkspace, text: str, user: str = ALICE) -> str:
    delivery = await slack.send_command(user, CHANNEL, text)
    assert delivery.status == 200 and delivery.response_text == ""
    await workspace.settle()
    return cards(slack)[-1]["ts"]


# 1. durable jobs ----------------------------------------------------------------------------------------
async def test_each_request_is_a_job_row_before_any_image_api_call(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(max_concurrent=1)
    db = Records(workspace)
    image_api.pause()

    first = await slack.send_command(ALICE, CHANNEL, "a lighthouse")
    assert first.status == 200
    [job] = await db.jobs()  # written before the ack
    assert job["dedupe_key"].startswith("command:") and job["status"] in ("queued", "running")
    assert json.loads(job["payload"])["prompt"] == "a lighthouse"

    await image_api.wait_for_waiting(1, timeout=WAIT)  # the call is in flight: the row says so
    [job] = await db.jobs()
    assert job["status"] == "running" and job["started_at"] and not job["finished_at"]
    [pending] = await db.ledger()  # the call is in the ledger before it is sent, cost not yet known
    assert pending["status"] == "pending" and pending["cost_micro"] is None and pending["job_id"] == job["id"]

    await slack.send_command(BOB, CHANNEL, "a harbour")
    running, waiting = await db.jobs()
    assert (running["status"], waiting["status"]) == ("running", "queued")  # the one slot is taken
    assert waiting["started_at"] is None and len(image_api.requests) == 1

    image_api.resume()
    await workspace.settle()
    rows, ledger = await db.jobs(), await db.ledger()
    assert [r["status"] for r in rows] == ["done", "done"]
    assert sorted(r["job_id"] for r in ledger) == [r["id"] for r in rows]
    for row in rows:
        assert row["created_at"] <= row["started_at"] <= row["finished_at"]
        [entry] = [e for e in ledger if e["job_id"] == row["id"]]
        assert row["started_at"] <= entry["created_at"] <= row["finished_at"]
        assert json.loads(row["result"])["image_ids"] == json.loads(entry["image_ids"])
        assert len(image_replies(slack, row["thread_ts"])) == 1
    assert len(image_api.requests) == 2
    assert_every_job_answered(slack, rows)


# 2. exactly once from Slack's side ----------------------------------------------------------------------
async def test_an_event_delivered_again_and_after_a_restart_makes_one_job(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    thread_ts = await generate(slack, first, "a red barn")

    image_api.pause()
    reply = await slack.post_message(ALICE, CHANNEL, "paint it blue", thread_ts=thread_ts)
    [original] = [d for d in slack.deliveries if d.kind == "event" and d.payload["event"].get("ts") == reply["ts"]]
    event, event_id = original.payload["event"], original.payload["event_id"]
    await image_api.wait_for_waiting(1, timeout=WAIT)

    again = await slack.deliver_event(event, event_id=event_id, retry_num=1)  # while the job is running
    image_api.resume()
    await first.settle()
    third = await slack.deliver_event(event, event_id=event_id, retry_num=2)  # after it is done
    await first.settle()
    await first.stop()

    second = await workspace_factory()  # a restart on the same data dir
    fourth = await slack.deliver_event(event, event_id=event_id, retry_num=3)
    await second.settle()

    assert [d.status for d in (original, again, third, fourth)] == [200, 200, 200, 200]
    db = Records(second)
    edits = [r for r in await db.jobs() if r["kind"] == "edit"]
    assert len(edits) == 1 and edits[0]["status"] == "done"
    assert [r.operation for r in image_api.requests] == ["generations", "edits"]
    assert [r["kind"] for r in await db.ledger()] == ["generate", "edit"]
    assert len(image_replies(slack, thread_ts)) == 2  # the first image and one edit
    assert not slack.ephemerals()
    assert_every_job_answered(slack, await db.jobs())


async def test_the_same_event_delivered_three_times_at_once_makes_one_job(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    thread_ts = await generate(slack, workspace, "a red barn")
    ts = f"{int(time.time()) + 10}.000100"  # the user's message, as Slack would deliver it
    event = {"type": "message", "channel": CHANNEL, "user": ALICE, "text": "paint it blue", "ts": ts,
             "thread_ts": thread_ts, "channel_type": "channel", "team": slack.team_id}
    deliveries = await asyncio.gather(*(slack.deliver_event(event, event_id="Ev0SAMEEVENT", retry_num=n)
                                        for n in (None, 1, 2)))
    await workspace.settle()
    assert [d.status for d in deliveries] == [200, 200, 200]
    db = Records(workspace)
    assert [r["kind"] for r in await db.jobs()] == ["generate", "edit"]
    assert [r.operation for r in image_api.requests] == ["generations", "edits"]
    assert len(await db.ledger()) == 2 and len(image_replies(slack, thread_ts)) == 2


async def test_a_slash_command_delivered_again_and_after_a_restart_makes_one_job(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    image_api.pause()
    original = await slack.send_command(ALICE, CHANNEL, "a lighthouse at dusk")
    await image_api.wait_for_waiting(1, timeout=WAIT)
    again = await redeliver(slack, original)  # the same trigger_id, while the job is running
    assert (again.status_code, again.text) == (200, "")
    image_api.resume()
    await first.settle()
    third = await redeliver(slack, original)  # once it is done
    assert (third.status_code, third.text) == (200, "")
    await first.stop()

    second = await workspace_factory()
    fourth = await redeliver(slack, original)  # after a restart
    assert (fourth.status_code, fourth.text) == (200, "")
    await second.settle()

    db = Records(second)
    [job] = await db.jobs()
    assert job["status"] == "done"
    assert len(image_api.requests) == 1 and len(await db.ledger()) == 1
    [card] = cards(slack)
    assert len(image_replies(slack, card["ts"])) == 1
    assert not slack.ephemerals()


# 4. SIGTERM with a running job -------------------------------------------------------------------------
async def test_sigterm_interrupts_the_running_job_and_queued_ones_run_once_after_restart(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory(max_concurrent=1)
    image_api.pause()
    await slack.send_command(ALICE, CHANNEL, "the running one")
    await image_api.wait_for_waiting(1, timeout=WAIT)
    await slack.send_command(BOB, CHANNEL, "the first in line")
    await slack.send_command(ALICE, CHANNEL, "the second in line")
    await wait_announced(first.services, 3)  # every card posted and its thread recorded: the jobs are in line
    assert all("Queued" in card_text(c) for c in cards(slack)[1:])

    await asyncio.wait_for(first.stop(grace=0.2), WAIT)  # bounded: the grace period, then the notices
    store = Store.open(first.settings.data_dir)
    try:
        running, *waiting = job_rows(store)
        [cut] = store.ledger_rows()  # the call SIGTERM cut short: kept, interrupted, cost unknown
        assert (cut["job_id"], cut["status"], cut["error_code"], cut["cost_micro"]) == (
            running["id"], "error", "interrupted", None)
        assert cut["latency_ms"] is not None  # how long it ran before the cut: the latency metric counts it too
    finally:
        store.close()
    assert (running["status"], running["error_code"]) == ("interrupted", "interrupted")
    assert [w["status"] for w in waiting] == ["queued", "queued"]  # not started: kept for the next start
    [notice] = notices(slack, running["thread_ts"], RUN_AGAIN)
    assert button(notice, RUN_AGAIN)["value"] == str(running["id"])
    assert "interrupted" in notice["text"] and "billed" in notice["text"]
    assert "Interrupted by a restart" in card_text(cards(slack)[0])
    assert len(image_api.requests) == 1

    image_api.resume()
    second = await workspace_factory(max_concurrent=1)
    await second.settle()
    db = Records(second)
    rows = await db.jobs()
    assert [r["status"] for r in rows] == ["interrupted", "done", "done"]  # never re-run on its own
    assert len(cards(slack)) == 3  # no second card for the jobs that waited
    assert len(image_api.requests) == 3  # the interrupted call, then each queued job once
    assert sorted(r.json["prompt"] for r in image_api.requests) == [
        "the first in line", "the running one", "the second in line"]
    assert [len(image_replies(slack, r["thread_ts"])) for r in rows] == [0, 1, 1]
    assert len(notices(slack, rows[0]["thread_ts"], RUN_AGAIN)) == 1  # told once, not again on restart
    assert [(e["job_id"], e["status"]) for e in await db.ledger()] == [
        (rows[0]["id"], "error"), (rows[1]["id"], "ok"), (rows[2]["id"], "ok")]
    assert all("Done" in card_text(c) for c in cards(slack)[1:])
    assert_every_job_answered(slack, rows)


async def test_run_it_again_is_one_new_job_for_its_owner_only(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    first = await workspace_factory()
    image_api.pause()
    await slack.send_command(ALICE, CHANNEL, "a lighthouse")
    await image_api.wait_for_waiting(1, timeout=WAIT)
    await first.stop(grace=0.2)
    image_api.resume()
    second = await workspace_factory()
    db = Records(second)
    [old] = await db.jobs()
    [notice] = notices(slack, old["thread_ts"], RUN_AGAIN)

    refused = await slack.send_interaction(press(slack, BOB, notice, RUN_AGAIN))
    await second.settle()
    assert refused.status == 200
    assert any(f"Only <@{ALICE}>" in e["text"] for e in slack.ephemerals(user_id=BOB))
    assert len(await db.jobs()) == 1 and len(image_api.requests) == 1

    click = press(slack, ALICE, notice, RUN_AGAIN)
    deliveries = [await slack.send_interaction(click), await slack.send_interaction(click)]  # and a redelivery
    await second.settle()
    assert [d.status for d in deliveries] == [200, 200]
    old, new = await db.jobs()
    assert (new["retry_of"], new["status"], new["thread_ts"]) == (old["id"], "done", old["thread_ts"])
    assert len(image_api.requests) == 2
    cut, entry = await db.ledger()  # the interrupted call (cost unknown), then the one that ran again
    assert (cut["job_id"], cut["status"], cut["cost_micro"]) == (old["id"], "error", None)
    assert entry["job_id"] == new["id"] and entry["status"] == "ok" and entry["cost_micro"] > 0
    assert len(image_replies(slack, old["thread_ts"])) == 1
    assert "Done" in card_text(cards(slack)[0])


# 5. limits and fairness ---------------------------------------------------------------------------------
async def test_fifty_requests_from_ten_users_all_finish_within_the_limits(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    users = [f"U0LOAD{i:02d}" for i in range(10)]
    for user in users:
        slack.add_user(user, user.lower())
    workspace = await workspace_factory(max_concurrent=8, max_concurrent_per_user=2, user_requests_per_minute=5)
    assert workspace.services is not None
    jobs, db = workspace.services.jobs, Records(workspace)
    image_api.pause()

    prompts = [f"{user} picture {n}" for user in users for n in range(5)]

    async def burst(batch: list[str]) -> None:
        deliveries = await asyncio.gather(*(slack.send_command(p.split()[0], CHANNEL, p) for p in batch))
        assert all(d.status == 200 and d.response_text == "" for d in deliveries)

    await burst(prompts[:5])  # the first user's five are first in line: their limit of 2 must bind at once
    await burst(prompts[5:])  # then everyone else's 45, all at once
    assert len(await db.jobs()) == 50
    await wait_announced(workspace.services, 50)  # every card is up; the first calls are held at the image API

    most_at_once, most_per_user = 0, 0
    snapshots: list[list[str]] = []  # the prompts held at the image API, batch by batch

    def check_limits() -> None:
        nonlocal most_at_once, most_per_user
        per_user = Counter(r.json["prompt"].split()[0] for r in image_api.held)
        assert image_api.waiting <= 8, f"{image_api.waiting} calls at the image API at once"
        assert max(per_user.values(), default=0) <= 2, per_user
        most_at_once = max(most_at_once, image_api.waiting)
        most_per_user = max(most_per_user, max(per_user.values(), default=0))

    def settled() -> bool:  # every job holding a slot is at the image API, or nothing is left to run
        check_limits()
        return image_api.waiting == jobs.running and (jobs.running > 0 or jobs.waiting == 0)

    while True:
        await until(settled)
        if jobs.running == 0:
            break
        snapshots.append([r.json["prompt"] for r in image_api.held])
        image_api.resume()  # let this batch through; hold the next
        image_api.pause()
    image_api.resume()
    await workspace.settle()

    assert (most_at_once, most_per_user) == (8, 2) and len(snapshots) >= 50 // 8
    # The first user's other three waited for their own slots without holding anyone else up.
    first_batch = Counter(p.split()[0] for p in snapshots[0])
    assert first_batch[users[0]] == 2 and sum(first_batch.values()) == 8
    rows = await db.jobs()
    assert [r["status"] for r in rows] == ["done"] * 50
    sent = [r.json["prompt"] for r in image_api.requests]
    assert sorted(sent) == sorted(prompts)  # each request once: none lost, none twice
    ledger = await db.ledger()
    assert len(ledger) == 50 and all(e["status"] == "ok" for e in ledger)
    assert len(cards(slack)) == 50
    assert all(len(image_replies(slack, r["thread_ts"])) == 1 for r in rows)
    # Every request that had to wait for a later batch was told its place in line when its card went up.
    statuses = first_statuses(slack)
    assert sorted(statuses) == sorted(prompts)
    waited = [p for p in prompts if p not in snapshots[0]]
    assert len(waited) == 42
    places = [re.search(r"Queued: (\d+) requests? ahead", statuses[p]) for p in waited]
    assert all(places), [statuses[p] for p, place in zip(waited, places, strict=True) if not place]
    assert max(int(place.group(1)) for place in places if place) > 10
    assert_every_job_answered(slack, rows)


async def test_a_full_queue_refuses_politely_and_makes_no_job(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(max_concurrent=1, max_queue=3)
    db = Records(workspace)
    image_api.pause()
    await slack.send_command(ALICE, CHANNEL, "running")
    await image_api.wait_for_waiting(1, timeout=WAIT)
    for user, text in ((BOB, "waiting 1"), (ALICE, "waiting 2"), (BOB, "waiting 3")):
        delivery = await slack.send_command(user, CHANNEL, text)
        assert delivery.response_text == ""
    refused = await slack.send_command(ALICE, CHANNEL, "one too many")
    assert refused.status == 200 and "too many requests waiting" in refused.response_text
    assert any("too many requests waiting" in e["text"] for e in slack.ephemerals(user_id=ALICE))

    running_thread = cards(slack)[0]["ts"]  # a reply asking for an edit is refused the same way, privately
    await slack.post_message(BOB, CHANNEL, "make it night", thread_ts=running_thread)
    await slack.wait_for(lambda: [e for e in slack.ephemerals(user_id=BOB) if "too many" in e["text"]], timeout=WAIT)
    assert len(await db.jobs()) == 4 and len(image_api.requests) == 1

    image_api.resume()
    await workspace.settle()
    rows = await db.jobs()
    assert [r["status"] for r in rows] == ["done"] * 4
    assert "one too many" not in [r.json["prompt"] for r in image_api.requests]
    assert len(image_api.requests) == 4 and len(await db.ledger()) == 4
    assert_every_job_answered(slack, rows)


async def test_the_third_request_in_a_minute_is_told_how_long_to_wait(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(user_requests_per_minute=2)
    db = Records(workspace)
    before = time.monotonic()
    for text in ("one", "two"):
        assert (await slack.send_command(ALICE, CHANNEL, text)).response_text == ""
    third = await slack.send_command(ALICE, CHANNEL, "three")
    elapsed = time.monotonic() - before
    found = re.search(r"Try again in (\d+) seconds", third.response_text)
    assert found and "(2 a minute)" in third.response_text, third.response_text
    assert 60 - int(elapsed) - 1 <= int(found.group(1)) <= 60  # the oldest of the two is `elapsed` s old at most
    assert (await slack.send_command(BOB, CHANNEL, "bob's own")).response_text == ""  # per user, not global
    await workspace.settle()
    assert len(await db.jobs()) == 3
    assert sorted(r.json["prompt"] for r in image_api.requests) == ["bob's own", "one", "two"]
    assert_every_job_answered(slack, await db.jobs())


async def test_requests_admitted_at_the_same_moment_cannot_pass_the_rate_limit(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(user_requests_per_minute=3)
    assert workspace.services is not None
    services = workspace.services
    payload = generate_payload("a lighthouse", services.images.default_options)
    # Straight to the queue, all in one loop turn: every admission is in flight before any has finished.
    admissions = await asyncio.gather(*(services.jobs.submit(
        dedupe_key=f"command:{slack.team_id}:burst-{n}", kind="generate", team_id=slack.team_id,
        channel_id=CHANNEL, user_id=ALICE, payload=payload) for n in range(8)))
    await workspace.settle()
    assert Counter(a.status for a in admissions) == {"accepted": 3, "rate_limited": 5}
    assert len(await Records(workspace).jobs()) == 3 and len(image_api.requests) == 3


# 6. image API faults ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["rate_limit", "server_error"])
async def test_an_image_api_fault_then_success_is_one_image_and_one_ledger_row(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace, sleeps: Sleeps,
        fault: str) -> None:
    getattr(image_api, fault)()
    thread_ts = await generate(slack, workspace, "a lighthouse")
    assert [r.status for r in image_api.requests] == [429 if fault == "rate_limit" else 500, 200]
    assert len(sleeps.delays) == 1  # retried once, after a wait
    db = Records(workspace)
    [job] = await db.jobs()
    [entry] = await db.ledger()  # the attempts are one call: one row, one charge
    assert job["status"] == "done" and entry["job_id"] == job["id"]
    assert entry["status"] == "ok" and entry["cost_micro"] > 0
    assert len(image_replies(slack, thread_ts)) == 1
    assert "Done" in card_text(cards(slack)[0])


async def test_an_image_api_that_never_answers_ends_in_a_message(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path, sleeps: Sleeps) -> None:
    # The conftest fixture's wiring, with a short read timeout: the client's own timeout has to fire.
    settings = settings_for(slack, tmp_path / "data", Settings(
        provider="openai", openai_api_key=image_api.api_key, openai_base_url=image_api.openai_base_url))
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=0.5), trust_env=False) as http:
        api = ImageAPI(http, OpenAITarget(settings.openai_base_url, image_api.api_key), sleep=sleeps)
        workspace = await LocalWorkspace(settings, slack, provider=api).start()
        try:
            image_api.hang(times=3)
            thread_ts = await generate(slack, workspace, "a lighthouse")
            db = Records(workspace)
            [job], [entry] = await db.jobs(), await db.ledger()
        finally:
            await workspace.stop()
    assert len(image_api.requests) == 3 and len(sleeps.delays) == 2  # three tries, each timed out
    assert job["status"] == "failed"
    assert (entry["status"], entry["cost_micro"], entry["job_id"]) == ("error", None, job["id"])
    [message] = bot_replies(slack, thread_ts)
    assert "did not answer in time" in message["text"] and "try again" in message["text"]
    assert ":warning:" in card_text(cards(slack)[0])


async def test_a_garbage_answer_ends_in_a_message(slack: SlackStandIn, image_api: ImageAPIStandIn,
                                                  workspace: LocalWorkspace) -> None:
    image_api.garbage()
    thread_ts = await generate(slack, workspace, "a lighthouse")
    db = Records(workspace)
    [job], [entry] = await db.jobs(), await db.ledger()
    assert len(image_api.requests) == 1 and job["status"] == "failed"
    assert (entry["status"], entry["job_id"]) == ("error", job["id"])
    [message] = bot_replies(slack, thread_ts)
    assert "not JSON" in message["text"]
    assert_every_job_answered(slack, [job])


# 7. Slack faults ----------------------------------------------------------------------------------------
async def test_slack_rate_limits_on_posting_and_uploading_are_waited_out(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    methods = ("chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal")
    for method in methods:
        slack.fail_next(method, status=429, retry_after=1)  # slack_sdk really sleeps Retry-After (+ jitter)
    thread_ts = await generate(slack, workspace, "a lighthouse")
    for method in methods:
        assert [c.status for c in slack.calls_to(method)][:2] == [429, 200], method
    db = Records(workspace)
    [job] = await db.jobs()
    assert job["status"] == "done" and len(await db.ledger()) == 1 and len(image_api.requests) == 1
    [result] = image_replies(slack, thread_ts)
    assert len(result["files"]) == 1 and len(cards(slack)) == 1


async def test_a_refused_upload_keeps_the_image_and_upload_again_delivers_it(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    slack.fail_next("files.completeUploadExternal", status=200, error="invalid_arguments")  # not retried
    thread_ts = await generate(slack, workspace, "a lighthouse")
    db = Records(workspace)
    [job], [entry] = await db.jobs(), await db.ledger()
    assert (job["status"], job["error_code"]) == ("failed", "upload_failed")
    assert entry["status"] == "ok" and entry["cost_micro"] > 0  # billed, and recorded once
    [image_id] = json.loads(entry["image_ids"])
    kept = await db.image_path(image_id)
    assert kept.is_file() and kept.is_relative_to(workspace.settings.data_dir)
    assert not image_replies(slack, thread_ts)
    [notice] = notices(slack, thread_ts, UPLOAD_AGAIN)
    assert button(notice, UPLOAD_AGAIN)["value"] == str(job["id"]) and "kept" in notice["text"]
    assert "refused the upload" in card_text(cards(slack)[0])

    await slack.send_interaction(press(slack, BOB, notice, UPLOAD_AGAIN))  # not Bob's image
    await workspace.settle()
    assert any(f"Only <@{ALICE}>" in e["text"] for e in slack.ephemerals(user_id=BOB))
    assert not image_replies(slack, thread_ts)

    await slack.send_interaction(press(slack, ALICE, notice, UPLOAD_AGAIN))
    await workspace.settle()
    [result] = image_replies(slack, thread_ts)
    assert slack.file_bytes(result["files"][0]["id"]) == kept.read_bytes()
    assert (await db.jobs())[0]["status"] == "done"
    assert len(image_api.requests) == 1 and len(await db.ledger()) == 1  # nothing made or billed again


# bugs these tests found, fixed: each states what should happen -----------------------------------------------------
async def test_a_failed_byte_upload_keeps_the_image_and_offers_upload_again(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    slack.fail_next("upload", status=500, times=3)  # the first try and slack_sdk's two retries
    thread_ts = await generate(slack, workspace, "a lighthouse")
    db = Records(workspace)
    [job], [entry] = await db.jobs(), await db.ledger()
    assert entry["status"] == "ok" and entry["cost_micro"] > 0  # billed and kept either way
    assert (await db.image_path(json.loads(entry["image_ids"])[0])).is_file()
    assert answered(slack, job) == "message"
    assert notices(slack, thread_ts, UPLOAD_AGAIN), [m["text"] for m in bot_replies(slack, thread_ts)]
    assert (job["status"], job["error_code"]) == ("failed", "upload_failed")


async def test_a_redelivered_upload_again_click_uploads_once(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    slack.fail_next("files.completeUploadExternal", status=200, error="invalid_arguments")
    thread_ts = await generate(slack, workspace, "a lighthouse")
    [notice] = notices(slack, thread_ts, UPLOAD_AGAIN)
    click = press(slack, ALICE, notice, UPLOAD_AGAIN)
    for _ in range(2):  # the click, then Slack's redelivery of the same click
        assert (await slack.send_interaction(click)).status == 200
        await workspace.settle()
    assert len(image_replies(slack, thread_ts)) == 1


async def test_requests_admitted_at_the_same_moment_cannot_overfill_the_queue(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory) -> None:
    workspace = await workspace_factory(max_concurrent=1, max_queue=2, max_concurrent_per_user=10,
                                        user_requests_per_minute=100)
    assert workspace.services is not None
    services = workspace.services
    image_api.pause()
    try:
        await slack.send_command(ALICE, CHANNEL, "running")
        await image_api.wait_for_waiting(1, timeout=WAIT)  # the one slot is taken; the line is empty
        payload = generate_payload("a lighthouse", services.images.default_options)
        admissions = await asyncio.gather(*(services.jobs.submit(
            dedupe_key=f"command:{slack.team_id}:burst-{n}", kind="generate", team_id=slack.team_id,
            channel_id=CHANNEL, user_id=ALICE, payload=payload) for n in range(6)))
        waiting = services.jobs.waiting
    finally:
        image_api.resume()
    await workspace.settle()
    assert waiting <= 2, f"{waiting} jobs waiting with max_queue=2"
    assert Counter(a.status for a in admissions) == {"accepted": 2, "queue_full": 4}


async def test_requests_taken_before_recovery_are_left_alone_by_it(
        slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path, sleeps: Sleeps) -> None:
    # Served with recovery held back (recover=False), then recovered: two requests (Slack redelivers what it could
    # not deliver during the restart) arrive in between, and recovery must leave the jobs it did not inherit alone.
    settings = settings_for(slack, tmp_path / "data", Settings(
        provider="openai", openai_api_key=image_api.api_key, openai_base_url=image_api.openai_base_url),
        max_concurrent=1)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), trust_env=False) as http:
        bot = Imagebot.build(settings, provider=ImageAPI(
            http, OpenAITarget(settings.openai_base_url, image_api.api_key), sleep=sleeps))
        services = bot.services
        await bot.start(host="127.0.0.1", port=0, recover=False)
        slack.app_request_url = f"http://127.0.0.1:{bot.port}{EVENTS_PATH}"
        image_api.pause()
        try:
            await slack.send_command(ALICE, CHANNEL, "taken first")
            await image_api.wait_for_waiting(1, timeout=WAIT)
            await slack.send_command(BOB, CHANNEL, "taken second")
            await wait_announced(services, 2)
            await services.jobs.recover()  # held back until now
            image_api.resume()
            await slack.wait_for(lambda: len(cards(slack)) == 2 and all(
                image_replies(slack, c["ts"]) for c in cards(slack)), timeout=WAIT)
            await slack.drain()
            told_to_retry = [n["text"] for c in cards(slack) for n in notices(slack, c["ts"], RUN_AGAIN)]
            prompts = sorted(r.json["prompt"] for r in image_api.requests)
        finally:
            image_api.resume()
            for task in asyncio.all_tasks():  # a job started twice leaves a lifecycle the queue lost track of
                if task.get_name().startswith("job-"):
                    task.cancel()
            await bot.stop(grace=0.2)
    assert not told_to_retry, told_to_retry
    assert prompts == ["taken first", "taken second"]  # each once


async def test_a_job_stopped_while_being_announced_runs_cleanly_after_the_restart(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace_factory: WorkspaceFactory,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = await workspace_factory()
    assert first.services is not None
    jobs = first.services.jobs
    store = first.services.images.store
    reached, release = threading.Event(), threading.Event()
    attach = store.attach_thread

    def sigterm_lands_here(*args: Any, **kwargs: Any) -> None:
        reached.set()  # the card is posted; its thread is about to be recorded...
        release.wait(WAIT)  # ...when SIGTERM arrives (only the timing is arranged; the real write follows)
        attach(*args, **kwargs)

    monkeypatch.setattr(store, "attach_thread", sigterm_lands_here)
    await slack.send_command(ALICE, CHANNEL, "a lighthouse")
    assert await asyncio.to_thread(reached.wait, WAIT)
    stopping = asyncio.create_task(first.stop(grace=0.2))
    for _ in range(int(WAIT * 100)):  # until the shutdown has begun (a state, polled with a bound)
        if not jobs.accepting:
            break
        await asyncio.sleep(0.01)
    assert not jobs.accepting
    release.set()
    await asyncio.wait_for(stopping, WAIT)

    second = await workspace_factory()
    await second.settle()
    [job] = await Records(second).jobs()
    [card] = cards(slack)
    assert [m["text"] for m in bot_replies(slack, card["ts"])
            if not m.get("files") and not m["text"].startswith("What next for")] == []
    assert job["status"] == "done" and len(image_replies(slack, card["ts"])) == 1


async def test_upload_again_after_retention_removed_the_image_says_so(
        slack: SlackStandIn, image_api: ImageAPIStandIn, workspace: LocalWorkspace) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.runtime.retention import RetentionPruner

    slack.fail_next("files.completeUploadExternal", status=200, error="invalid_arguments")
    thread_ts = await generate(slack, workspace, "a lighthouse")
    [notice] = notices(slack, thread_ts, UPLOAD_AGAIN)
    assert workspace.services is not None
    later = datetime.now(UTC) + timedelta(days=40)
    assert await RetentionPruner(workspace.services.db, 30, clock=lambda: later).prune() == 1

    before = len(slack.ephemerals(user_id=ALICE))
    await slack.send_interaction(press(slack, ALICE, notice, UPLOAD_AGAIN))
    await workspace.settle()
    told = [e["text"] for e in slack.ephemerals(user_id=ALICE)[before:]]
    assert any("no longer stored" in t or "was removed" in t for t in told), told
    assert not image_replies(slack, thread_ts) and len(image_api.requests) == 1
    [job] = await Records(workspace).jobs()
    assert job["error_code"] == "image_pruned"
