"""The two sides bench/suite.py drives: the stand-ins in their own process (bench/standins_process.py, over its
loopback control endpoint), and the real app in this one (or, for the floor, a do-nothing aiohttp endpoint)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx
from aiohttp import web

from bot.providers.image_api import ImageAPI, http_client
from bot.providers.targets import OpenAITarget
from bot.settings import Settings
from imagebot.compose import freeze_heap, short_gil_turns
from standins.workspace import LocalWorkspace, settings_for

HERE = Path(__file__).resolve().parent


class StandIns:
    """bench/standins_process.py, started here and driven over its loopback control endpoint."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.info: dict[str, str] = {}
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> StandIns:
        self.proc = subprocess.Popen(  # noqa: ASYNC220 - once, before anything is timed
            [sys.executable, str(HERE / "standins_process.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 60)
        if not line:
            raise RuntimeError("the stand-ins process did not start")
        self.info = json.loads(line)
        self.session = aiohttp.ClientSession()
        return self

    async def call(self, path: str, limit: float = 180, **body: Any) -> dict:
        assert self.session is not None
        async with self.session.post(self.info["control"] + path, json=body,
                                     timeout=aiohttp.ClientTimeout(total=limit)) as response:
            response.raise_for_status()
            return await response.json()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.call("/ctl/quit", limit=5)
        if self.session is not None:
            await self.session.close()
        if self.proc is not None:
            with contextlib.suppress(Exception):
                self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


@contextlib.asynccontextmanager
async def floor_endpoint() -> Iterator[str]:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
    finally:
        await runner.cleanup()


LIFTED = dict(max_concurrent=100_000, max_concurrent_per_user=100_000, max_queue=100_000,
              user_requests_per_minute=100_000)


class App:
    """The real app in this process, against the stand-ins in the other one; a fresh data dir each time."""

    def __init__(self, standins: StandIns, **limits: int) -> None:
        self.standins = standins
        self.limits = limits
        self.tmp = tempfile.TemporaryDirectory()
        self.workspace: LocalWorkspace | None = None
        self.http: httpx.AsyncClient | None = None
        self.provider: ImageAPI | None = None

    async def __aenter__(self) -> App:
        info = self.standins.info
        slack = SimpleNamespace(bot_token=info["bot_token"], signing_secret=info["signing_secret"],
                                api_url=info["api_url"], app_request_url=None)
        base = Settings(provider="openai", openai_api_key=info["openai_api_key"],
                        openai_base_url=info["openai_base_url"], confirm_above_micro=None)
        settings = settings_for(slack, Path(self.tmp.name), base, **self.limits)  # type: ignore[arg-type]
        # As make_provider builds it for `imagebot serve` (same httpx client settings).
        self.http = http_client()
        self.provider = ImageAPI(self.http, OpenAITarget(settings.openai_base_url, settings.openai_api_key or ""))
        self.workspace = LocalWorkspace(settings, slack, provider=self.provider)  # type: ignore[arg-type]
        await self.workspace.start()
        freeze_heap()  # as `imagebot serve` does once started
        short_gil_turns()
        self.url = slack.app_request_url
        return self

    async def idle(self, timeout: float) -> bool:
        assert self.workspace is not None and self.workspace.services is not None
        return await self.workspace.services.jobs.wait_idle(timeout)

    def jobs_created(self) -> int:
        assert self.workspace is not None and self.workspace.services is not None
        return self.workspace.services.jobs._store.db.execute("SELECT count(*) FROM jobs").fetchone()[0]

    async def __aexit__(self, *exc: object) -> None:
        gc.unfreeze()  # this app's objects may go now: the next scenario's app freezes its own
        if self.workspace is not None:
            await self.workspace.stop(grace=5)
        if self.http is not None:
            await self.http.aclose()
        self.tmp.cleanup()
