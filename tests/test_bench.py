"""Smoke test of bench/suite.py: its smallest configuration runs to the end and prints the table. No timings."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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
                   "last command -> last image (s)", "peak RSS (MB)", "largest event-loop stall (ms)",
                   "RSS per request in flight (MB)", "command -> image minus latency, median (ms)"):
        assert figure in figures, figure
    # The smoke run's bursts are two alternating rounds each: medians, the worst stall, and every round.
    burst = {row.split(" | ")[1]: row.split(" | ")[2] for row in rows[1:] if row.startswith("| burst 5, limits lifted")}
    for figure in ("ack p99 (ms), median of 2 rounds", "first command -> last image (s), median", "images/s, median",
                   "largest event-loop stall (ms), of any round"):
        assert figure in burst, (figure, burst)
    assert len(burst["  each round: ack p99 (floor p99), ratio"].split(" / ")) == 2
    assert len(burst["  each round: largest stall (ms)"].split(" / ")) == 2
    assert burst["images delivered / jobs accepted / commands"] == "5 / 5 / 5, 5 / 5 / 5"
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


def _example_thread() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_thread", ROOT / "bench" / "example_thread.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readmes_demo_examples_are_what_the_demo_prints(tmp_path: Path) -> None:
    """The README's thread and report blocks are the demo's own output (bench/example_thread.py --readme writes
    them); only the day it ran may differ. Rewrite them with that command when the demo's output changes."""
    example = _example_thread()
    printed = example.demo(tmp_path / "demo")
    made = example.examples(printed)
    assert set(made) == {"thread", "report"}
    assert "alice: make the sky purple" in made["thread"] and "imagebot spend: today" in made["report"]
    readme = example.readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    for name in ("thread", "report"):
        assert example.undated(readme[name]) == example.undated(made[name]), (
            f"README.md's demo:{name} block differs from the demo: .venv/bin/python bench/example_thread.py --readme")
