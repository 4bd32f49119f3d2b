"""Process-level faults: the real `imagebot serve --http`, killed with SIGKILL while its jobs are at the image API,
then restarted on the same data dir, as a crashed deployment is.

A killed process runs no shutdown code, so everything the users learn afterwards comes from what the first
process wrote before the kill: the jobs table. Both stand-ins stay up across the crash; the image API's pause
gate holds the calls in flight, so the kill lands while they are running, without any sleep.
"""

from __future__ import annotations

import asyncio
import copy
import os
import secrets
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from handlers.manifest import WORKFLOW_STEP, workflow_step
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from tests.slack_views import cards

pytestmark = pytest.mark.anyio
REPO = Path(__file__).resolve().parents[1]
CHANNEL = "C0GENERAL"
ALICE, BOB, ADA = "U0ALICE", "U0BOB", "U0ADMIN"
RUN_AGAIN = "imagebot_run_again"
WAIT = 60.0  # a bound for the subprocess and its jobs, never a delay


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(tmp_path: Path, slack: SlackStandIn, image_api: ImageAPIStandIn, **extra: str) -> dict[str, str]:
    """A fresh shell plus an HTTP deployment's settings, pointed at the two stand-ins."""
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(REPO),
            "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.api_url, "OPENAI_API_KEY": image_api.api_key,
            "OPENAI_BASE_URL": image_api.openai_base_url, "IMAGEBOT_DATA_DIR": str(tmp_path / "data"), **extra}


@asynccontextmanager
async def imagebot(tmp_path: Path, slack: SlackStandIn,
                   env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    """`imagebot serve --http` on a free port, with Slack pointed at it once it serves; killed if still alive."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "imagebot", "serve", "--http", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = bytearray()
    serving = asyncio.Event()

    async def collect() -> None:  # keep the pipe drained so the app never blocks on logging
        assert process.stdout is not None
        while line := await process.stdout.readline():
            output.extend(line)
            if b"serving Slack over HTTP" in line:
                serving.set()

    reader = asyncio.create_task(collect())
    try:
        ready = asyncio.create_task(serving.wait())
        await asyncio.wait([ready, reader], timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        assert serving.is_set(), f"imagebot did not start:\n{output.decode(errors='replace')}"
        slack.app_request_url = f"http://127.0.0.1:{port}/slack/events"
        # serve() takes requests before its recovery has read the jobs table, and recovery would take a job
        # admitted meanwhile for one left by a dead process (the xfail test_requests_taken_before_recovery_...
        # in tests/handlers/test_reliability.py; seen here as a fresh process starting a job twice). A reply in
        # a thread that is no image thread makes the app read the database before it acks; recovery's reads
        # were queued on the one db thread ahead of it, so once it is acked nothing sent next can be mistaken.
        chatter = await slack.post_message(BOB, CHANNEL, "is the bot back?")
        await slack.post_message(BOB, CHANNEL, "it seems so", thread_ts=chatter["ts"])
        assert slack.deliveries[-1].status == 200
        process.output = output  # type: ignore[attr-defined]
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), WAIT)
        await asyncio.wait_for(reader, WAIT)


def rows(data_dir: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Read imagebot's database from outside, read-only (the process may be running)."""
    conn = sqlite3.connect(f"file:{data_dir / 'imagebot.db'}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


async def until_rows(data_dir: Path, sql: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT
    while len(found := rows(data_dir, sql)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} rows for {sql!r} after {WAIT}s"
        await asyncio.sleep(0.02)
    return found




def card_text(message: dict[str, Any]) -> str:
    return "\n".join(e["text"] for b in message.get("blocks") or [] if b["type"] == "context" for e in b["elements"])


def images_in(slack: SlackStandIn, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.thread(CHANNEL, thread_ts)[1:] if m.get("bot_id") and m.get("files")]


def run_again_button(message: dict[str, Any]) -> dict[str, Any] | None:
    """The Run it again button, with its block's block_id (Slack sends it with a press)."""
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == RUN_AGAIN:
                return {**element, "block_id": block.get("block_id")}
    return None


def notices(slack: SlackStandIn, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.thread(CHANNEL, thread_ts)[1:] if m.get("bot_id") and run_again_button(m)]


def click(slack: SlackStandIn, user_id: str, message: dict[str, Any]) -> dict[str, Any]:
    """block_actions for `user_id` pressing Run it again in `message`, as Slack sends it."""
    element = run_again_button(message)
    assert element is not None
    return {
        "type": "block_actions", "user": {"id": user_id, "name": slack.users[user_id]["name"],
                                          "team_id": slack.team_id},
        "api_app_id": slack.app_id, "token": slack.verification_token,
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": CHANNEL,
                      "is_ephemeral": False, "thread_ts": message.get("thread_ts")},
        "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}",
        "team": {"id": slack.team_id, "domain": slack.team_domain}, "channel": {"id": CHANNEL, "name": "general"},
        "message": copy.deepcopy(message), "response_url": slack.new_response_url(user_id, CHANNEL),
        "actions": [{"action_id": RUN_AGAIN, "block_id": element["block_id"], "text": element["text"],
                     "value": element["value"], "type": "button", "action_ts": f"{time.time():.6f}"}],
    }


async def test_sigkill_mid_call_then_restart_tells_users_and_run_it_again_bills_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with SlackStandIn() as slack, ImageAPIStandIn() as image_api:
        env = serve_env(tmp_path, slack, image_api, IMAGEBOT_MAX_CONCURRENT="3")
        asked = [(ALICE, "a lighthouse at dusk"), (BOB, "a red barn"), (ADA, "a fox in snow"),
                 (ALICE, "a harbour at noon")]  # three run at once (the limit), the fourth waits in line

        # The first process: three calls held at the image API, one job in line, then SIGKILL.
        async with imagebot(tmp_path, slack, env) as first:
            image_api.pause()
            for user, prompt in asked:
                delivery = await slack.send_command(user, CHANNEL, prompt)
                assert (delivery.status, delivery.response_text) == (200, "")
            await image_api.wait_for_waiting(3, timeout=WAIT)
            # Every card posted and its thread recorded: the kill lands on running and queued jobs, not mid-post.
            await until_rows(data, "SELECT jobs.id FROM jobs JOIN threads ON threads.thread_ts = jobs.thread_ts", 4)
            first.kill()
            assert await asyncio.wait_for(first.wait(), WAIT) == -signal.SIGKILL
        image_api.resume()  # the held calls are answered into closed sockets: nobody hears them

        before = {r["id"]: r for r in rows(data, "SELECT * FROM jobs ORDER BY id")}
        assert [r["status"] for r in before.values()] == ["running", "running", "running", "queued"]
        pending = rows(data, "SELECT * FROM ledger ORDER BY id")
        # The three calls in flight were written down before they were sent: nothing that may be billed vanishes.
        assert [(e["status"], e["cost_micro"]) for e in pending] == [("pending", None)] * 3
        requests_before_restart = len(image_api.requests)
        assert requests_before_restart == 3

        # The restart: told, not re-run; the job that had not started runs, once.
        async with imagebot(tmp_path, slack, env) as second:
            by_prompt = {c["text"].split(": ", 1)[1]: c for c in cards(slack)}
            interrupted = [by_prompt[p] for _, p in asked[:3]]
            queued_card = by_prompt[asked[3][1]]
            told = await slack.wait_for(lambda: all(notices(slack, c["ts"]) for c in interrupted) and [
                notices(slack, c["ts"])[0] for c in interrupted], timeout=WAIT)
            await slack.wait_for(lambda: images_in(slack, queued_card["ts"]), timeout=WAIT)
            await slack.wait_for(lambda: all("Interrupted by a restart" in card_text(c) for c in interrupted)
                                 and "Done" in card_text(queued_card), timeout=WAIT)
            after = await until_rows(data, "SELECT * FROM jobs WHERE status IN ('interrupted', 'done') ORDER BY id", 4)
            assert [r["status"] for r in after] == ["interrupted", "interrupted", "interrupted", "done"]
            assert [r["id"] for r in after] == list(before)  # no job was created by the restart
            for notice, job in zip(told, after, strict=False):
                assert run_again_button(notice)["value"] == str(job["id"])
                assert "interrupted" in notice["text"] and "may already have been billed" in notice["text"]
            restart_requests = [r.json["prompt"] for r in image_api.requests[requests_before_restart:]]
            assert restart_requests == [asked[3][1]]  # only the job that never reached the API
            ledger = rows(data, "SELECT * FROM ledger ORDER BY id")
            # The cut calls stay in the ledger as interrupted, cost unknown (never silently re-run or re-billed).
            # The three ran at once, so their rows were written in whatever order they reached the API.
            assert sorted((e["job_id"], e["status"], e["error_code"], e["cost_micro"]) for e in ledger[:3]) == [
                (job["id"], "error", "interrupted", None) for job in after[:3]]
            assert [e["job_id"] for e in ledger[3:]] == [after[3]["id"]]

            # Bob presses Run it again under Alice's request: refused, privately; nothing runs.
            refused = await slack.send_interaction(click(slack, BOB, told[0]))
            assert refused.status == 200
            await slack.wait_for(lambda: [e for e in slack.ephemerals(user_id=BOB)
                                          if f"Only <@{ALICE}>" in e["text"]], timeout=WAIT)
            assert len(rows(data, "SELECT id FROM jobs")) == 4

            # Each owner presses it (Alice's click is delivered twice): one new job, one call, one image each.
            for (user, _), notice in zip(asked[:3], told, strict=True):
                payload = click(slack, user, notice)
                assert (await slack.send_interaction(payload)).status == 200
                if user == ALICE:
                    assert (await slack.send_interaction(payload)).status == 200  # Slack's redelivery
            await slack.wait_for(lambda: all(images_in(slack, c["ts"]) for c in interrupted), timeout=WAIT)
            retries = await until_rows(data, "SELECT * FROM jobs WHERE retry_of IS NOT NULL AND status = 'done'", 3)
            await slack.drain()

            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), WAIT) == 0

        output = second.output.decode(errors="replace")  # type: ignore[attr-defined]
        assert "recovered jobs: 3 interrupted" in output and "Traceback" not in output, output
        jobs = rows(data, "SELECT * FROM jobs ORDER BY id")
        ledger = rows(data, "SELECT * FROM ledger ORDER BY id")
        assert len(jobs) == 7 and sorted(r["retry_of"] for r in retries) == sorted(before)[:3]
        assert all(r["status"] == "done" for r in retries)

        # The figures: what was asked, what came of it, and nothing twice or lost.
        sent = len(asked)
        threads = [c["ts"] for c in cards(slack)]
        completed = sum(1 for ts in threads if len(images_in(slack, ts)) == 1)
        # Each told once; pressing Run it again replaced its notice (replace_original), its button gone.
        told_count = sum(1 for c in interrupted if not notices(slack, c["ts"]) and len(
            [m for m in slack.thread(CHANNEL, c["ts"]) if "running it again" in m.get("text", "")]) == 1)
        duplicates = sum(len(images_in(slack, ts)) - 1 for ts in threads if images_in(slack, ts))
        calls = [r.json["prompt"] for r in image_api.requests]
        lost = sent - completed
        assert (sent, completed, told_count, duplicates, lost) == (4, 4, 3, 0, 0)
        assert len(threads) == 4, [(c["text"], card_text(c)) for c in cards(slack)]
        assert len(calls) == 3 + 1 + 3  # killed calls, the queued job, three run-agains
        assert sorted(calls) == sorted([p for _, p in asked[:3]] * 2 + [asked[3][1]])
        billed = [e for e in ledger if e["status"] == "ok"]
        assert len(ledger) == 7 and len(billed) == 4 and all(e["cost_micro"] > 0 for e in billed)
        assert sorted(e["job_id"] for e in billed) == sorted([after[3]["id"], *(r["id"] for r in retries)])


async def test_run_it_again_pressed_again_and_after_another_restart_reruns_and_bills_once(tmp_path: Path) -> None:
    """One press, one rerun: a second and third press of the same notice, and one after the next restart, are told
    it was run again already; the notice's button is replaced (by chat.update when the response_url is gone)."""
    data = tmp_path / "data"
    already = "That was run again already."
    async with SlackStandIn() as slack, ImageAPIStandIn() as image_api:
        env = serve_env(tmp_path, slack, image_api)
        async with imagebot(tmp_path, slack, env) as first:
            image_api.pause()
            assert (await slack.send_command(ALICE, CHANNEL, "a lighthouse at dusk")).status == 200
            await image_api.wait_for_waiting(1, timeout=WAIT)
            await until_rows(data, "SELECT jobs.id FROM jobs JOIN threads ON threads.thread_ts = jobs.thread_ts", 1)
            first.kill()
            assert await asyncio.wait_for(first.wait(), WAIT) == -signal.SIGKILL
        image_api.resume()
        [card] = cards(slack)

        def told_already() -> int:
            return sum(1 for e in slack.ephemerals(user_id=ALICE) if e["text"] == already)

        async with imagebot(tmp_path, slack, env) as second:
            [notice] = await slack.wait_for(lambda: notices(slack, card["ts"]), timeout=WAIT)
            stale = copy.deepcopy(notice)  # what a client that has not redrawn the message still shows
            gone = click(slack, ALICE, stale)
            gone["response_url"] = f"{slack.base_url}response/gone"  # expired: the button goes by chat.update
            for payload in (gone, click(slack, ALICE, stale), click(slack, ALICE, stale)):
                assert (await slack.send_interaction(payload)).status == 200
            await slack.wait_for(lambda: images_in(slack, card["ts"]), timeout=WAIT)
            await until_rows(data, "SELECT id FROM jobs WHERE retry_of IS NOT NULL AND status = 'done'", 1)
            await slack.wait_for(lambda: told_already() == 2, timeout=WAIT)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), WAIT) == 0

        async with imagebot(tmp_path, slack, env) as third:
            assert (await slack.send_interaction(click(slack, ALICE, stale))).status == 200
            await slack.wait_for(lambda: told_already() == 3, timeout=WAIT)
            await slack.drain()
            third.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(third.wait(), WAIT) == 0

        jobs = rows(data, "SELECT * FROM jobs ORDER BY id")
        ledger = rows(data, "SELECT * FROM ledger ORDER BY id")
        assert [(j["status"], j["retry_of"]) for j in jobs] == [("interrupted", None), ("done", jobs[0]["id"])]
        assert [(e["job_id"], e["status"]) for e in ledger] == [(jobs[0]["id"], "error"), (jobs[1]["id"], "ok")]
        assert len(image_api.requests) == 2 and len(images_in(slack, card["ts"])) == 1  # the cut call, one rerun
        replaced = next(m for m in slack.thread(CHANNEL, card["ts"]) if m["ts"] == notice["ts"])
        assert run_again_button(replaced) is None and f"<@{ALICE}> is running it again" in replaced["text"]


async def test_sigkill_mid_workflow_step_then_restart_fails_the_step_instead_of_leaving_it_pending(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with SlackStandIn() as slack, ImageAPIStandIn() as image_api:
        slack.define_function(WORKFLOW_STEP, workflow_step())
        env = serve_env(tmp_path, slack, image_api)
        async with imagebot(tmp_path, slack, env) as first:
            image_api.pause()
            execution, delivery = await slack.run_function(WORKFLOW_STEP, {"prompt": "a lighthouse", "user_id": ALICE,
                                                                            "channel": CHANNEL})
            assert delivery.status == 200
            await image_api.wait_for_waiting(1, timeout=WAIT)
            await until_rows(data, "SELECT id FROM jobs WHERE status = 'running'", 1)
            first.kill()
            assert await asyncio.wait_for(first.wait(), WAIT) == -signal.SIGKILL
        image_api.resume()
        assert slack.execution(execution)["state"] == "running"  # nothing ran after the kill
        async with imagebot(tmp_path, slack, env):
            ended = await slack.wait_for_execution(execution, WAIT)
        assert ended["state"] == "failed" and "restarted" in ended["error"], ended
        assert len(image_api.requests) == 1  # told, not run again on its own (it may have been billed)
