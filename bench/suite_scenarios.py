"""bench/suite.py's scenarios, each adding its figures to the table: sustained and burst load (against the floor's
acks), one request at a time split into the app's own steps, memory with many requests in flight, ledger inserts."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.suite_harness import LIFTED, App, StandIns, floor_endpoint
from bench.suite_monitor import Monitor, rss_mb
from bench.suite_table import Table, pct
from bot.money.catalogue import Catalogue
from bot.providers.image_api import ImageAPI
from bot.usecases import image_service as service_module
from handlers.delivery import jobs as delivery_module
from storage.records import LedgerEntry, ThreadKey
from storage.store import Store

LATENCY = 2.0  # the image API's answer time in the sustained and burst scenarios
COMMAND = "a lighthouse at dusk --size 1536x1024 --quality high"


async def fire(standins: StandIns, url: str, n: int, rate: float, timeout: float = 180) -> dict:
    result = await standins.call("/ctl/fire", limit=timeout, url=url, n=n, rate=rate, text=COMMAND)
    bad = [s for s in result["status"] if s != 200]
    if bad:
        result["note"] = f"{len(bad)} deliveries not 200 ({result['errors'][:2]})"
    return result


async def wait_images(standins: StandIns, expected: int, timeout: float) -> list[float]:
    return (await standins.call("/ctl/images", limit=timeout + 10, expected=expected, timeout=timeout))["times"]


@dataclass(frozen=True)
class Load:
    """One load round against the app: what the stand-ins saw (acks, images) and what the monitor saw."""

    result: dict
    times: list[float]  # when each image reached Slack
    stall: float
    peak: float
    jobs: int
    finished: bool  # every accepted job done within the bound


async def load_round(monitor: Monitor, standins: StandIns, n: int, rate: float, limits: dict[str, int]) -> Load:
    await standins.call("/ctl/reset", latency=LATENCY)
    async with App(standins, **limits) as app:
        await asyncio.sleep(0.2)
        monitor.reset()
        result = await fire(standins, app.url, n, rate, timeout=n / rate + 120 if rate else 180)
        # Every accepted job done (bounded), then its image message is in Slack a moment later.
        finished = await app.idle(240)
        times = await wait_images(standins, n, timeout=3)
        return Load(result, times, monitor.max_stall, monitor.peak_rss, app.jobs_created(), finished)


def _load_notes(table: Table, scenario: str, load: Load) -> None:
    if not load.finished:
        table.notes.append(f"{scenario}: jobs still running after 240 s")
    if load.result.get("note"):
        table.notes.append(f"{scenario}: {load.result['note']}")


async def floor_acks(standins: StandIns, n: int, rate: float) -> list[float]:
    async with floor_endpoint() as url:
        return (await fire(standins, url, n, rate))["elapsed_ms"]


async def sustained(table: Table, monitor: Monitor, standins: StandIns, seconds: float, limits: dict[str, int],
                    label: str) -> None:
    rate, n = 10.0, int(10 * seconds)
    floor = await floor_acks(standins, n, rate)
    load = await load_round(monitor, standins, n, rate, limits)
    _load_notes(table, label, load)
    table.acks(label, [load.result["elapsed_ms"]], [floor], "< 50 ms")
    table.add(label, "images delivered / jobs accepted / commands", f"{len(load.times)} / {load.jobs} / {n}")
    tail = (max(load.times) - load.result["last_sent"]) if load.times else float("nan")
    table.add(label, "last command -> last image (s)", f"{tail:.2f}", "",
              f"<= {LATENCY + 2:.1f} (latency + 2 s), all delivered")
    table.add(label, "largest event-loop stall (ms)", f"{load.stall * 1000:.1f}", "", "< 50")
    table.add(label, "peak RSS (MB)", f"{load.peak:.0f}")


async def burst(table: Table, monitor: Monitor, standins: StandIns, n: int, lifted: bool, upload_s: float,
                rounds: int = 1) -> None:
    """n commands at once, in `rounds` rounds that alternate (the floor's burst, the app's, the floor's, ...).

    As with the CPU scenario, one pair compares two moments of a shared machine: the floor's p99 in a 200-burst
    moved 72-119 ms between runs. Each figure is the median of the rounds' figures, every round is printed, and
    the stall is the largest of any round (the target is that none is over 50 ms)."""
    label = f"burst {n}, " + ("limits lifted" if lifted else "default limits")
    floors, loads = [], []
    for _ in range(rounds):
        floors.append(await floor_acks(standins, n, 0))
        loads.append(await load_round(monitor, standins, n, 0, LIFTED if lifted else {}))
        _load_notes(table, label, loads[-1])
    floor_p99 = statistics.median(pct(f, 0.99) for f in floors)
    table.acks(label, [load.result["elapsed_ms"] for load in loads], floors, f"<= 3 x floor p99 = {3 * floor_p99:.1f}")
    many = rounds > 1
    table.add(label, "images delivered / jobs accepted / commands", ", ".join(
        f"{len(load.times)} / {load.jobs} / {n}" for load in loads))
    spans = [(max(load.times) - load.result["first_sent"]) if load.times else float("nan") for load in loads]
    target = (f"<= {1.05 * LATENCY + upload_s:.2f} (1.05 x latency + one upload {upload_s:.2f} s)"
              if lifted and n == 50 else "")
    table.add(label, "first command -> last image (s)" + (", median" if many else ""),
              f"{statistics.median(spans):.2f}", "", target)
    table.add(label, "images/s" + (", median" if many else ""),
              f"{statistics.median(len(load.times) / span for load, span in zip(loads, spans, strict=True)):.1f}")
    stalls = [load.stall * 1000 for load in loads]
    table.add(label, "largest event-loop stall (ms)" + (", of any round" if many else ""), f"{max(stalls):.1f}", "",
              "< 50")
    if many:
        table.add(label, "  each round: largest stall (ms)", " / ".join(f"{stall:.1f}" for stall in stalls))
    table.add(label, "peak RSS (MB)", f"{max(load.peak for load in loads):.0f}")


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

    wrap(delivery_module.Delivery, "announce", "announce")
    wrap(delivery_module.Delivery, "_upload", "upload")  # every upload: a result's, and Upload again's
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
    table.add(label, f"peak RSS incl. receiving + uploading the {in_flight} images (MB)", f"{peak:.0f}", "", "< 150")
    table.add(label, "  memory per image in flight at the peak (MB, above idle)", f"{(peak - idle) / in_flight:.2f}")


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
