"""Fast under load, measured: the imagebot app under sustained and burst load, its overhead, storage and memory.

    .venv/bin/python bench/suite.py [--quick]

The app under test runs alone in this process (the real app via LocalWorkspace, the real ImageAPI client over
httpx); the Slack stand-in and the image API stand-in run in another process (bench/standins_process.py),
driven over a loopback control endpoint, so this process's event loop serves only the app. The floor is a
do-nothing aiohttp endpoint in this process, hit by the same stand-in process with the same pattern.
Prints one Markdown table; asserts nothing. `--quick` is a smaller run (about a minute).

While a scenario runs, a monitor task here sleeps 10 ms at a time and records the overshoot (the event-loop
stall) and samples RSS; peak RSS is the larger of the samples and VmHWM (reset per scenario via clear_refs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import httpx
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.money.catalogue import Catalogue
from bot.providers.image_api import DEFAULT_TIMEOUT, ImageAPI, OpenAITarget
from bot.settings import Settings
from bot.usecases import image_service as service_module
from handlers import delivery as flows_module
from standins.workspace import LocalWorkspace, settings_for
from storage.records import LedgerEntry, ThreadKey
from storage.store import Store

HERE = Path(__file__).resolve().parent
LATENCY = 2.0  # the image API's answer time in the sustained and burst scenarios
COMMAND = "a lighthouse at dusk --size 1536x1024 --quality high"
PAGE = 2 ** 20


# ---------------------------------------------------------------------------------------------- figures

def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class Row:
    scenario: str
    figure: str
    value: str
    floor: str = ""
    target: str = ""


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, scenario: str, figure: str, value: str, floor: str = "", target: str = "") -> None:
        self.rows.append(Row(scenario, figure, value, floor, target))
        print(f"  {scenario} | {figure} | {value} | {floor} | {target}", file=sys.stderr, flush=True)

    def acks(self, scenario: str, acks: list[float], floor: list[float], target_p99: str = "") -> None:
        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            self.add(scenario, f"ack {name} (ms)", f"{pct(acks, q):.1f}", f"{pct(floor, q):.1f}",
                     target_p99 if name == "p99" else "")

    def markdown(self) -> str:
        lines = ["| scenario | figure | value | floor | target |", "|---|---|---|---|---|"]
        lines += [f"| {r.scenario} | {r.figure} | {r.value} | {r.floor} | {r.target} |" for r in self.rows]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- monitor

def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / PAGE


def hwm_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


class Monitor:
    """Event-loop stalls (overshoot of a 10 ms sleep) and peak RSS, per scenario."""

    def __init__(self) -> None:
        self.max_stall = 0.0
        self.peak = 0.0
        self.hwm_reset = False
        self._task: asyncio.Task | None = None

    def reset(self) -> None:
        self.max_stall = 0.0
        self.hwm_reset = reset_hwm()
        self.peak = rss_mb()

    @property
    def peak_rss(self) -> float:
        return max(self.peak, hwm_mb()) if self.hwm_reset else self.peak

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        tick = 0
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            self.max_stall = max(self.max_stall, loop.time() - before - 0.01)
            tick += 1
            if tick % 5 == 0:
                self.peak = max(self.peak, rss_mb())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# ---------------------------------------------------------------------------------------------- the other process

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


# ---------------------------------------------------------------------------------------------- the app

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
        self.http = httpx.AsyncClient(timeout=DEFAULT_TIMEOUT, trust_env=False)
        self.provider = ImageAPI(self.http, OpenAITarget(settings.openai_base_url, settings.openai_api_key or ""))
        self.workspace = LocalWorkspace(settings, slack, provider=self.provider)  # type: ignore[arg-type]
        await self.workspace.start()
        self.url = slack.app_request_url
        return self

    async def idle(self, timeout: float) -> bool:
        assert self.workspace is not None and self.workspace.services is not None
        return await self.workspace.services.jobs.wait_idle(timeout)

    def jobs_created(self) -> int:
        assert self.workspace is not None and self.workspace.services is not None
        return self.workspace.services.jobs._store.db.execute("SELECT count(*) FROM jobs").fetchone()[0]

    async def __aexit__(self, *exc: object) -> None:
        if self.workspace is not None:
            await self.workspace.stop(grace=5)
        if self.http is not None:
            await self.http.aclose()
        self.tmp.cleanup()


# ---------------------------------------------------------------------------------------------- scenarios

async def fire(standins: StandIns, url: str, n: int, rate: float, timeout: float = 180) -> dict:
    result = await standins.call("/ctl/fire", limit=timeout, url=url, n=n, rate=rate, text=COMMAND)
    bad = [s for s in result["status"] if s != 200]
    if bad:
        result["note"] = f"{len(bad)} deliveries not 200 ({result['errors'][:2]})"
    return result


async def wait_images(standins: StandIns, expected: int, timeout: float) -> list[float]:
    return (await standins.call("/ctl/images", limit=timeout + 10, expected=expected, timeout=timeout))["times"]


async def run_load(table: Table, monitor: Monitor, standins: StandIns, scenario: str, n: int, rate: float,
                   limits: dict[str, int], floor_acks: list[float], target_p99: str,
                   extra: Callable[[dict, list[float]], None] | None = None) -> tuple[dict, list[float]]:
    await standins.call("/ctl/reset", latency=LATENCY)
    async with App(standins, **limits) as app:
        await asyncio.sleep(0.2)
        monitor.reset()
        result = await fire(standins, app.url, n, rate, timeout=n / rate + 120 if rate else 180)
        # Every accepted job done (bounded), then its image message is in Slack a moment later.
        if not await app.idle(240):
            table.notes.append(f"{scenario}: jobs still running after 240 s")
        times = await wait_images(standins, n, timeout=3)
        stall, peak = monitor.max_stall, monitor.peak_rss
        jobs = app.jobs_created()
    table.acks(scenario, result["elapsed_ms"], floor_acks, target_p99)
    if result.get("note"):
        table.notes.append(f"{scenario}: {result['note']}")
    last = max(times) if times else float("nan")
    table.add(scenario, "images delivered / jobs accepted / commands", f"{len(times)} / {jobs} / {n}")
    if extra is not None:
        extra(result, times)
    table.add(scenario, "largest event-loop stall (ms)", f"{stall * 1000:.1f}", "", "< 50")
    table.add(scenario, "peak RSS (MB)", f"{peak:.0f}")
    result["last_image"] = last
    return result, times


async def floor_acks(standins: StandIns, n: int, rate: float) -> list[float]:
    async with floor_endpoint() as url:
        return (await fire(standins, url, n, rate))["elapsed_ms"]


async def sustained(table: Table, monitor: Monitor, standins: StandIns, seconds: float, limits: dict[str, int],
                    label: str) -> None:
    rate, n = 10.0, int(10 * seconds)
    floor = await floor_acks(standins, n, rate)

    def extra(result: dict, times: list[float]) -> None:
        tail = (max(times) - result["last_sent"]) if times else float("nan")
        table.add(label, "last command -> last image (s)", f"{tail:.2f}", "",
                  f"<= {LATENCY + 2:.1f} (latency + 2 s), all delivered")

    await run_load(table, monitor, standins, label, n, rate, limits, floor, "< 50 ms", extra)


async def burst(table: Table, monitor: Monitor, standins: StandIns, n: int, lifted: bool, upload_s: float) -> None:
    floor = await floor_acks(standins, n, 0)
    label = f"burst {n}, " + ("limits lifted" if lifted else "default limits")

    def extra(result: dict, times: list[float]) -> None:
        span = (max(times) - result["first_sent"]) if times else float("nan")
        target = (f"<= {1.05 * LATENCY + upload_s:.2f} (1.05 x latency + one upload {upload_s:.2f} s)"
                  if lifted and n == 50 else "")
        table.add(label, "first command -> last image (s)", f"{span:.2f}", "", target)
        table.add(label, "images/s", f"{len(times) / span:.1f}" if times else "0")

    await run_load(table, monitor, standins, label, n, 0, LIFTED if lifted else {}, floor,
                   f"<= 3 x floor p99 = {3 * pct(floor, 0.99):.1f}", extra)


@contextlib.contextmanager
def phase_timers(provider: ImageAPI) -> Iterator[dict[str, list[float]]]:
    """Wrap (in this process only, for this run) the app's own steps to time them: the card, the image API call
    (its HTTP exchange, then reading the answer), saving image + ledger row, and the Slack upload."""
    phases: dict[str, list[float]] = {k: [] for k in ("announce", "api_http", "api_total", "service", "upload")}
    originals: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, key: str) -> None:
        original = getattr(owner, name)
        originals.append((owner, name, original))

        async def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                phases[key].append(time.perf_counter() - began)

        setattr(owner, name, timed)

    wrap(flows_module.Flows, "announce", "announce")
    wrap(flows_module.Flows, "upload", "upload")
    wrap(service_module.ImageService, "generate", "service")
    wrap(provider, "_send", "api_http")
    wrap(provider, "generate", "api_total")
    try:
        yield phases
    finally:
        for owner, name, original in reversed(originals):
            if isinstance(owner, type):
                setattr(owner, name, original)
            else:
                delattr(owner, name)


async def overhead(table: Table, monitor: Monitor, standins: StandIns, count: int, latency: float) -> float:
    """One request at a time. Returns the median upload time (for the burst target)."""
    await standins.call("/ctl/reset", latency=latency)
    totals, acks = [], []
    async with App(standins) as app:
        assert app.provider is not None
        # Warm-up (imports, first connections), untimed.
        await standins.call("/ctl/one", url=app.url, text=COMMAND + " warm-up", timeout=30, limit=40)
        await app.idle(30)
        monitor.reset()
        with phase_timers(app.provider) as phases:
            for i in range(count):
                one = await standins.call("/ctl/one", url=app.url, user=f"U0BENCH{i % 20:02d}",
                                          text=f"{COMMAND} {i}", timeout=30, limit=40)
                await app.idle(30)  # the job's last steps (card update, ledger) end before the next request
                if one["to_image_s"] is not None:
                    totals.append(one["to_image_s"])
                acks.append(one["ack_ms"])
        stall = monitor.max_stall
    label = f"overhead, 1 at a time (n={len(totals)}, latency {latency:.1f} s)"
    over = [(t - latency) * 1000 for t in totals]
    table.add(label, "command -> image minus latency, median (ms)", f"{statistics.median(over):.1f}", "", "< 20")
    table.add(label, "command -> image minus latency, p95 (ms)", f"{pct(over, 0.95):.1f}")
    table.add(label, "  of which: ack (ms, median)", f"{statistics.median(acks):.1f}")
    if len(phases["api_total"]) >= len(totals) and totals:
        med = {k: statistics.median(v) * 1000 for k, v in phases.items() if v}
        table.add(label, "  of which: card (announce) (ms, median)", f"{med['announce']:.1f}")
        table.add(label, "  of which: image API HTTP minus latency (ms, median)",
                  f"{med['api_http'] - latency * 1000:.1f}")
        table.add(label, "  of which: reading the API answer (JSON + base64) (ms, median)",
                  f"{med['api_total'] - med['api_http']:.1f}")
        table.add(label, "  of which: save image + ledger (ms, median)", f"{med['service'] - med['api_total']:.1f}")
        table.add(label, "  of which: Slack upload (ms, median)", f"{med['upload']:.1f}")
        rest = statistics.median(over) - statistics.median(acks) - med["announce"] - (med["service"] - latency * 1000) \
            - med["upload"]
        table.add(label, "  of which: the rest (slot, db, card updates, Slack's side) (ms, ~)", f"{rest:.1f}")
        table.add(label, "largest event-loop stall (ms)", f"{stall * 1000:.1f}", "", "< 50")
        return med["upload"] / 1000
    table.notes.append("overhead: phase timings missing, not split")
    return 0.5


async def memory(table: Table, monitor: Monitor, standins: StandIns, in_flight: int = 50) -> None:
    hold = 6.0
    await standins.call("/ctl/reset", latency=hold)
    async with App(standins, **LIFTED) as app:
        await asyncio.sleep(0.5)
        idle = rss_mb()
        monitor.reset()
        began = time.perf_counter()
        await fire(standins, app.url, in_flight, 0)  # defaults to 20 users
        services = app.workspace.services  # type: ignore[union-attr]
        loop_deadline = began + hold - 1.0
        while services.jobs.running < in_flight and time.perf_counter() < loop_deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        running = services.jobs.running
        await asyncio.sleep(max(0.0, loop_deadline - time.perf_counter()))
        held = rss_mb()
        await wait_images(standins, in_flight, timeout=60)
        await app.idle(60)
        peak = monitor.peak_rss
    label = f"memory, {in_flight} in flight"
    table.add(label, "idle RSS (MB)", f"{idle:.0f}")
    table.add(label, f"RSS with {running} waiting on the image API (MB)", f"{held:.0f}")
    table.add(label, "RSS per request in flight (MB)", f"{(held - idle) / max(running, 1):.2f}")
    table.add(label, f"peak RSS incl. receiving + uploading the {in_flight} images (MB)", f"{peak:.0f}", "", "< 250")


def storage(table: Table, count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp))
        key = ThreadKey("T0BENCH", "C0BENCH", "1700000000.000100")
        entry = LedgerEntry(key=key, user_id="U0BENCH00", kind="generate", provider="openai",
                            model=Catalogue.load().default_model, size="1536x1024", quality="high", n=1,
                            prompt="a lighthouse at dusk",
                            output_image_tokens=6240, cost_micro=250_000, latency_ms=2000, image_ids=("img1",))
        for _ in range(100):
            store.record_call(entry)
        began = time.perf_counter()
        for _ in range(count):
            store.record_call(entry)
        elapsed = time.perf_counter() - began
        store.close()
    table.add("storage", f"ledger inserts/s (Store.record_call, {count} in a loop, temp db)", f"{count / elapsed:,.0f}")


# ---------------------------------------------------------------------------------------------- main

@dataclass(frozen=True)
class Config:
    name: str
    in_flight: int  # memory scenario
    overhead_count: int
    sustained_seconds: float
    sustained_lifted: bool
    bursts_lifted: tuple[int, ...]
    bursts_default: tuple[int, ...]
    inserts: int


CONFIGS = {
    "full": Config("full", 50, 100, 10, True, (50, 200, 500), (50, 200, 500), 10_000),
    "quick": Config("quick", 50, 20, 5, False, (50, 200), (50,), 2_000),
    # The smallest configuration, for the smoke test: every scenario, tiny counts.
    "smoke": Config("smoke", 5, 3, 1, False, (5,), (5,), 200),
}
SCENARIOS = ("memory", "overhead", "sustained", "burst", "storage")


async def run(config: Config, only: tuple[str, ...] = SCENARIOS) -> Table:
    table = Table()
    monitor = Monitor()
    standins = await StandIns().start()
    monitor.start()
    started = time.perf_counter()
    upload_s = 0.0
    try:
        if "memory" in only:
            await memory(table, monitor, standins, config.in_flight)
        if "overhead" in only:
            upload_s = await overhead(table, monitor, standins, config.overhead_count, latency=0.5)
        if "sustained" in only:
            seconds = config.sustained_seconds
            await sustained(table, monitor, standins, seconds, {},
                            f"sustained 10/s x {seconds:g} s, 20 users, default limits")
            if config.sustained_lifted:
                await sustained(table, monitor, standins, seconds, LIFTED,
                                f"sustained 10/s x {seconds:g} s, 20 users, limits lifted")
        if "burst" in only:
            for n in config.bursts_lifted:
                await burst(table, monitor, standins, n, True, upload_s)
            for n in config.bursts_default:
                await burst(table, monitor, standins, n, False, upload_s)
        if "storage" in only:
            storage(table, config.inserts)
    finally:
        await monitor.stop()
        await standins.stop()
    table.notes.append(f"suite took {time.perf_counter() - started:.0f} s")
    return table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="the smaller run (about a minute)")
    parser.add_argument("--smoke", action="store_true", help="the smallest run (seconds; for the smoke test)")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS, help="run only these scenarios")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = CONFIGS["smoke" if args.smoke else "quick" if args.quick else "full"]
    table = asyncio.run(run(config, tuple(args.only)))
    print(f"imagebot load suite ({config.name}): {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M %Z')}. Image API stand-in: "
          f"1536x1024 high, ~2.6 MB PNG, latency {LATENCY:.1f} s unless stated; the app and the stand-ins run in "
          "separate processes.")
    print()
    print(table.markdown())
    for note in table.notes:
        print(f"\n- {note}")


if __name__ == "__main__":
    main()
