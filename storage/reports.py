"""Spend reports and budget sums: the SQL over the ledger, one function per question.

Every function takes the sqlite_utils `Database` first and a time window as ISO UTC strings in the ledger's
own format ("2026-11-21T19:44:39.679+00:00", start inclusive, end exclusive). That format has a fixed width
and a fixed offset, so comparing the strings compares the instants, and the range is an index range.

The indexes these queries are written for (storage/db.py):
- ledger_report (team_id, created_at, channel_id, user_id, model, quality, status, provider, n, cost_micro)
  covers every aggregate of a team's window except the image count, so a workspace report reads the index only;
- ledger_user_time (team_id, user_id, created_at) and ledger_channel_time (team_id, channel_id, created_at)
  narrow a user's or a channel's window to its own rows.

Money is summed as integers (micro-dollars), so totals agree with the ledger to the micro-dollar.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

Dimension = Literal["user_id", "channel_id", "model", "quality"]
DIMENSIONS: tuple[str, ...] = ("user_id", "channel_id", "model", "quality")


@dataclass(frozen=True)
class Scope:
    """Which ledger rows a report covers: one team's window, optionally one channel's or one user's."""

    team_id: str
    start: str  # inclusive, ledger time format
    end: str  # exclusive, ledger time format
    channel_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Totals:
    spend_micro: int  # every row with a cost, failed-after-billing rows included
    offline_micro: int  # the part of spend_micro drawn by the offline provider: priced, never billed
    unknown_cost: int  # successful calls whose price was unknown (not in spend_micro)
    requests: int  # ledger rows: image API calls, failed ones included
    failures: int  # rows with status 'error'
    images: int  # images delivered (the successful calls' image_ids)

    @property
    def billed_micro(self) -> int:
        return self.spend_micro - self.offline_micro


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: a user, channel, model or quality and what it spent."""

    key: str | None
    spend_micro: int
    requests: int
    failures: int
    unknown_cost: int


def _where(scope: Scope) -> tuple[str, dict[str, Any]]:
    clauses = ["team_id = :team_id", "created_at >= :start", "created_at < :end"]
    params: dict[str, Any] = {"team_id": scope.team_id, "start": scope.start, "end": scope.end}
    if scope.channel_id is not None:
        clauses.append("channel_id = :channel_id")
        params["channel_id"] = scope.channel_id
    if scope.user_id is not None:
        clauses.append("user_id = :user_id")
        params["user_id"] = scope.user_id
    return " AND ".join(clauses), params


def totals(db: Database, scope: Scope) -> Totals:
    """The window's spend, calls, failures and images.

    Images are counted from `image_ids` (the ids of the images the call actually kept), not from `n`: `n` is
    what was asked for, and the API may answer an ok call with fewer images than asked (nothing obliges it to
    return n); an error row, billed or not, delivered none. `image_ids` is the only column that knows.
    """
    where, params = _where(scope)
    row = db.execute(
        "SELECT COALESCE(SUM(cost_micro), 0), "
        "COALESCE(SUM(CASE WHEN provider = 'offline' THEN cost_micro END), 0), "
        "COALESCE(SUM(status = 'ok' AND cost_micro IS NULL), 0), "
        "COUNT(*), "
        "COALESCE(SUM(status = 'error'), 0), "
        "COALESCE(SUM(CASE WHEN status = 'ok' THEN json_array_length(image_ids) END), 0) "
        f"FROM ledger WHERE {where}",
        params,
    ).fetchone()
    return Totals(spend_micro=row[0], offline_micro=row[1], unknown_cost=row[2], requests=row[3],
                  failures=row[4], images=row[5])


def breakdown(db: Database, scope: Scope, by: Dimension, limit: int = 10) -> list[Row]:
    """Spend per user, channel, model or quality, the largest first (ties: more requests first, then by key)."""
    if by not in DIMENSIONS:
        raise ValueError(f"breakdown by {by!r}: expected one of {', '.join(DIMENSIONS)}")
    where, params = _where(scope)
    cursor = db.execute(
        f"SELECT {by}, COALESCE(SUM(cost_micro), 0) AS spend, COUNT(*) AS requests, "
        "COALESCE(SUM(status = 'error'), 0), COALESCE(SUM(status = 'ok' AND cost_micro IS NULL), 0) "
        f"FROM ledger WHERE {where} GROUP BY {by} "
        f"ORDER BY spend DESC, requests DESC, {by} LIMIT :limit",
        {**params, "limit": limit},
    )
    return [Row(key=r[0], spend_micro=r[1], requests=r[2], failures=r[3], unknown_cost=r[4]) for r in cursor]


def spend_by_hour(db: Database, scope: Scope, *, minutes: int = 60) -> list[tuple[str, int]]:
    """Spend per UTC hour ("2026-10-25T01:00"), oldest first; only slots with rows.

    SQLite's clock knows UTC only, so local days are made from these slots by the caller. An hour slot never
    straddles a local midnight in a zone whose offsets are whole hours; for the others (Asia/Kolkata +05:30,
    Asia/Kathmandu +05:45) ask for `minutes` = 30 or 15, which divides every such offset.
    """
    if minutes not in (60, 30, 15, 5, 1):
        raise ValueError(f"minutes must be 60, 30, 15, 5 or 1 (got {minutes})")
    where, params = _where(scope)
    # created_at is "YYYY-MM-DDTHH:MM:..."; the slot is its hour plus the minute rounded down to `minutes`.
    slot = ("substr(created_at, 1, 13) || ':00'" if minutes == 60 else
            "substr(created_at, 1, 14) || printf('%02d', CAST(substr(created_at, 15, 2) AS INTEGER) "
            f"/ {minutes} * {minutes})")
    cursor = db.execute(
        f"SELECT {slot} AS slot, COALESCE(SUM(cost_micro), 0) FROM ledger WHERE {where} "
        "GROUP BY slot ORDER BY slot",
        params,
    )
    return [(r[0], r[1]) for r in cursor]


def rows(db: Database, scope: Scope) -> Iterator[dict[str, Any]]:
    """Every ledger row of the scope, oldest first, all columns (the ledger holds no secrets: error messages
    are redacted before they are written)."""
    where, params = _where(scope)
    cursor = db.execute(f"SELECT * FROM ledger WHERE {where} ORDER BY created_at, id", params)
    names = [d[0] for d in cursor.description]
    for values in cursor:
        yield dict(zip(names, values, strict=True))


# budget sums: one number each, from an index --------------------------------------------------------------


def user_spend(db: Database, team_id: str, user_id: str, start: str, end: str) -> int:
    return _spend(db, Scope(team_id, start, end, user_id=user_id))


def channel_spend(db: Database, team_id: str, channel_id: str, start: str, end: str) -> int:
    return _spend(db, Scope(team_id, start, end, channel_id=channel_id))


def workspace_spend(db: Database, team_id: str, start: str, end: str) -> int:
    return _spend(db, Scope(team_id, start, end))


def _spend(db: Database, scope: Scope) -> int:
    where, params = _where(scope)
    return int(db.execute(f"SELECT COALESCE(SUM(cost_micro), 0) FROM ledger WHERE {where}", params).fetchone()[0])
