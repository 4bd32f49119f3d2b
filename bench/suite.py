"""Fast under load, measured: the imagebot app under sustained and burst load, its overhead, storage and memory.

    .venv/bin/python bench/suite.py [--quick]

The app under test runs alone in this process (the real app via LocalWorkspace, the real ImageAPI client over
httpx); the Slack stand-in and the image API stand-in run in another process (bench/standins_process.py),
driven over a loopback control endpoint, so this process's event loop serves only the app. The floor is a
do-nothing aiohttp endpoint in this process, hit by the same stand-in process with the same pattern.
Prints one Markdown table; asserts nothing. `--quick` is a smaller run (about a minute and a half).

While a scenario runs, a monitor task here records event-loop stalls and peak RSS (bench/suite_monitor.py).
This module picks the configuration and runs the scenarios in order; bench/suite_scenarios.py measures them,
against the two sides bench/suite_harness.py starts, into the table of bench/suite_table.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.suite_cpu import cpu
from bench.suite_harness import LIFTED, StandIns
from bench.suite_monitor import Monitor
from bench.suite_scenarios import LATENCY, burst, memory, overhead, storage, sustained
from bench.suite_table import Table


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
    cpu_commands: int = 100
    cpu_rounds: int = 3  # alternating floor / app rounds (bench/suite_cpu.py)
    burst_rounds: int = 3  # the same for each burst (bench/suite_scenarios.py)


CONFIGS = {
    "full": Config("full", 50, 100, 10, True, (50, 200, 500), (50, 200, 500), 10_000, cpu_rounds=5),
    "quick": Config("quick", 50, 20, 5, False, (50, 200), (50, 200), 2_000),
    # The smallest configuration, for the smoke test: every scenario, tiny counts.
    "smoke": Config("smoke", 5, 3, 1, False, (5,), (5,), 200, 5, 1, 2),
}
SCENARIOS = ("cpu", "memory", "overhead", "sustained", "burst", "storage")


async def run(config: Config, only: tuple[str, ...] = SCENARIOS) -> Table:
    table = Table()
    monitor = Monitor()
    standins = await StandIns().start()
    monitor.start()
    started = time.perf_counter()
    upload_s = 0.0
    try:
        if "cpu" in only:
            await cpu(table, monitor, standins, config.cpu_commands, rounds=config.cpu_rounds)
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
                await burst(table, monitor, standins, n, True, upload_s, config.burst_rounds)
            for n in config.bursts_default:
                await burst(table, monitor, standins, n, False, upload_s, config.burst_rounds)
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
