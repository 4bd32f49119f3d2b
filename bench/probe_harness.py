"""The probe's launcher and readers: the real `imagebot serve` in a subprocess, pointed at stand-ins in this one.

Used by bench/probe.py and its scenario modules. The launcher follows tests/test_faults.py (`serve_env`,
`imagebot`, `rows`), with two differences a hostile-input probe needs: the process's output is read in chunks,
not lines (a rejected 900 KB body may be logged as one line, longer than a StreamReader's line limit), and its
size is what the log-growth figures are taken from. Every wait here has a cap; none is a delay that must be
long enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import hmac
import os
import secrets
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn

REPO = Path(__file__).resolve().parents[1]
CHANNEL = "C0GENERAL"
ALICE, BOB = "U0ALICE", "U0BOB"
RUN_AGAIN = "imagebot_run_again"
START_CAP = 60.0  # seconds a process may take to serve
SETTLE_CAP = 120.0  # seconds jobs may take to finish once the API answers
READY_LINE = b"serving Slack over HTTP"
ACTIVE = ("queued", "running")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_env(root: Path, slack: SlackStandIn, openai_base_url: str, api_key: str, **extra: str) -> dict[str, str]:
    """A fresh shell plus an HTTP deployment's settings, pointed at the stand-ins. The ops port is a free one, so
    probes (and tests) running side by side never meet on a default port."""
    root.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "PYTHONPATH": str(REPO),
            "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_SIGNING_SECRET": slack.signing_secret,
            "SLACK_API_URL": slack.api_url, "OPENAI_API_KEY": api_key, "OPENAI_BASE_URL": openai_base_url,
            "IMAGEBOT_DATA_DIR": str(root / "data"), "IMAGEBOT_OPS_PORT": str(free_port()), **extra}


@dataclass
class Bot:
    """One running `imagebot serve` and everything it has printed so far."""

    process: asyncio.subprocess.Process
    port: int
    data_dir: Path
    output: bytearray = field(default_factory=bytearray)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    @property
    def log_size(self) -> int:
        return len(self.output)

    def log_text(self, since: int = 0) -> str:
        return self.output[since:].decode(errors="replace")

    def tracebacks(self, since: int = 0) -> int:
        return self.output[since:].count(b"Traceback (most recent call last)")

    async def settle_log(self, quiet: float = 0.2, cap: float = 5.0) -> int:
        """The log's size once nothing was added for `quiet` seconds (or after `cap`)."""
        deadline = time.monotonic() + cap
        size = self.log_size
        while time.monotonic() < deadline:
            await asyncio.sleep(quiet)
            if self.log_size == size:
                break
            size = self.log_size
        return self.log_size

    def peak_rss_mb(self) -> float | None:
        """VmHWM of the process (its peak resident memory), while it is alive."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()

    async def wait(self, cap: float) -> int | None:
        """The exit code, or None if the process still runs after `cap` seconds."""
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.process.wait(), cap)
        return None


async def spawn(root: Path, env: dict[str, str], *args: str) -> tuple[Bot, asyncio.Task[None]]:
    """`imagebot serve <args>` with its output drained into Bot.output by the returned task."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "imagebot", "serve", *args, "--host", "127.0.0.1", "--port", str(port), cwd=root, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    bot = Bot(process, port, Path(env["IMAGEBOT_DATA_DIR"]))

    async def collect() -> None:  # keep the pipe drained so the app never blocks on logging
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            bot.output.extend(chunk)

    return bot, asyncio.create_task(collect())


@asynccontextmanager
async def imagebot(root: Path, slack: SlackStandIn, env: dict[str, str]) -> AsyncIterator[Bot]:
    """`imagebot serve --http` on a free port, with Slack pointed at it once it serves and has read its jobs
    table; killed if still alive at the end."""
    bot, reader = await spawn(root, env, "--http")
    try:
        deadline = time.monotonic() + START_CAP
        while READY_LINE not in bot.output:
            if bot.process.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"imagebot did not start:\n{bot.log_text()[-3000:]}")
            await asyncio.sleep(0.05)
        slack.app_request_url = bot.url
        # As in tests/test_faults.py: a reply in a thread that is no image thread makes the app read the database
        # before it acks, behind recovery's reads, so nothing sent next is mistaken for a dead process's job.
        chatter = await slack.post_message(BOB, CHANNEL, "is the bot back?")
        await slack.post_message(BOB, CHANNEL, "it seems so", thread_ts=chatter["ts"])
        yield bot
    finally:
        bot.kill()
        await bot.wait(START_CAP)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader, START_CAP)


@asynccontextmanager
async def world(root: Path, **extra_env: str) -> AsyncIterator[tuple[SlackStandIn, ImageAPIStandIn, Bot]]:
    """Both stand-ins in this process and one imagebot serving them, on a fresh data folder under `root`."""
    async with SlackStandIn() as slack, ImageAPIStandIn() as api:
        env = serve_env(root, slack, api.openai_base_url, api.api_key, **extra_env)
        async with imagebot(root, slack, env) as bot:
            yield slack, api, bot


@dataclass
class Row:
    """One line of the probe's table: a scenario, how many cases were tried, whether the property held for all."""

    scenario: str
    tried: int | str
    held: str  # "yes" | "no" | "skipped" | "error"
    what: str

    @classmethod
    def judged(cls, scenario: str, tried: int | str, ok: bool, what: str) -> Row:
        return cls(scenario, tried, "yes" if ok else "no", what)


# ---------------------------------------------------------------------------------------------- the database

def rows(data_dir: Path, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Read imagebot's database from outside, read-only (the process may be running)."""
    conn = sqlite3.connect(f"file:{data_dir / 'imagebot.db'}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql, params)]
    finally:
        conn.close()


def columns(data_dir: Path, table: str) -> set[str]:
    return {r["name"] for r in rows(data_dir, f"PRAGMA table_info({table})")}


async def until(predicate: Callable[[], Any], cap: float, every: float = 0.05) -> Any:
    """The predicate's first truthy value, or its last (falsy) one after `cap` seconds."""
    deadline = time.monotonic() + cap
    # The database and the log are another process's: polling is the only way to watch them.
    while not (value := predicate()) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(every)
    return value


async def settle_jobs(data_dir: Path, cap: float = SETTLE_CAP) -> bool:
    """True once no job is queued or running (False if some still are after `cap` seconds)."""
    active = f"SELECT count(*) AS n FROM jobs WHERE status IN {ACTIVE}"
    return bool(await until(lambda: rows(data_dir, active)[0]["n"] == 0, cap, every=0.1))


# ---------------------------------------------------------------------------------------------- raw requests

def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature: https://api.slack.com/authentication/verifying-requests-from-slack"""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, content_type: str = "application/x-www-form-urlencoded",
                   timestamp: str | None = None) -> dict[str, str]:
    timestamp = timestamp if timestamp is not None else str(int(time.time()))
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature(secret, timestamp, body)}


@dataclass
class Answer:
    status: int  # 0: no answer (connection error or timeout)
    text: str
    elapsed_ms: float
    error: str | None = None


async def post_raw(session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str],
                   cap: float = 30.0) -> Answer:
    """POST exactly these bytes and headers, as a forger (or a buggy Slack) would."""
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers,
                                timeout=aiohttp.ClientTimeout(total=cap)) as response:
            text = await response.text(errors="replace")
            return Answer(response.status, text[:2000], (time.perf_counter() - started) * 1000)
    except (aiohttp.ClientError, TimeoutError) as error:
        return Answer(0, "", (time.perf_counter() - started) * 1000, f"{type(error).__name__}: {error}")


# ---------------------------------------------------------------------------------------------- what Slack shows

def cards(slack: SlackStandIn, channel: str = CHANNEL) -> list[dict[str, Any]]:
    """The bot's top-level messages: the cards /image posts."""
    return [m for m in slack.messages(channel) if m.get("bot_id") and m.get("thread_ts", m["ts"]) == m["ts"]]


def bot_replies(slack: SlackStandIn, thread_ts: str, channel: str = CHANNEL) -> list[dict[str, Any]]:
    return [m for m in slack.thread(channel, thread_ts)[1:] if m.get("bot_id")]


def files_in(slack: SlackStandIn, thread_ts: str, channel: str = CHANNEL) -> tuple[int, int]:
    """(files the bot posted in the thread, how many of them repeat an earlier one byte for byte). An SVG comes
    with its PNG rendering and n images differ from each other, so only a repeat is a duplicate upload."""
    seen: set[str] = set()
    posted = repeats = 0
    for message in bot_replies(slack, thread_ts, channel):
        for file in message.get("files") or []:
            posted += 1
            digest = hashlib.sha256(slack.file_bytes(file["id"])).hexdigest()
            repeats += digest in seen
            seen.add(digest)
    return posted, repeats


def card_text(message: dict[str, Any]) -> str:
    parts = [message.get("text") or ""]
    for block in message.get("blocks") or []:
        if block.get("type") == "section":
            parts.append(block["text"]["text"])
        elif block.get("type") == "context":
            parts.extend(e.get("text", "") for e in block["elements"])
    return "\n".join(parts)


def trigger() -> str:
    """A fresh trigger_id in Slack's shape: every press or command has its own."""
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def button(message: dict[str, Any], action_id: str) -> dict[str, Any] | None:
    for block in message.get("blocks") or []:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return dict(element, block_id=block.get("block_id"))
    return None


def press(slack: SlackStandIn, user_id: str, message: dict[str, Any], action_id: str = RUN_AGAIN,
          channel: str = CHANNEL) -> dict[str, Any]:
    """block_actions for `user_id` pressing a button of `message`, as Slack sends it (a new trigger each time)."""
    element = button(message, action_id)
    if element is None:
        raise LookupError(f"no {action_id} button in the message")
    return {
        "type": "block_actions", "user": {"id": user_id, "name": slack.users[user_id]["name"],
                                          "team_id": slack.team_id},
        "api_app_id": slack.app_id, "token": slack.verification_token,
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel,
                      "is_ephemeral": False, "thread_ts": message.get("thread_ts")},
        "trigger_id": trigger(),
        "team": {"id": slack.team_id, "domain": slack.team_domain}, "channel": {"id": channel, "name": "general"},
        "message": copy.deepcopy(message), "response_url": slack.new_response_url(user_id, channel),
        "actions": [{"action_id": action_id, "block_id": element["block_id"] or "imagebot", "text": element["text"],
                     "value": element.get("value", ""), "type": "button", "action_ts": f"{time.time():.6f}"}],
    }
