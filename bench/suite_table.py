"""bench/suite.py's figures: one Markdown table of rows (scenario, figure, value, the floor's value, the target),
each row echoed to stderr as it is measured."""

from __future__ import annotations

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

    def acks(self, scenario: str, acks: list[float], floor: list[float], target_p99: str = "") -> None:
        for name, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
            self.add(scenario, f"ack {name} (ms)", f"{pct(acks, q):.1f}", f"{pct(floor, q):.1f}",
                     target_p99 if name == "p99" else "")

    def markdown(self) -> str:
        lines = ["| scenario | figure | value | floor | target |", "|---|---|---|---|---|"]
        lines += [f"| {r.scenario} | {r.figure} | {r.value} | {r.floor} | {r.target} |" for r in self.rows]
        return "\n".join(lines)
