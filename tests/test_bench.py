"""Smoke test of bench/suite.py: its smallest configuration runs to the end and prints the table. No timings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_suite_smoke_prints_table() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "suite.py"), "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[0] == "| scenario | figure | value | floor | target |"
    scenarios = {row.split(" | ")[0].removeprefix("| ") for row in rows[1:]}
    for prefix in ("memory,", "overhead,", "sustained 10/s", "burst 5, limits lifted", "burst 5, default limits",
                   "storage"):
        assert any(s.startswith(prefix) for s in scenarios), (prefix, scenarios)
    figures = {row.split(" | ")[1] for row in rows[1:]}
    for figure in ("ack p50 (ms)", "ack p99 (ms)", "ack max (ms)", "images delivered / jobs accepted / commands",
                   "last command -> last image (s)", "first command -> last image (s)", "images/s",
                   "peak RSS (MB)", "largest event-loop stall (ms)", "RSS per request in flight (MB)",
                   "command -> image minus latency, median (ms)"):
        assert figure in figures, figure
    assert any(f.startswith("ledger inserts/s") for f in figures)


def test_probe_smoke_prints_one_row_per_scenario() -> None:
    """bench/probe.py's smallest run measures every scenario (held or not: it asserts nothing about the app, but
    an "error" row means the probe itself could not measure) and prints the commit above the table."""
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "probe.py"), "--smoke"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("imagebot reliability probe (smoke): commit "), done.stdout[:300]
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[0] == "| scenario | tried | held | what held / what broke |"
    held = {row.split(" | ")[0].removeprefix("| "): row.split(" | ")[2] for row in rows[1:]}
    for prefix in ("signature cases", "forged bodies", "malformed signed bodies", "fuzzed /image commands",
                   "log injection", "kill -9", "scripted image API faults", "disk full", "database locked",
                   "Socket Mode"):
        assert any(s.startswith(prefix) for s in held), (prefix, held)
    assert set(held.values()) <= {"yes", "no", "skipped"}, done.stdout
