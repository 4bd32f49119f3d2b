"""The composition root's order, through the real app against the Slack and image API stand-ins: the jobs a dead
process left behind are recovered before anything serves; on the way out no new request gets in while running
jobs have their grace, the ops endpoints say so until last, and the database is closed at the end."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from handlers.manifest import EVENTS_PATH
from imagebot.compose import GIL_TURN, Imagebot, freeze_heap, short_gil_turns
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import settings_for
from tests.slack_views import cards, image_replies

pytestmark = pytest.mark.anyio
CHANNEL = "C0GENERAL"
ALICE, BOB = "U0ALICE", "U0BOB"
WAIT = 60.0  # a bound for anything the app does in the background, never a delay


def free_ports(count: int) -> list[int]:
    """`count` different ports free on loopback (held together while picked, so never the same one twice)."""
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in held:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in held]


async def until(predicate: Callable[[], Any], timeout: float = WAIT) -> None:
    """Re-check in-memory state until it holds; bounded, never a fixed delay."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition still false after {timeout}s")
        await asyncio.sleep(0.005)


@pytest.fixture
def settings(slack: SlackStandIn, image_api: ImageAPIStandIn, tmp_path: Path) -> Settings:
    """`imagebot serve --http`'s settings, pointed at the stand-ins: the root builds the image client itself."""
    return settings_for(slack, tmp_path / "data", Settings(
        provider="openai", openai_api_key=image_api.api_key, openai_base_url=image_api.openai_base_url),
        max_concurrent=1)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(WAIT), trust_env=False) as client:
        yield client


async def hold_a_running_job(slack: SlackStandIn, image_api: ImageAPIStandIn, bot: Imagebot, **start: Any) -> None:
    """Start `bot`, point Slack at it and send a request, held at the image API (paused: resume it after)."""
    await bot.start(**start)
    slack.app_request_url = f"http://127.0.0.1:{bot.port}{EVENTS_PATH}"
    image_api.pause()
    await slack.send_command(ALICE, CHANNEL, "the running one")
    await image_api.wait_for_waiting(1, timeout=WAIT)


async def leave_a_queued_job(slack: SlackStandIn, image_api: ImageAPIStandIn, settings: Settings) -> None:
    """A process stopped with one job cut short and one still in line (kept queued for the next start)."""
    first = Imagebot.build(settings)
    try:
        await hold_a_running_job(slack, image_api, first)
        await slack.send_command(BOB, CHANNEL, "the one in line")
        await until(lambda: first.services.jobs.waiting == 1)
    finally:
        cut = await asyncio.wait_for(first.stop(grace=0), WAIT)
        image_api.resume()
    assert cut == 1
    await slack.drain()


async def test_the_jobs_left_behind_are_recovered_before_anything_serves(
        slack: SlackStandIn, image_api: ImageAPIStandIn, settings: Settings, http: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch) -> None:
    await leave_a_queued_job(slack, image_api, settings)
    main, ops = free_ports(2)
    bot = Imagebot.build(settings)
    recover = bot.services.jobs.recover
    reachable: list[str] = []

    async def recover_and_look() -> tuple[int, int]:
        for port in (main, ops):  # while recovering, nothing may answer on either address
            try:
                await http.get(f"http://127.0.0.1:{port}/healthz")
            except httpx.ConnectError:
                continue
            reachable.append(f"port {port} answered during recovery")
        return await recover()

    monkeypatch.setattr(bot.services.jobs, "recover", recover_and_look)
    try:
        await bot.start(port=main, ops=("127.0.0.1", ops))
        assert (await http.get(f"http://127.0.0.1:{main}/healthz")).status_code == 200
        assert await bot.services.jobs.wait_idle(WAIT)
    finally:
        await bot.stop(grace=1.0)
    await slack.drain()
    assert reachable == []
    assert [r.json["prompt"] for r in image_api.requests] == ["the running one", "the one in line"]
    assert len(image_replies(slack, cards(slack)[1]["ts"])) == 1  # the job in line ran once, after the restart


async def test_recover_false_serves_and_leaves_recovery_to_the_caller(
        slack: SlackStandIn, image_api: ImageAPIStandIn, settings: Settings, http: httpx.AsyncClient) -> None:
    await leave_a_queued_job(slack, image_api, settings)
    bot = Imagebot.build(settings)
    try:
        await bot.start(recover=False)
        assert (await http.get(f"http://127.0.0.1:{bot.port}/healthz")).status_code == 200
        assert await bot.services.jobs.wait_idle(WAIT)
        assert len(image_api.requests) == 1  # the job in line waits for the caller's recover()
        assert await bot.services.jobs.recover() == (0, 1)
        assert await bot.services.jobs.wait_idle(WAIT)
        assert len(image_api.requests) == 2
    finally:
        await bot.stop(grace=1.0)


async def test_stop_takes_no_new_requests_gives_running_jobs_their_grace_then_closes_the_database(
        slack: SlackStandIn, image_api: ImageAPIStandIn, settings: Settings, http: httpx.AsyncClient) -> None:
    bot = Imagebot.build(settings)
    try:
        await hold_a_running_job(slack, image_api, bot, ops=("127.0.0.1", 0))
        events, ops = f"http://127.0.0.1:{bot.port}{EVENTS_PATH}", f"http://127.0.0.1:{bot.ops_port}"
        stopping = asyncio.create_task(bot.stop(grace=WAIT))
        await until(lambda: not bot.services.jobs.accepting)  # the jobs' grace has begun
        with pytest.raises(httpx.ConnectError):  # Slack's address is closed already: no new request gets in
            await http.post(events, content=b"{}")
        ready = await http.get(f"{ops}/readyz")  # the ops endpoints still answer, saying why not ready
        assert (ready.status_code, ready.json()["checks"]["jobs"]) == (503, "shutting down")
        assert ready.json()["checks"]["database"] == "ok"  # open until the jobs are done
        assert not stopping.done()  # the running job has its grace
    finally:
        image_api.resume()
    assert await asyncio.wait_for(stopping, WAIT) == 0  # it finished within its grace: none interrupted
    [card] = cards(slack)
    assert len(image_replies(slack, card["ts"])) == 1
    with pytest.raises(RuntimeError):  # the database thread is shut down
        await bot.services.db(lambda: None)
    with pytest.raises(httpx.ConnectError):  # and the ops endpoints went last
        await http.get(f"{ops}/healthz")


async def test_a_job_past_its_grace_is_interrupted_and_counted(
        slack: SlackStandIn, image_api: ImageAPIStandIn, settings: Settings) -> None:
    bot = Imagebot.build(settings)
    try:
        await hold_a_running_job(slack, image_api, bot)
        cut = await asyncio.wait_for(bot.stop(grace=0), WAIT)
    finally:
        image_api.resume()
    assert cut == 1


async def test_stop_after_a_failed_start_releases_what_was_opened(settings: Settings) -> None:
    bot = Imagebot.build(settings)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            await bot.start(port=taken.getsockname()[1])
        assert await bot.stop(grace=0) == 0
    with pytest.raises(RuntimeError):
        await bot.services.db(lambda: None)



def test_freezing_the_heap_puts_what_start_up_made_out_of_the_collectors_way() -> None:
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        freeze_heap()
        assert gc.get_freeze_count() > 0 and gc.get_count()[2] == 0
    finally:
        gc.unfreeze()


def test_short_gil_turns_make_a_thread_give_the_gil_up_sooner() -> None:
    before = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        short_gil_turns()
        assert sys.getswitchinterval() == pytest.approx(GIL_TURN) and GIL_TURN < 0.005
    finally:
        sys.setswitchinterval(before)
