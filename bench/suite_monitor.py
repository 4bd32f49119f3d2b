"""What bench/suite.py watches in its own process while a scenario runs: event-loop stalls and RSS.

A task sleeps 10 ms at a time and records the overshoot (the event-loop stall) and samples RSS; peak RSS is the
larger of the samples and VmHWM (reset per scenario via clear_refs).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource

PAGE = 2 ** 20


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
