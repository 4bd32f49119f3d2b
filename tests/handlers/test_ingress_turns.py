"""handlers/ingress.py's turns and quiet: a burst's requests are answered a few at a time, and the job runner's
work waits for the acks in progress (JobQueue.acks_first), never longer than a bound.

Served for real on loopback (aiohttp), signed as Slack signs; Bolt's dispatch is stood in for by a dispatcher
that holds every request until the test lets it go, so what is in progress can be counted."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_bolt.response import BoltResponse

from bot.runtime.db_thread import DbThread
from bot.runtime.jobs import JobQueue, Limits, Outcome
from handlers.app import listen, web_app
from handlers.ingress import ANSWERING, Ingress, Signatures
from storage.records import JobRecord
from storage.store import Store

pytestmark = pytest.mark.anyio
SECRET = "turns-secret"
WAIT = 30.0  # a bound on every wait, never a timing the test depends on


class HeldDispatch:
    """Stands in for Bolt's AsyncApp: each request waits for `go`, counted while it is inside."""

    oauth_flow = None

    def __init__(self) -> None:
        self.go = asyncio.Event()
        self.inside = 0
        self.most = 0

    async def async_dispatch(self, request: Any) -> BoltResponse:
        self.inside += 1
        self.most = max(self.most, self.inside)
        try:
            await self.go.wait()
        finally:
            self.inside -= 1
        return BoltResponse(status=200, body="")


async def _until(condition: Any) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - polls plain counters
            await asyncio.sleep(0.01)


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Ingress, HeldDispatch]]:
    dispatch = HeldDispatch()
    ingress = Ingress(dispatch, SECRET)  # type: ignore[arg-type]
    runner, port = await listen(web_app(dispatch, ingress=ingress), host="127.0.0.1", port=0)  # type: ignore[arg-type]
    try:
        yield f"http://127.0.0.1:{port}/slack/events", ingress, dispatch
    finally:
        dispatch.go.set()
        await runner.cleanup()


async def _command(session: aiohttp.ClientSession, url: str, i: int) -> int:
    body = (f"command=%2Fimage&text=a+fox+{i}&user_id=U0ALICE&channel_id=C0GENERAL&team_id=T0TEAM"
            f"&trigger_id=1.2.{i}").encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": Signatures(SECRET).sign(timestamp, body)}
    async with session.post(url, data=body, headers=headers) as response:
        return response.status


async def test_a_burst_is_answered_a_few_requests_at_a_time(served: tuple[str, Ingress, HeldDispatch]) -> None:
    url, ingress, dispatch = served
    async with aiohttp.ClientSession() as session:
        sent = [asyncio.create_task(_command(session, url, i)) for i in range(ANSWERING + 5)]
        await _until(lambda: ingress.handling == len(sent) and dispatch.inside == ANSWERING)
        for _ in range(20):
            await asyncio.sleep(0)
        assert dispatch.inside == ANSWERING  # the rest wait their turn, doing nothing
        dispatch.go.set()
        async with asyncio.timeout(WAIT):
            assert await asyncio.gather(*sent) == [200] * len(sent)
    assert dispatch.most == ANSWERING and ingress.handling == 0


async def test_quiet_waits_for_the_acks_in_progress_and_no_longer_than_its_bound(
        served: tuple[str, Ingress, HeldDispatch]) -> None:
    url, ingress, dispatch = served
    await asyncio.wait_for(ingress.quiet(), WAIT)  # nothing in progress: at once
    async with aiohttp.ClientSession() as session:
        sent = asyncio.create_task(_command(session, url, 1))
        await _until(lambda: dispatch.inside == 1)
        waiting = asyncio.create_task(ingress.quiet(limit=WAIT))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done()
        await asyncio.wait_for(ingress.quiet(limit=0.01), WAIT)  # a held request holds nobody past the bound
        dispatch.go.set()
        async with asyncio.timeout(WAIT):
            await waiting
            assert await sent == 200


class Runs:
    """A job handler that notes what it was asked to announce and run."""

    def __init__(self) -> None:
        self.announced: list[int] = []

    async def announce(self, job: JobRecord, ahead: int | None) -> JobRecord | None:
        self.announced.append(job.id)
        return job

    async def run(self, job: JobRecord) -> Outcome:
        return Outcome("done")

    async def interrupted(self, job: JobRecord) -> None:
        pass

    async def tell(self, job: JobRecord, text: str, /) -> None:
        pass


async def test_a_job_starts_once_the_acks_first_hook_lets_it(tmp_path: Path) -> None:
    db = DbThread(Store.open(tmp_path))
    jobs = JobQueue(db, Limits(max_concurrent=2, max_concurrent_per_user=2, max_queue=10, user_requests_per_minute=100))
    handler = Runs()
    jobs.bind(handler)
    acks_done = asyncio.Event()
    jobs.acks_first = acks_done.wait
    try:
        admission = await jobs.submit(dedupe_key="command:1", kind="generate", team_id="T1", channel_id="C1",
                                      user_id="U1", payload={"prompt": "a fox"})
        assert admission.status == "accepted" and admission.job is not None
        for _ in range(20):
            await asyncio.sleep(0)
        assert handler.announced == []
        acks_done.set()
        assert await jobs.wait_idle(WAIT)
        assert handler.announced == [admission.job.id]
    finally:
        await jobs.shutdown(5)
        await db.close()


async def test_noise_is_answered_without_bolt(served: tuple[str, Ingress, HeldDispatch]) -> None:
    """A bot's message (the bot's own echo of each message it posts) is dropped at the door, with a 200."""
    url, _, dispatch = served
    event = {"type": "event_callback", "team_id": "T0TEAM", "api_app_id": "A0APP", "event_id": "Ev1",
             "event": {"type": "message", "channel": "C0GENERAL", "user": "U0BOT", "bot_id": "B0BOT",
                       "text": "Done", "ts": "1700000000.000200"}}
    body = json.dumps(event).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": Signatures(SECRET).sign(timestamp, body)}
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        assert response.status == 200
    assert dispatch.most == 0  # held dispatches would have blocked the answer: none was made


async def test_jobs_let_go_by_quiet_start_a_few_at_a_time(served: tuple[str, Ingress, HeldDispatch]) -> None:
    """Two hundred jobs let go together would all take their first step in one turn of the event loop."""
    _, ingress, _ = served
    waiting = [asyncio.create_task(ingress.quiet()) for _ in range(ANSWERING * 3 + 1)]
    done, most = 0, 0
    async with asyncio.timeout(WAIT):
        while done < len(waiting):
            await asyncio.sleep(0)
            now = sum(task.done() for task in waiting)
            most, done = max(most, now - done), now
    assert 0 < most <= ANSWERING


@pytest.mark.parametrize("event", [
    ["message"],  # not an object
    {"type": "message", "subtype": ["bot_message"], "channel": "C0GENERAL", "ts": "1.2"},  # unhashable subtype
    {"type": "message", "subtype": "message_changed", "channel": {"x": 1}, "ts": "1.2"},  # noise, yet malformed
])
async def test_what_is_not_plainly_noise_is_checked_before_anything_reads_it(
        served: tuple[str, Ingress, HeldDispatch], event: Any) -> None:
    url, _, dispatch = served
    body = json.dumps({"type": "event_callback", "team_id": "T0TEAM", "event": event}).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": Signatures(SECRET).sign(timestamp, body)}
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as response:
        status = response.status
    dropped_unread = isinstance(event, dict) and event.get("subtype") == "message_changed"
    assert status == (200 if dropped_unread else 400) and dispatch.most == 0
