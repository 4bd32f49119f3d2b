"""A model's status on a provider, and what a request for a retired model uses instead.

A status applies from its date: a model marked `deprecated` with a shutdown date is shut down from that day on, so
the catalogue stays right after a date passes without a release. A shut-down model may name its replacement; a
request for it follows the chain of replacements to the first model still usable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

STATES = ("live", "deprecated", "shut_down", "unconfirmed")
_MAX_REPLACEMENT_HOPS = 8


@dataclass(frozen=True)
class Status:
    state: str  # one of STATES, as written; `on(today)` is what applies on a day
    shutdown: date | None = None
    replacement: str | None = None
    since: date | None = None

    def on(self, today: date) -> str:
        if self.state == "deprecated" and self.shutdown is not None and today >= self.shutdown:
            return "shut_down"
        return self.state

    def usable(self, today: date) -> bool:
        return self.on(today) in ("live", "deprecated", "unconfirmed")


UNKNOWN = Status(state="unknown")


@dataclass(frozen=True)
class Gone:
    """A model the API once served and the catalogue no longer lists."""

    shutdown: date
    replacement: str | None


@dataclass(frozen=True)
class Resolved:
    """The model a request will use: `requested`, or its replacement when the requested one is shut down."""

    requested: str
    used: str
    retired: Status | None = None  # the requested model's status when it was replaced

    @property
    def replaced(self) -> bool:
        return self.used != self.requested

    def note(self) -> str | None:
        """`gpt-image-1 was shut down on 2026-10-23; this used gpt-image-2.5-sunburst` (for footnotes and logs)."""
        if not self.replaced:
            return None
        when = f" on {self.retired.shutdown.isoformat()}" if self.retired and self.retired.shutdown else ""
        return f"{self.requested} was shut down{when}; this used {self.used}"


def follow_replacements(model: str, status_of: Callable[[str], Status], today: date) -> Resolved:
    """`model`, or the first usable model in its chain of replacements when it is shut down (`status_of` tells a
    model's status on the provider asked about). A chain that ends without a usable model, or loops, keeps `model`."""
    current, first_status = model, None
    for _ in range(_MAX_REPLACEMENT_HOPS):
        status = status_of(current)
        if status.on(today) != "shut_down":
            return Resolved(requested=model, used=current, retired=first_status)
        first_status = first_status or status
        if not status.replacement:
            break
        current = status.replacement
    return Resolved(requested=model, used=model, retired=first_status)
