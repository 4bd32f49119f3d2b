"""Crashes and a Slack that cannot be reached: SIGKILL mid-call then Run it again, and Socket Mode stopping.

Each function returns one table row; none asserts.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.probe_harness import (
    CHANNEL,
    REPO,
    RUN_AGAIN,
    START_CAP,
    Bot,
    Row,
    bot_replies,
    button,
    columns,
    free_port,
    imagebot,
    press,
    rows,
    serve_env,
    settle_jobs,
    spawn,
    until,
)
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn

CAP = 30.0  # seconds any one step of a round may take
PRESSES = 3


@dataclass
class Round:
    told: bool = False
    reruns: int = 0
    new_rows: int = 0
    estimate: int | None = None  # the interrupted call's estimate_micro, if the ledger has one
    cost: int | None = None  # its cost_micro


async def kill_rounds(root: Path, count: int) -> Row:
    """`count` rounds: /image with the image API paused, SIGKILL while the call is in flight, restart, then
    Run it again pressed three times (three presses of the same button, as an impatient user does)."""
    async with SlackStandIn() as slack, ImageAPIStandIn() as api:
        env = serve_env(root, slack, api.openai_base_url, api.api_key)
        found = [await _round(root, slack, api, env, n) for n in range(count)]
        has_estimate = "estimate_micro" in columns(root / "data", "ledger")
    once = sum(1 for r in found if r.reruns == 1)
    one_row = sum(1 for r in found if r.new_rows == 1)
    estimated = sum(1 for r in found if r.estimate)
    extra_runs = sum(max(0, r.reruns - 1) for r in found)
    what = (f"told in {sum(r.told for r in found)}/{count}; one rerun in {once}/{count} ({extra_runs} extra); "
            f"one new ledger row in {one_row}/{count}; interrupted call counted at its estimate in "
            f"{estimated}/{count}")
    if has_estimate:
        what += f" (estimate_micro: {sum(r.estimate or 0 for r in found) / 1e6:.2f} USD in all)"
    else:
        what += " (the ledger has no estimate_micro column"
        unknown = sum(1 for r in found if r.cost is None)
        what += f"; cost_micro NULL in {unknown}/{count})"
    ok = once == one_row == estimated == count and all(r.told for r in found)
    return Row.judged("kill -9 mid-call, restart, Run it again x3", count, ok, what)


async def _round(root: Path, slack: SlackStandIn, api: ImageAPIStandIn, env: dict[str, str], n: int) -> Round:
    data = root / "data"
    user = f"U0KILL{n:02d}"  # one user a round: twenty rounds from one user would meet the per-minute limit
    slack.add_user(user, user.lower())
    async with imagebot(root, slack, env) as first:
        api.pause()
        await slack.send_command(user, CHANNEL, f"round {n}: a lighthouse at dusk")
        await api.wait_for_waiting(1, timeout=CAP)
        running = "SELECT id, thread_ts FROM jobs WHERE status = 'running' AND thread_ts IS NOT NULL"
        job = (await until(lambda: rows(data, running), CAP))[0]
        first.kill()
        await first.wait(CAP)
    api.resume()  # the held call is answered into a closed socket
    ledger_before = _ledger_count(data)
    result = Round()
    async with imagebot(root, slack, env) as _second:
        notice = await until(lambda: _notice(slack, job["thread_ts"]), CAP)
        result.told = notice is not None
        if notice is not None:
            for press_number in range(PRESSES):
                await slack.send_interaction(press(slack, user, notice))
                if press_number == 0:  # the first rerun finishes before the next presses
                    await until(lambda: _reruns(data, job["id"], done=True), CAP)
            await settle_jobs(data, cap=CAP)
        result.reruns = len(_reruns(data, job["id"]))
        result.new_rows = _ledger_count(data) - ledger_before
        cut = rows(data, "SELECT * FROM ledger WHERE job_id = ? ORDER BY id LIMIT 1", job["id"])
        if cut:
            result.estimate, result.cost = cut[0].get("estimate_micro"), cut[0].get("cost_micro")
    return result


def _ledger_count(data: Path) -> int:
    return int(rows(data, "SELECT count(*) AS n FROM ledger")[0]["n"])


def _reruns(data: Path, job_id: int, *, done: bool = False) -> list[dict[str, Any]]:
    sql = "SELECT id FROM jobs WHERE retry_of = ?" + (" AND status NOT IN ('queued', 'running')" if done else "")
    return rows(data, sql, job_id)


def _notice(slack: SlackStandIn, thread_ts: str) -> dict[str, Any] | None:
    return next((m for m in bot_replies(slack, thread_ts) if button(m, RUN_AGAIN)), None)


# ---------------------------------------------------------------------------------------------- Socket Mode

async def socket_unreachable(root: Path, seconds: float, grace: float = 10.0) -> Row:
    """`imagebot serve` in Socket Mode with SLACK_API_URL at a closed port: SIGTERM after `seconds`; how long it
    takes to stop, its exit code, the tracebacks it logged, and what its health endpoints said meanwhile."""
    env = _socket_env(root, grace)
    ops_port = int(env["IMAGEBOT_OPS_PORT"])
    bot, reader = await spawn(root, env)
    try:
        await asyncio.sleep(seconds)  # the scenario: a few seconds of Slack being unreachable
        health = await _health(bot, ops_port)
        alive = bot.process.returncode is None
        bot.process.terminate()
        started = time.monotonic()
        code = await bot.wait(grace + 20)
        took = time.monotonic() - started
    finally:
        bot.kill()
        await bot.wait(START_CAP)
        await asyncio.wait_for(reader, START_CAP)
    stopped = f"exit {code} after {took:.1f} s" if code is not None else f"still running {took:.0f} s after SIGTERM"
    if not alive:
        stopped = f"had exited by itself (code {bot.process.returncode}) before SIGTERM"
    answers = ", ".join(f"{path} {status or 'no answer'}" for path, status in health.items())
    ready_ok = health.get("/readyz", 0) not in (200,)
    ok = code == 0 and took <= grace and bot.tracebacks() == 0 and ready_ok
    return Row.judged(f"Socket Mode, Slack unreachable, SIGTERM after {seconds:g} s", 1, ok,
                      f"{stopped} (grace {grace:g} s); tracebacks {bot.tracebacks()}; {answers}")


def _socket_env(root: Path, grace: float) -> dict[str, str]:
    """A Socket Mode deployment whose Slack is a closed port on loopback; no OpenAI key (the offline provider)."""
    root.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(root), "PYTHONPATH": str(REPO),
            "SLACK_BOT_TOKEN": "xoxb-probe-0000", "SLACK_APP_TOKEN": "xapp-1-probe-0000",
            "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/", "IMAGEBOT_DATA_DIR": str(root / "data"),
            "IMAGEBOT_OPS_PORT": str(free_port()), "IMAGEBOT_SHUTDOWN_GRACE_SECONDS": str(int(grace))}


async def _health(bot: Bot, ops_port: int) -> dict[str, int]:
    """What /healthz and /readyz answer (the ops port first, then the main one); 0 when neither answers."""
    found: dict[str, int] = {}
    async with aiohttp.ClientSession() as session:
        for path in ("/healthz", "/readyz"):
            found[path] = 0
            for port in (ops_port, bot.port):
                try:
                    async with session.get(f"http://127.0.0.1:{port}{path}",
                                           timeout=aiohttp.ClientTimeout(total=3)) as response:
                        found[path] = response.status
                        break
                except (aiohttp.ClientError, TimeoutError):
                    continue
    return found
