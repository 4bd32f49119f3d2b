"""bench/suite.py's CPU scenario: how much CPU the app spends per image, beside the floor of handling that image.

The floor is what any bot must do with one answer of the image API, timed in this process on the same answer
bytes in the same run: parse the JSON answer, decode its base64, write the image to a new file and read it back.
The app's figure is this process's CPU time (every thread: the event loop, the database thread, workers) over
100 commands at 10/s, less what the idle process spends in the same wall time (the monitor's ticks), divided by
the images delivered. The stand-ins run in another process, so their CPU is not counted.

Both move between runs on a shared virtual machine (the floor 15.6-22.3 ms within an hour, the app's figure by a
few ms), and a single pair compares two moments. So they are measured in rounds that alternate (floor, 100
commands, floor, 100 commands, ...) and the medians are compared; every round's pair and ratio is printed too.
"""

from __future__ import annotations

import asyncio
import base64
import json
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.suite_harness import App, StandIns
from bench.suite_monitor import Monitor
from bench.suite_scenarios import COMMAND, LATENCY, fire, wait_images
from bench.suite_table import Table
from bot.money.catalogue import Catalogue


async def one_answer(standins: StandIns) -> bytes:
    """One real answer body of the image API stand-in, for the same request the commands make."""
    info = standins.info
    body = {"model": Catalogue.load().default_model, "prompt": "a lighthouse at dusk", "size": "1536x1024",
            "quality": "high", "n": 1}
    async with httpx.AsyncClient(timeout=60, trust_env=False) as http:
        response = await http.post(f"{info['openai_base_url'].rstrip('/')}/images/generations", json=body,
                                   headers={"Authorization": f"Bearer {info['openai_api_key']}"})
        response.raise_for_status()
        return response.content


def floor_cpu(answer: bytes, repeats: int = 30) -> tuple[float, int]:
    """The median CPU seconds to parse `answer`, decode its image, write it to a file and read it back; and the
    image's size in bytes."""
    times, size = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(repeats):
            path = Path(tmp) / f"image-{repeat}.png"  # a new file each time, as each new image is
            began = time.process_time()
            parsed = json.loads(answer)
            image = base64.b64decode(parsed["data"][0]["b64_json"])
            path.write_bytes(image)
            size = len(path.read_bytes())
            times.append(time.process_time() - began)
            del parsed, image
    return statistics.median(times), size


async def idle_cpu_rate(seconds: float = 1.0) -> float:
    """CPU seconds per wall second this process spends with nothing to do (the monitor ticking)."""
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.sleep(seconds)
    return (time.process_time() - cpu) / (time.perf_counter() - wall)


async def cpu(table: Table, monitor: Monitor, standins: StandIns, n: int = 100, rate: float = 10.0,
              rounds: int = 3) -> None:
    await standins.call("/ctl/reset", latency=0)
    answer = await one_answer(standins)
    floors, measured = [], []
    for _ in range(rounds):
        floor_s, image_bytes = floor_cpu(answer)
        floors.append(floor_s)
        # A new app each round (its own database): the same start for each, and no user's rate limit carried over.
        async with App(standins) as app:
            await standins.call("/ctl/one", url=app.url, text=COMMAND + " warm-up", timeout=30, limit=40)
            await app.idle(30)
            measured.append(await _round(monitor, standins, app, n, rate))
    label = f"CPU, {n} commands at {rate:g}/s ({image_bytes / 1e6:.1f} MB images)"
    floor_s = statistics.median(floors)
    per_image = statistics.median(m.per_image for m in measured)
    table.add(label, f"CPU per image (ms), median of {rounds} rounds", f"{per_image * 1000:.1f}",
              f"{floor_s * 1000:.1f}", f"<= 2 x floor = {2 * floor_s * 1000:.1f}")
    table.add(label, "CPU per image / floor", f"{per_image / floor_s:.2f}", "", "<= 2")
    rounds_text = (f"{m.per_image * 1000:.1f} ({f * 1000:.1f}), {m.per_image / f:.2f}"
                   for m, f in zip(measured, floors, strict=True))
    table.add(label, "  each round: CPU per image (floor), ratio", " / ".join(rounds_text))
    table.add(label, "  of which in the kernel (sockets, files) (ms)",
              f"{statistics.median(m.kernel for m in measured) * 1000:.1f}")
    table.add(label, "  page faults per image (fresh memory the kernel zeroes)",
              f"{statistics.median(m.faults for m in measured):.0f}")
    table.add(label, "images delivered / commands, each round", ", ".join(f"{m.delivered} / {n}" for m in measured))
    table.add(label, "idle CPU (ms per s, subtracted)", f"{statistics.median(m.idle for m in measured) * 1000:.1f}")
    table.add(label, "largest event-loop stall (ms)", f"{max(m.stall for m in measured) * 1000:.1f}", "", "< 50")


@dataclass(frozen=True)
class Round:
    per_image: float  # CPU seconds per image delivered, idle subtracted
    kernel: float  # of which in the kernel, per image
    faults: float  # minor page faults per image
    delivered: int
    idle: float  # CPU seconds per wall second of the idle process
    stall: float


async def _round(monitor: Monitor, standins: StandIns, app: App, n: int, rate: float) -> Round:
    """One round: n commands at `rate`, every image delivered, and what the process spent on them."""
    await standins.call("/ctl/reset", latency=LATENCY)
    idle = await idle_cpu_rate()
    monitor.reset()
    began, wall_began = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await fire(standins, app.url, n, rate, timeout=n / rate + 120)
    await app.idle(240)
    delivered = len(await wait_images(standins, n, timeout=10))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    kernel = usage.ru_stime - began.ru_stime
    spent = usage.ru_utime - began.ru_utime + kernel - idle * (time.perf_counter() - wall_began)
    images = max(delivered, 1)
    return Round(per_image=spent / images, kernel=kernel / images, faults=(usage.ru_minflt - began.ru_minflt) / images,
                 delivered=delivered, idle=idle, stall=monitor.max_stall)
