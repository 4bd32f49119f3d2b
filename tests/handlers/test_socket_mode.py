"""Socket Mode: the supervisor's backoff and states (pure, on an injected clock), the real client against the
Slack stand-in in-process, and `imagebot serve` as deployed, in a subprocess.

The real command runs with only an app token, a bot token and the stand-in's API URL: it opens a Socket Mode
connection (apps.connections.open, then the WebSocket), answers a slash command and a thread reply that arrive
as envelopes, reconnects when Slack refreshes the connection, and stops cleanly on SIGTERM. With Slack
unreachable, or silent, it retries with one log line per attempt, says so on /readyz, and still stops on SIGTERM.
No signing secret and no OpenAI key: the image provider is the offline renderer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from handlers.manifest import WORKFLOW_STEP, workflow_step
from handlers.socket_mode import CHECK_INTERVAL, SocketMode, Supervisor, backoff
from standins.slack import SlackStandIn

pytestmark = pytest.mark.anyio
IMAGEBOT = [sys.executable, "-m", "imagebot", "serve"]
REPO = Path(__file__).resolve().parents[2]
CHANNEL = "C0GENERAL"
WAIT = 60.0  # a bound for the subprocess and its jobs, never a delay
STOP_CAP = 30.0  # SIGTERM to exit, at most: a cap for a hung process, not a timing assertion
EPOCH = 1_800_000_000.0  # the injected wall clock's start


# the backoff and the supervisor, on an injected clock ---------------------------------------------------------


def test_backoff_doubles_from_a_second_to_a_minute_and_spreads_a_quarter_either_way() -> None:
    assert [backoff(n, 0.5) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert (backoff(1, 0.0), backoff(1, 1.0), backoff(3, 0.0)) == (0.75, 1.25, 3.0)
    assert backoff(9, 0.999) == pytest.approx(74.97)  # the cap, plus its quarter
    assert backoff(10_000, 0.5) == 60  # no overflow however long Slack is away


class Clock:
    """A clock and a sleep that waits no time (it yields to the loop); `waits` records what was asked."""

    def __init__(self) -> None:
        self.t = 0.0
        self.waits: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)

    def monotonic(self) -> float:
        return self.t

    def now(self) -> float:
        return EPOCH + self.t


class Link:
    """The far side, scripted: each attempt takes the next outcome, an exception to raise or seconds to stay up;
    once the script is used up, an attempt hangs (as apps.connections.open does when Slack never answers)."""

    def __init__(self, clock: Clock, *outcomes: BaseException | float) -> None:
        self.clock, self.outcomes = clock, list(outcomes)
        self.attempts = 0
        self.up_until: float | None = None
        self.hanging = asyncio.Event()

    async def connect(self) -> None:
        self.attempts += 1
        self.up_until = None
        if not self.outcomes:
            self.hanging.set()
            await asyncio.Event().wait()
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        self.up_until = self.clock.t + outcome

    async def connected(self) -> bool:
        return self.up_until is not None and self.clock.t < self.up_until


def supervised(clock: Clock, link: Link, draw: float) -> Supervisor:
    return Supervisor(link.connect, link.connected, sleep=clock.sleep, draw=lambda: draw, clock=clock.monotonic,
                      now=clock.now)


def utc(seconds: float) -> str:
    return datetime.fromtimestamp(EPOCH + seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def stopped_while_connecting(supervisor: Supervisor, link: Link) -> None:
    """Run until an attempt hangs, then cancel, as SIGTERM does: it must end there and then."""
    task = asyncio.create_task(supervisor.run())
    await asyncio.wait_for(link.hanging.wait(), WAIT)
    task.cancel()
    await asyncio.wait([task], timeout=WAIT)
    assert task.cancelled()


def socket_mode_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "handlers.socket_mode"]


async def test_failed_attempts_back_off_with_one_line_each_and_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="handlers.socket_mode")
    clock = Clock()
    link = Link(clock, *(ConnectionRefusedError(111, "Connect call failed") for _ in range(8)))
    supervisor = supervised(clock, link, draw=0.5)
    assert await supervisor.check() == f"not connected since {utc(0)}"
    await stopped_while_connecting(supervisor, link)

    assert link.attempts == 9 and clock.waits == [1, 2, 4, 8, 16, 32, 60, 60]
    lines = socket_mode_lines(caplog)
    assert [r.getMessage() for r in lines] == [
        f"Socket Mode: could not connect to Slack (attempt {n}: ConnectionRefusedError: [Errno 111] Connect call "
        f"failed); trying again in {wait:.1f} s" for n, wait in enumerate(clock.waits, start=1)]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in lines)
    assert await supervisor.check() == (f"not connected since {utc(0)} (ConnectionRefusedError: [Errno 111] Connect "
                                        "call failed)")


async def test_a_lasting_connection_resets_the_backoff_and_a_short_one_counts_as_a_failure(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="handlers.socket_mode")
    clock = Clock()
    link = Link(clock, 100.0, 5.0, TimeoutError())  # up 100 s, up 5 s, then an attempt that times out
    supervisor = supervised(clock, link, draw=0.0)
    await stopped_while_connecting(supervisor, link)

    assert link.attempts == 4
    # Looked at every CHECK_INTERVAL while up; straight back after the long connection, a backoff after the rest.
    assert [w for w in clock.waits if w != CHECK_INTERVAL] == [0.75, 1.5]
    assert len(clock.waits) == 100 + 5 + 2
    assert [r.getMessage() for r in socket_mode_lines(caplog)] == [
        "Socket Mode: connected to Slack (attempt 1)",
        "Socket Mode: the connection to Slack closed after 100 s; reconnecting",
        "Socket Mode: connected to Slack (attempt 2)",
        "Socket Mode: could not connect to Slack (attempt 2: connected, but the connection closed after 5 s); trying "
        "again in 0.8 s",
        "Socket Mode: could not connect to Slack (attempt 3: no answer within 30 s); trying again in 1.5 s"]
    assert await supervisor.check() == f"not connected since {utc(105)} (no answer within 30 s)"


async def test_a_stop_that_lands_as_an_attempt_succeeds_still_stops_it() -> None:
    clock = Clock()
    link = Link(clock, 100.0)

    async def connect_and_be_stopped() -> None:  # SIGTERM arrives just as the WebSocket opens
        await link.connect()
        task.cancel()

    supervisor = Supervisor(connect_and_be_stopped, link.connected, sleep=clock.sleep, clock=clock.monotonic)
    task = asyncio.create_task(supervisor.run())
    await asyncio.wait([task], timeout=WAIT)
    assert task.cancelled() and link.attempts == 1  # stopped at its next wait, not after 100 s of connection


async def test_an_unexpected_error_is_not_retried_but_raised() -> None:
    clock = Clock()
    supervisor = supervised(clock, Link(clock, KeyError("url")), draw=0.5)
    with pytest.raises(KeyError):
        await asyncio.wait_for(supervisor.run(), WAIT)  # a bug is loud: serve exits and is restarted


# the real client, in-process, against the Slack stand-in ------------------------------------------------------


async def test_the_client_honours_retry_after_reconnects_when_slack_refreshes_and_closes(slack: SlackStandIn) -> None:
    slack.fail_next("apps.connections.open", status=429, error="ratelimited", retry_after=7)
    slack.fail_next("apps.connections.open", status=200, error="internal_error", retry_after=None)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # records; a short real wait, so a connected check is no busy loop
        waits.append(seconds)
        await asyncio.sleep(0.01)

    app = AsyncApp(client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url), signing_secret="unused")
    mode = SocketMode(app, slack.app_token, slack.api_url, sleep=sleep)
    mode.start()
    try:
        first = await slack.wait_for_socket(timeout=WAIT)
        assert await mode.check() is None
        assert waits[0] == 7 and 1.5 <= waits[1] <= 2.5  # Slack's Retry-After, then the backoff's second step
        await slack.disconnect_sockets()  # Slack's connection refresh: the app closes, the supervisor opens anew
        second = await slack.wait_for(lambda: next((c for c in slack.open_connections() if c is not first), None),
                                      timeout=WAIT)
        assert first.closed_by == "app"
        assert [c.token for c in slack.calls_to("apps.connections.open")] == [slack.app_token] * 4
    finally:
        await mode.close()
    await slack.wait_for(lambda: not second.is_open, timeout=WAIT)
    assert second.closed_by == "app" and second.close_code == 1000 and mode.task and mode.task.done()


# `imagebot serve`, in a subprocess ---------------------------------------------------------------------------


def socket_mode_env(tmp_path: Path, slack: SlackStandIn | None = None, **extra: str) -> dict[str, str]:
    """What a fresh shell plus a Socket Mode deployment has: two tokens and where Slack is, nothing else."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "PYTHONPATH": str(REPO),
           "IMAGEBOT_DATA_DIR": str(tmp_path / "data")}
    if slack is not None:
        env.update(SLACK_BOT_TOKEN=slack.bot_token, SLACK_APP_TOKEN=slack.app_token, SLACK_API_URL=slack.api_url)
    env.update(extra)
    return env


class Serving:
    """`imagebot serve` in Socket Mode, its output collected as it comes (the pipe never fills)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = bytearray()
        self.reader = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        assert self.process.stdout is not None
        while chunk := await self.process.stdout.read(65536):
            self.output.extend(chunk)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    async def wait_for(self, pattern: str) -> re.Match[str]:
        """The first match of `pattern` in the output, once it is there (polled, up to WAIT)."""
        for _ in range(int(WAIT / 0.05)):
            if found := re.search(pattern, self.text):
                return found
            assert self.process.returncode is None, f"imagebot exited:\n{self.text}"
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in:\n{self.text}")

    async def urls(self) -> tuple[str, str]:
        """Where it serves: the main port (Slack's side, /healthz) and the ops port (/readyz, /metrics)."""
        main = await self.wait_for(r"serving HTTP on (http://127\.0\.0\.1:\d+)")
        ops = await self.wait_for(r"operational endpoints \(no authentication\) on (http://127\.0\.0\.1:\d+)")
        return main.group(1), ops.group(1)

    async def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.process.wait(), STOP_CAP)
        await asyncio.wait_for(self.reader, WAIT)
        return code


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, env: dict[str, str]) -> AsyncIterator[Serving]:
    process = await asyncio.create_subprocess_exec(
        *IMAGEBOT, "--host", "127.0.0.1", "--port", "0", "--ops-port", "0", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    bot = Serving(process)
    try:
        yield bot
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        bot.reader.cancel()
        await asyncio.gather(bot.reader, return_exceptions=True)


def first_card(slack: SlackStandIn) -> dict[str, Any] | None:
    """The bot's top-level card, once it says Done."""
    return next((m for m in slack.messages(CHANNEL)
                 if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"] and "Done" in str(m.get("blocks"))),
                None)


def images_in_thread(slack: SlackStandIn, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.thread(CHANNEL, thread_ts)[1:] if m.get("bot_id") and m.get("files")]


async def wait_until(predicate: Callable[[], Any], slack: SlackStandIn) -> Any:
    return await slack.wait_for(predicate, timeout=WAIT)


async def test_serve_socket_mode_generates_edits_reconnects_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    async with SlackStandIn() as slack, serving(tmp_path, socket_mode_env(tmp_path, slack)) as bot:
        slack.transport = "socket"  # Socket Mode is on: nothing goes over HTTP, there is no request URL
        slack.fail_next("apps.connections.open", status=200, error="internal_error", retry_after=None)
        waiting = asyncio.create_task(slack.wait_for_socket(timeout=WAIT))
        try:
            await asyncio.wait([waiting, bot.reader], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
        assert waiting.done() and not waiting.cancelled(), f"imagebot exited before connecting:\n{bot.text}"
        connection = waiting.result()
        refused, opened = slack.calls_to("apps.connections.open")  # the first refused, retried after a backoff
        assert refused.token == opened.token == slack.app_token
        assert "attempt 1: apps.connections.open: internal_error" in bot.text

        command = await slack.send_command("U0ALICE", CHANNEL, "a lighthouse")
        assert (command.transport, command.status, command.error) == ("socket", 200, None)
        card = await wait_until(lambda: first_card(slack), slack)
        first = await wait_until(lambda: images_in_thread(slack, card["ts"]), slack)
        assert first[0]["files"][0]["mimetype"] == "image/png"

        # Socket Mode has no request URL; /healthz is on the main port, /readyz and /metrics only on the ops port.
        main, ops = await bot.urls()
        async with httpx.AsyncClient(trust_env=False, timeout=WAIT) as http:
            for url in (main, ops):
                assert (await http.get(f"{url}/healthz")).text == "ok"
            ready = await http.get(f"{ops}/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["slack"] == ready.json()["checks"]["socket"] == "ok"
            assert (await http.get(f"{ops}/metrics")).status_code == 200
            for path in ("/readyz", "/metrics"):
                assert (await http.get(f"{main}{path}")).status_code == 404
            assert (await http.post(f"{main}/slack/events")).status_code in (404, 405)

        await slack.drain()  # the echoes of the bot's posts are in before Slack refreshes the connection
        await slack.disconnect_sockets()
        refreshed = await wait_until(lambda: next((c for c in slack.open_connections() if c is not connection),
                                                  None), slack)
        assert connection.closed_by == "app"

        reply = await slack.post_message("U0ALICE", CHANNEL, "make the sky purple", thread_ts=card["ts"])
        assert slack.deliveries[-1].status == 200 and slack.deliveries[-1].transport == "socket"
        both = await wait_until(lambda: len(images_in_thread(slack, card["ts"])) >= 2 and
                                images_in_thread(slack, card["ts"]), slack)
        assert float(both[-1]["ts"]) > float(reply["ts"])
        assert slack.file_bytes(both[-1]["files"][0]["id"]) != slack.file_bytes(first[0]["files"][0]["id"])
        slack.define_function(WORKFLOW_STEP, workflow_step())  # Workflow Builder's step, over the socket too
        execution, run = await slack.run_function(WORKFLOW_STEP, {"prompt": "a kite", "user_id": "U0ALICE",
                                                                   "channel": CHANNEL})
        assert (run.transport, run.status) == ("socket", 200)
        assert (await slack.wait_for_execution(execution, WAIT))["state"] == "completed"
        await slack.drain()  # the echoes of the bot's own posts went over the socket too, and were acked
        assert all(d.transport == "socket" and d.status == 200 for d in slack.deliveries), [
            (d.kind, d.status, d.error) for d in slack.deliveries]

        assert await bot.stop() == 0
        assert "stopped" in bot.text and "Traceback" not in bot.text, bot.text
        await wait_until(lambda: not refreshed.is_open, slack)
        assert refreshed.closed_by == "app" and refreshed.close_code == 1000


def attempt_numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"could not connect to Slack \(attempt (\d+): ", text)]


async def test_with_slack_unreachable_serve_retries_one_line_each_is_not_ready_and_stops_on_sigterm(
        tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nobody listens on: every connection is refused
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}/api/"
        env = socket_mode_env(tmp_path, SLACK_BOT_TOKEN="xoxb-1-unreachable", SLACK_APP_TOKEN="xapp-1-unreachable",
                              SLACK_API_URL=nowhere)
        async with serving(tmp_path, env) as bot:
            await bot.wait_for(r"attempt 2: ")  # it retried, so it is waiting to try again
            main, ops = await bot.urls()
            async with httpx.AsyncClient(trust_env=False, timeout=WAIT) as http:
                for url in (main, ops):
                    assert (await http.get(f"{url}/healthz")).text == "ok"  # alive, but…
                ready = await http.get(f"{ops}/readyz")  # …not ready, and it says why
            assert ready.status_code == 503
            assert re.fullmatch(r"not connected since \S+Z \(ClientConnectorError: Cannot connect to host .*\)",
                                ready.json()["checks"]["socket"]), ready.text
            assert await bot.stop() == 0
    text = bot.text
    assert "stopped" in text and "Traceback" not in text, text
    attempts = attempt_numbers(text)
    assert len(attempts) >= 2 and attempts == list(range(1, len(attempts) + 1)), text
    # The one line per attempt is ours: slack_sdk neither retries apps.connections.open nor logs its failures.
    assert not [line for line in text.splitlines() if "apps.connections.open" in line or "Failed to connect" in line]


async def test_a_sigterm_while_connecting_to_a_slack_that_never_answers_stops_serve(tmp_path: Path) -> None:
    accepted = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        accepted.set()
        await reader.read()  # until imagebot hangs up

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}/api/"
        env = socket_mode_env(tmp_path, SLACK_BOT_TOKEN="xoxb-1-silent", SLACK_APP_TOKEN="xapp-1-silent",
                              SLACK_API_URL=url)
        async with serving(tmp_path, env) as bot:
            await asyncio.wait_for(accepted.wait(), WAIT)  # apps.connections.open is on its way, unanswered
            await bot.urls()
            assert await bot.stop() == 0
    finally:
        for writer in held:
            writer.close()
        silent.close()
        await silent.wait_closed()
    assert "stopped" in bot.text and "Traceback" not in bot.text and not attempt_numbers(bot.text), bot.text
