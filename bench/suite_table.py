"""bench/suite.py's figures: one Markdown table of rows (scenario, figure, value, the floor's value, the target),
each row echoed to stderr as it is measured."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass, field


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

    def acks(self, scenario: str, acks: list[list[float]], floor: list[list[float]], target_p99: str = "") -> None:
        """Ack p50, p99 and max beside the floor's: with several rounds (one list of acks each), the medians of
        the rounds' figures, and every round's p99 pair."""
        rounds = f", median of {len(acks)} rounds" if len(acks) > 1 else ""
        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            self.add(scenario, f"ack {name} (ms){rounds}", f"{statistics.median(pct(a, q) for a in acks):.1f}",
                     f"{statistics.median(pct(f, q) for f in floor):.1f}", target_p99 if name == "p99" else "")
        if rounds:
            self.add(scenario, "  each round: ack p99 (floor p99), ratio", " / ".join(
                f"{pct(a, 0.99):.1f} ({pct(f, 0.99):.1f}), {pct(a, 0.99) / pct(f, 0.99):.2f}"
                for a, f in zip(acks, floor, strict=True)))

    def markdown(self) -> str:
        lines = ["| scenario | figure | value | floor | target |", "|---|---|---|---|---|"]
        lines += [f"| {r.scenario} | {r.figure} | {r.value} | {r.floor} | {r.target} |" for r in self.rows]
        return "\n".join(lines)
