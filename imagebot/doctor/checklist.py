"""The checklist: one `Check` per line, how it is printed, and the exit status it gives."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

OK, WARN, FAIL, INFO = "ok", "warn", "FAIL", "--"  # INFO: not checked, or not applicable (says why)


@dataclass(frozen=True)
class Check:
    """One line of the checklist: what was checked, how it went, what was seen, and how to fix it."""

    title: str
    status: str  # OK | WARN | FAIL | INFO
    detail: str
    fix: str = ""


def exit_status(checks: list[Check]) -> int:
    return 1 if any(c.status == FAIL for c in checks) else 0


def render(checks: list[Check], *, heading: str, width: int = 100) -> str:
    """The checklist as text: one entry per check, its fix indented under it, then a one-line verdict."""
    lines = [heading, ""]
    for check in checks:
        tag = f"[{check.status}]".ljust(7)
        lines += textwrap.wrap(f"{check.title}: {check.detail}", width=width, initial_indent=tag,
                               subsequent_indent=" " * 7, break_on_hyphens=False, break_long_words=False)
        if check.fix:
            lines += textwrap.wrap(f"fix: {check.fix}", width=width, initial_indent=" " * 7,
                                   subsequent_indent=" " * 12, break_on_hyphens=False, break_long_words=False)
    counts = {status: sum(c.status == status for c in checks) for status in (OK, WARN, FAIL)}
    lines.append("")
    if counts[FAIL]:
        lines.append(f"{plural(counts[FAIL], 'check')} failed, {plural(counts[WARN], 'warning')}, "
                     f"{counts[OK]} passed. Fix the failures above, then run `imagebot doctor` again.")
    else:
        lines.append(f"No failures ({plural(counts[WARN], 'warning')}, {counts[OK]} passed).")
    return "\n".join(lines) + "\n"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
