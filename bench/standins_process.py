"""The far side of the wire for bench/suite.py, in its own process: the Slack stand-in and the image API stand-in.

    .venv/bin/python bench/standins_process.py   (started by bench/suite.py; not meant to be run by hand)

Prints one JSON line on stdout (its ports and credentials), then takes orders on a small loopback control
endpoint (JSON over HTTP, one request at a time from the suite):

    POST /ctl/reset  {"latency": s}              clear recorded state (uploads, messages, deliveries); set latency
    POST /ctl/fire   {"url", "n", "rate", "users", "channel", "text"}
                                                 send n signed /image commands to `url`, `rate` per second (0: all
                                                 at once); answer with every delivery's elapsed_ms and status
    POST /ctl/images {"channel", "expected", "timeout"}
                                                 wait (bounded) until `expected` bot messages with files arrived in
                                                 `channel`; answer with their arrival times (perf_counter)
    POST /ctl/one    {"url", "user", "channel", "text", "timeout"}
                                                 one command, then wait for its image: ack ms and seconds to image
    POST /ctl/quit

Rendering a 1536x1024 "photo" PNG costs this process ~0.16 s of CPU; the pictures are rendered once per size
and reused (8 variants, same ~2.6 MB bytes on the wire, each answer's made unique by a numbered tEXt chunk), so the
stand-in's own CPU does not pace the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import json
import struct
import sys
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from standins.images_api import ImageAPIStandIn, jobs, pictures
from standins.slack import DELIVERY_TIMEOUT, SlackStandIn

USERS = 20
_render_original = pictures.render_one


@functools.lru_cache(maxsize=64)
def _cached_render(size: str, background: str, operation: str, fmt: str, compression: int, kind: str,
                   variant: int, partial: int | None, partials: int) -> bytes:
    job = jobs.Job(flavor="openai", operation=operation, model="gpt-image-1", prompt=f"variant {variant}",
                   n=1, size=size, quality="high", background=background, output_format=fmt,
                   output_compression=compression, stream=False, partial_images=partials,
                   input_fidelity=None, resolved_size=size, resolved_quality="high",
                   resolved_background=background)
    return _render_original(job, 0, kind, partial)


_served = itertools.count()


def _unique(png: bytes) -> bytes:
    """`png` with a numbered tEXt chunk before its IEND: every answer's image differs (imagebot stores images by
    content, so repeated bytes would skip writing the file), at the cost of a few bytes."""
    if not png.startswith(b"\x89PNG") or not png.endswith(b"IEND\xaeB`\x82"):
        return png
    text = b"Comment\x00bench image %d" % next(_served)
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    return png[:-12] + chunk + png[-12:]


def _render_one(job: Any, index: int, kind: str, partial: int | None) -> bytes:
    if job.operation != "generations":
        return _render_original(job, index, kind, partial)
    variant = (hash(job.prompt) + index) % 8
    return _unique(_cached_render(job.resolved_size, job.resolved_background, job.operation, job.output_format,
                                  job.output_compression, kind, variant, partial, job.partial_images))


pictures.render_one = _render_one


class BenchSlack(SlackStandIn):
    """The Slack stand-in, noting when each message with files from the bot arrives, per channel."""

    def __init__(self) -> None:
        super().__init__()
        self.file_messages: dict[str, list[float]] = {}

    def _store(self, channel_id: str, message: dict, thread_ts: str | None, files: list[dict]) -> dict:
        stored = super()._store(channel_id, message, thread_ts, files)
        if files and message.get("bot_id"):
            self.file_messages.setdefault(channel_id, []).append(time.perf_counter())
        return stored

    def reset(self) -> None:
        """Forget what earlier scenarios left (the uploaded bytes alone would be GBs by the end)."""
        self.file_messages.clear()
        self.calls.clear()
        self.deliveries.clear()
        self._ephemerals.clear()
        self._files.clear()
        self._file_bytes.clear()
        self._uploads.clear()
        self._response_urls.clear()
        for messages in self._messages.values():
            messages.clear()


async def start_standins() -> tuple[BenchSlack, ImageAPIStandIn]:
    """Both stand-ins serving on loopback, with the bench's users and channel, and the picture cache warm."""
    slack = BenchSlack()
    api = ImageAPIStandIn(image_kind="photo")
    await slack.start()
    await api.start()
    # One connection per in-flight delivery, as Slack does (aiohttp's default pool would queue past 100).
    await slack._session.close()  # type: ignore[union-attr]
    slack._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                           timeout=aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT))
    for i in range(USERS):
        slack.add_user(f"U0BENCH{i:02d}", f"bench{i}")
    slack.add_channel("C0BENCH", "bench")
    for variant in range(8):  # warm the picture cache before anything is timed
        await asyncio.to_thread(_cached_render, "1536x1024", "opaque", "generations", "png", 100, "photo",
                                variant, None, 0)
    return slack, api


class Control:
    """The loopback control endpoint: one method per order (see the module's docstring)."""

    def __init__(self, slack: BenchSlack, api: ImageAPIStandIn) -> None:
        self.slack = slack
        self.api = api
        self.quit = asyncio.Event()

    def application(self) -> web.Application:
        control = web.Application()
        control.router.add_post("/ctl/reset", self.reset)
        control.router.add_post("/ctl/fire", self.fire)
        control.router.add_post("/ctl/images", self.images)
        control.router.add_post("/ctl/one", self.one)
        control.router.add_post("/ctl/quit", self.quit_)
        return control

    async def reset(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.slack.reset()
        self.api.requests.clear()
        self.api.latency = float(body.get("latency", self.api.latency))
        return web.json_response({"ok": True})

    async def fire(self, request: web.Request) -> web.Response:
        body = await request.json()
        slack = self.slack
        slack.app_request_url = body["url"]
        n, rate, users = int(body["n"]), float(body.get("rate", 0)), int(body.get("users", USERS))
        channel, text = body.get("channel", "C0BENCH"), body.get("text", "a lighthouse")
        start = time.perf_counter()
        sent: list[float] = []

        async def one(i: int) -> Any:
            if rate > 0:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            sent.append(time.perf_counter())
            return await slack.send_command(f"U0BENCH{i % users:02d}", channel, f"{text} {i}")

        deliveries = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))),
                                            timeout=n / rate + 60 if rate > 0 else 120)
        texts = Counter((d.response_text or "")[:80] for d in deliveries)
        return web.json_response({
            "elapsed_ms": [d.elapsed_ms for d in deliveries], "status": [d.status for d in deliveries],
            "errors": [d.error for d in deliveries if d.error][:5], "first_sent": min(sent), "last_sent": max(sent),
            "ack_texts": texts.most_common(4)})

    async def images(self, request: web.Request) -> web.Response:
        body = await request.json()
        slack = self.slack
        channel, expected = body.get("channel", "C0BENCH"), int(body["expected"])
        with contextlib.suppress(TimeoutError):
            await slack.wait_for(lambda: len(slack.file_messages.get(channel, [])) >= expected,
                                 float(body.get("timeout", 60)))
        return web.json_response({"times": list(slack.file_messages.get(channel, [])), "now": time.perf_counter()})

    async def one(self, request: web.Request) -> web.Response:
        body = await request.json()
        slack = self.slack
        slack.app_request_url = body["url"]
        channel = body.get("channel", "C0BENCH")
        before = len(slack.file_messages.get(channel, []))
        began = time.perf_counter()
        delivery = await slack.send_command(body.get("user", "U0BENCH00"), channel, body.get("text", "one"))
        try:
            await slack.wait_for(lambda: len(slack.file_messages.get(channel, [])) > before,
                                 float(body.get("timeout", 30)))
            to_image = slack.file_messages[channel][before] - began
        except TimeoutError:
            to_image = None
        return web.json_response({"ack_ms": delivery.elapsed_ms, "status": delivery.status, "to_image_s": to_image,
                                  "began": began})

    async def quit_(self, request: web.Request) -> web.Response:
        self.quit.set()
        return web.json_response({"ok": True})


async def main() -> None:
    slack, api = await start_standins()
    control = Control(slack, api)
    runner = web.AppRunner(control.application(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(json.dumps({"control": f"http://127.0.0.1:{runner.addresses[0][1]}", "api_url": slack.api_url,
                      "bot_token": slack.bot_token, "signing_secret": slack.signing_secret,
                      "openai_base_url": api.openai_base_url, "openai_api_key": api.api_key}), flush=True)

    # Stop on quit, or when the suite goes away without saying so (its end of our stdin closes).
    stdin_closed = asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await asyncio.wait([asyncio.ensure_future(control.quit.wait()), stdin_closed],
                       return_when=asyncio.FIRST_COMPLETED)
    await runner.cleanup()
    await slack.stop()
    await api.stop()


if __name__ == "__main__":
    asyncio.run(main())
