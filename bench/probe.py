"""Safe under hostile input and failing parts, measured: a black-box probe of the real `imagebot serve`.

    .venv/bin/python bench/probe.py [--quick | --smoke] [--only NAME ...] [--seed N]

The Slack stand-in and the image API stand-in run in this process; `imagebot serve --http` runs as a subprocess
pointed at them, on a fresh data folder per scenario (the launcher is bench/probe_harness.py). Each scenario
sends its cases and prints one row: what was tried (a count), whether the property held for every case, and
what held or broke. It asserts nothing: it is how the README's Reliability figures are re-measured. A scenario
that fails to run is reported as "error: …" and the others still run. Every wait has a cap.

Scenarios (counts: full / --quick):
    signatures   ~45 forged, stale or altered requests: every one 401, logged in a few hundred bytes
    forged       20 forged 900 KB bodies: rejected; what the log grew by
    malformed    300 / 120 signed bodies Slack could not send: no 500
    fuzz         3000 / 200 random /image commands: every one answered, none a 500, no duplicate image
    injection    newlines in forged and signed bodies: no forged log line
    kill         20 / 3 rounds of SIGKILL mid-call, restart, three presses of Run it again: one rerun, one row
    api          21 / 13 scripted image API faults: an image or a message each, no duplicate, every billable
                 attempt a ledger row
    disk         a full disk (a small tmpfs; needs root) and a database locked by another process
    socket       Socket Mode with Slack unreachable, then SIGTERM: how long it takes to stop

Full: under 15 minutes on 2 cores; --quick: a few minutes; --smoke: the smallest run, for tests/test_bench.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import probe_crash, probe_faults, probe_inputs, probe_storage
from bench.probe_harness import REPO, Row

SCENARIOS = ("signatures", "forged", "malformed", "fuzz", "injection", "kill", "api", "disk", "socket")


@dataclass(frozen=True)
class Config:
    name: str
    forged: int
    malformed: int
    fuzz: int
    kills: int
    api_cases: str  # "all" | "quick" | "smoke"
    lock_seconds: float
    socket_seconds: float
    scenario_cap: float  # seconds one scenario may take before it is reported as an error


CONFIGS = {
    "full": Config("full", 20, 300, 3000, 20, "all", 20, 12, 900),
    "quick": Config("quick", 20, 120, 200, 3, "quick", 8, 6, 300),
    "smoke": Config("smoke", 2, 40, 12, 1, "smoke", 3, 3, 120),
}


def plan(config: Config, root: Path, seed: int) -> dict[str, Callable[[], Awaitable[list[Row]]]]:
    """Each scenario as a call returning its rows, each on its own folder under `root`."""

    async def one(row: Awaitable[Row]) -> list[Row]:
        return [await row]

    return {
        "signatures": lambda: one(probe_inputs.signatures(root / "signatures")),
        "forged": lambda: one(probe_inputs.forged_large(root / "forged", config.forged)),
        "malformed": lambda: one(probe_inputs.malformed(root / "malformed", config.malformed)),
        "fuzz": lambda: one(probe_inputs.fuzz(root / "fuzz", config.fuzz, seed)),
        "injection": lambda: one(probe_inputs.log_injection(root / "injection")),
        "kill": lambda: one(probe_crash.kill_rounds(root / "kill", config.kills)),
        "api": lambda: probe_faults.api_faults(root / "api", config.api_cases),
        "disk": lambda: probe_storage.disk_and_lock(root / "disk", config.lock_seconds),
        "socket": lambda: one(probe_crash.socket_unreachable(root / "socket", config.socket_seconds)),
    }


async def run(config: Config, only: tuple[str, ...], seed: int) -> list[Row]:
    table: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="imagebot-probe-") as folder:
        scenarios = plan(config, Path(folder), seed)
        for name in only:
            started = time.perf_counter()
            found = await _guarded(name, scenarios[name](), config.scenario_cap)
            for row in found:
                table.append(row)
                print(f"  {row.scenario} | {row.tried} | {row.held} | {row.what}", file=sys.stderr, flush=True)
            print(f"  ({name}: {time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    return table


async def _guarded(name: str, scenario: Awaitable[list[Row]], cap: float) -> list[Row]:
    """The scenario's rows; or, if it fails or outlasts `cap`, one row saying so (the other scenarios still run)."""
    task = asyncio.ensure_future(scenario)
    done, _ = await asyncio.wait([task], timeout=cap)
    if not done:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return [Row(name, "-", "error", f"error: did not finish in {cap:.0f} s")]
    error = task.exception()
    if error is None:
        return task.result()
    ours = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).parent == Path(__file__).parent]
    where = f" ({Path(ours[-1].filename).name}:{ours[-1].lineno})" if ours else ""
    return [Row(name, "-", "error", f"error: {type(error).__name__}: {str(error)[:300]}{where}")]


def markdown(table: list[Row]) -> str:
    lines = ["| scenario | tried | held | what held / what broke |", "|---|---|---|---|"]
    lines += [f"| {r.scenario} | {r.tried} | {r.held} | {r.what.replace('|', '/')} |" for r in table]
    return "\n".join(lines)


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          timeout=10, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                           text=True, timeout=10, check=False)
    return (done.stdout.strip() or "unknown") + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller counts (a few minutes)")
    size.add_argument("--smoke", action="store_true", help="the smallest run (for the smoke test)")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=SCENARIOS, help="run only these scenarios")
    parser.add_argument("--seed", type=int, default=13, help="the fuzzer's seed (default 13)")
    args = parser.parse_args()
    config = CONFIGS["smoke" if args.smoke else "quick" if args.quick else "full"]
    started = time.perf_counter()
    table = asyncio.run(run(config, tuple(args.only), args.seed))
    print(f"imagebot reliability probe ({config.name}): commit {commit()}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {time.perf_counter() - started:.0f} s. Stand-ins on loopback; "
          "`imagebot serve` in a subprocess, a fresh data folder per scenario.")
    print()
    print(markdown(table))


if __name__ == "__main__":
    main()
