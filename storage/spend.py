"""Spend reports and budget sums: the SQL over the ledger, one function per question.

Every function takes the sqlite_utils `Database` first and a time window as ISO UTC strings in the ledger's
own format ("2026-11-21T19:44:39.679+00:00", start inclusive, end exclusive). That format has a fixed width
and a fixed offset, so comparing the strings compares the instants, and the range is an index range.

The indexes these queries are written for (storage/db.py):
- ledger_report (team_id, created_at, channel_id, user_id, model, quality, status, provider, n, cost_micro, images,
  estimate_micro) covers every aggregate of a team's window, so a workspace report reads the index only;
- ledger_user_time (team_id, user_id, created_at) and ledger_channel_time (team_id, channel_id, created_at)
  narrow a user's or a channel's window to its own rows.

Money is summed as integers (micro-dollars), so totals agree with the ledger to the micro-dollar. A row adds its
cost; a failed call the API may have billed (interrupted, its answer lost: bot/usecases/image_service.py keeps
`estimate_micro` on
such an error row only) adds its estimate while its cost is unknown, and every sum says how much of it is estimates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

Dimension = Literal["user_id", "channel_id", "model", "quality"]
DIMENSIONS: tuple[str, ...] = ("user_id", "channel_id", "model", "quality")
SLOT_MINUTES = (60, 30, 15, 5, 1)
# What one ledger row adds to spend: its cost, or the estimate of a failed call that may have been billed, or of a
# call waiting in a batch at the provider (`batched`, storage/batches.py).
_AT_ESTIMATE = "status IN ('error', 'batched') AND cost_micro IS NULL AND estimate_micro IS NOT NULL"
_ROW_SPEND = "COALESCE(cost_micro, CASE WHEN status IN ('error', 'batched') THEN estimate_micro END)"
#: Spend summed over the selected rows, and (two columns) how much of it is estimates and for how many calls.
SPEND_SQL = f"COALESCE(SUM({_ROW_SPEND}), 0)"
ESTIMATED_SQL = (f"COALESCE(SUM(estimate_micro) FILTER (WHERE {_AT_ESTIMATE}), 0), "
                 f"COUNT(*) FILTER (WHERE {_AT_ESTIMATE})")


@dataclass(frozen=True)
class Estimated:
    """The part of a spend figure counted at estimate: calls cut short that may have been billed, cost unknown."""

    micro: int = 0
    calls: int = 0


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
    spend_micro: int  # every row with a cost, failed-after-billing rows included, possibly billed ones at estimate
    offline_micro: int  # the part of spend_micro drawn by the offline provider: priced, never billed
    unknown_cost: int  # successful calls whose price was unknown (not in spend_micro)
    requests: int  # ledger rows: image API calls, failed ones included
    failures: int  # rows with status 'error'
    images: int  # images delivered (the successful calls' image_ids)
    estimated: Estimated = Estimated()  # the part of spend_micro that is estimates

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


def _where(scope: Scope, *, lo: str = ":start", hi: str = ":end") -> tuple[str, dict[str, Any]]:
    """The scope as a WHERE clause: team, time range (`lo`/`hi` may be expressions), channel, user."""
    clauses = ["team_id = :team_id", f"created_at >= {lo}", f"created_at < {hi}"]
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

    Images are counted from `images` (how many the call actually kept, written with its `image_ids`), not from
    `n`: `n` is what was asked for, and the API may answer an ok call with fewer images than asked; an error
    row, billed or not, delivered none. `images` is in the covering index, so no row is read.
    """
    where, params = _where(scope)
    row = db.execute(
        # FILTER rather than SUM(CASE ...): SQLite skips the aggregate step instead of adding a zero.
        f"SELECT {SPEND_SQL}, "
        "COALESCE(SUM(cost_micro) FILTER (WHERE provider = 'offline'), 0), "
        "COUNT(*) FILTER (WHERE status = 'ok' AND cost_micro IS NULL), "
        "COUNT(*), "
        "COUNT(*) FILTER (WHERE status = 'error'), "
        f"COALESCE(SUM(images) FILTER (WHERE status = 'ok'), 0), {ESTIMATED_SQL} "
        f"FROM ledger WHERE {where}",
        params,
    ).fetchone()
    return Totals(spend_micro=row[0], offline_micro=row[1], unknown_cost=row[2], requests=row[3],
                  failures=row[4], images=row[5], estimated=Estimated(row[6], row[7]))


def breakdown(db: Database, scope: Scope, by: Dimension, limit: int = 10) -> list[Row]:
    """Spend per user, channel, model or quality, the largest first (ties: more requests first, then by key)."""
    return breakdowns(db, scope, (by,), limit)[by]


def breakdowns(db: Database, scope: Scope, by: Sequence[Dimension], limit: int = 10) -> dict[str, list[Row]]:
    """Several breakdowns from one pass over the window: {dimension: rows, largest first}.

    A GROUP BY costs SQLite a sort of every row in the window, whatever the number of groups; grouping once
    by (model, quality) and adding up here is one sort instead of two, for 12 groups or so to add up.
    """
    names = list(dict.fromkeys(by))  # in order, once each
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown or not names:
        raise ValueError(f"breakdown by {unknown or 'nothing'}: expected some of {', '.join(DIMENSIONS)}")
    columns = ", ".join(names)
    where, params = _where(scope)
    cursor = db.execute(
        f"SELECT {columns}, {SPEND_SQL}, COUNT(*), COUNT(*) FILTER (WHERE status = 'error'), "
        f"COUNT(*) FILTER (WHERE status = 'ok' AND cost_micro IS NULL) FROM ledger WHERE {where} GROUP BY {columns}",
        params,
    )
    sums: dict[str, dict[str | None, list[int]]] = {name: {} for name in names}
    for record in cursor:
        keys, figures = record[:len(names)], record[len(names):]
        for name, key in zip(names, keys, strict=True):
            total = sums[name].setdefault(key, [0, 0, 0, 0])
            for i, value in enumerate(figures):
                total[i] += value
    return {name: _largest(sums[name], limit) for name in names}


def _largest(sums: dict[str | None, list[int]], limit: int) -> list[Row]:
    ordered = sorted(sums.items(), key=lambda item: (-item[1][0], -item[1][1], item[0] is not None, item[0] or ""))
    return [Row(key, *figures) for key, figures in ordered[:max(limit, 0)]]  # None (a NULL key) sorts first


def spend_by_hour(db: Database, scope: Scope, *, minutes: int = 60) -> list[tuple[str, int]]:
    """Spend per UTC hour ("2026-10-25T01:00"), oldest first; only slots with spend.

    SQLite's clock knows UTC only, so local days are made from these slots by the caller. An hour slot never
    straddles a local midnight in a zone whose offsets are whole hours; for the others (Asia/Kolkata +05:30,
    Asia/Kathmandu +05:45) ask for `minutes` = 30 or 15, which divides every such offset.

    Written as one index range search per slot rather than GROUP BY substr(created_at, ...): the slots come
    out of the index in time order, so SQLite sums each as it goes instead of sorting every row of the
    window first (about a third of the time at a month of a million-row year).
    """
    if minutes not in SLOT_MINUTES:
        raise ValueError(f"minutes must be one of {SLOT_MINUTES} (got {minutes})")
    if scope.start >= scope.end:
        return []
    inner, params = _where(scope, lo="max(slot.lo, :start)", hi="min(slot.hi, :end)")
    cursor = db.execute(
        "WITH RECURSIVE slot(lo, hi) AS ("
        " SELECT :first, strftime(:format, :first, :step)"
        " UNION ALL SELECT hi, strftime(:format, hi, :step) FROM slot WHERE hi < :end) "
        f"SELECT substr(lo, 1, 16), (SELECT SUM({_ROW_SPEND}) FROM ledger WHERE {inner}) AS spend FROM slot",
        {**params, "first": _slot_start(scope.start, minutes), "format": "%Y-%m-%dT%H:%M:00.000+00:00",
         "step": f"+{minutes} minutes"},
    )
    return [(lo, spend) for lo, spend in cursor if spend is not None]


def _slot_start(moment: str, minutes: int) -> str:
    """The start of the `minutes` slot holding `moment`, in the ledger's format."""
    minute = int(moment[14:16]) // minutes * minutes
    return f"{moment[:14]}{minute:02d}:00.000+00:00"


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
    return spend(db, Scope(team_id, start, end, user_id=user_id))


def channel_spend(db: Database, team_id: str, channel_id: str, start: str, end: str) -> int:
    return spend(db, Scope(team_id, start, end, channel_id=channel_id))


def workspace_spend(db: Database, team_id: str, start: str, end: str) -> int:
    return spend(db, Scope(team_id, start, end))


def spend(db: Database, scope: Scope) -> int:
    """Micro-dollars the ledger records in the scope, possibly billed calls at estimate (budgets' checks use this,
    through Store.spend)."""
    return spend_with_estimates(db, scope)[0]


def spend_with_estimates(db: Database, scope: Scope) -> tuple[int, Estimated]:
    """The scope's spend, and the part of it counted at estimate (for budget standings that say so)."""
    where, params = _where(scope)
    row = db.execute(f"SELECT {SPEND_SQL}, {ESTIMATED_SQL} FROM ledger WHERE {where}", params).fetchone()
    return int(row[0]), Estimated(int(row[1]), int(row[2]))
