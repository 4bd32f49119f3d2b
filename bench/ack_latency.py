"""Ack latency of /image, measured over real HTTP against the local stand-ins. Prints figures; asserts nothing.

    .venv/bin/python bench/ack_latency.py [--commands 200] [--latency 2.0]

Sends N signed /image commands from the Slack stand-in to the real app (HTTP mode), with the image API
stand-in answering after `--latency` seconds, while earlier requests are still being generated and
uploaded. The floor is the same stand-in posting to a do-nothing aiohttp endpoint in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.settings import Settings
from standins.images_api import ImageAPIStandIn
from standins.slack import SlackStandIn
from standins.workspace import LocalWorkspace, settings_for


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (f"{label:<28} n={len(values):<4} p50={statistics.median(ordered):7.2f} ms  p99={p99:7.2f} ms  "
            f"max={ordered[-1]:7.2f} ms")


async def floor(slack: SlackStandIn, count: int) -> list[float]:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    slack.app_request_url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    start = len(slack.deliveries)
    await asyncio.gather(*(slack.send_command("U0ALICE", "C0GENERAL", f"floor {i}") for i in range(count)))
    await runner.cleanup()
    return [d.elapsed_ms for d in slack.deliveries[start:]]


async def main(commands: int, latency: float) -> None:
    async with SlackStandIn() as slack, ImageAPIStandIn(latency=latency) as api:
        for i in range(20):
            slack.add_user(f"U0USER{i}", f"user{i}")
        floor_ms = await floor(slack, commands)
        with tempfile.TemporaryDirectory() as data:
            base = Settings(provider="openai", openai_api_key=api.api_key, openai_base_url=api.openai_base_url)
            # Limits lifted: this measures the ack path, not the queue (one user sends the sequential run).
            workspace = LocalWorkspace(settings_for(slack, Path(data), base, max_concurrent=1000,
                                                    max_concurrent_per_user=1000, max_queue=100_000,
                                                    user_requests_per_minute=100_000), slack)
            await workspace.start()
            start = len(slack.deliveries)
            began = time.perf_counter()
            await asyncio.gather(*(slack.send_command(f"U0USER{i % 20}", "C0GENERAL", f"a lighthouse, take {i}")
                                   for i in range(commands)))
            acked = time.perf_counter() - began
            acks = [d.elapsed_ms for d in slack.deliveries[start:] if d.kind == "command"]
            # One at a time, while the burst's images are still being generated and uploaded.
            start = len(slack.deliveries)
            for i in range(min(commands, 50)):
                await slack.send_command("U0ALICE", "C0GENERAL", f"one at a time {i}")
            sequential = [d.elapsed_ms for d in slack.deliveries[start:] if d.kind == "command"]
            await workspace.settle(timeout=600)
            finished = time.perf_counter() - began
            images = sum(len(m.get("files") or []) for m in slack.messages("C0GENERAL") if m.get("bot_id"))
            await workspace.stop()
    print(f"{commands} concurrent /image commands, image API latency {latency:.1f} s, on this machine:")
    print(summary("do-nothing endpoint (floor)", floor_ms))
    print(summary("imagebot /image ack (burst)", acks))
    print(summary("imagebot ack, one at a time", sequential))
    print(f"all acked in {acked * 1000:.0f} ms; all {images} images delivered {finished:.2f} s after the first command")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--latency", type=float, default=2.0)
    args = parser.parse_args()
    asyncio.run(main(args.commands, args.latency))
