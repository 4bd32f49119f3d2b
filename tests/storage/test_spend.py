"""storage/spend.py: report and budget sums over a real ledger, to the micro-dollar, from indexes."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from storage import spend as queries
from storage.db import open_db
from storage.files import ImageFiles
from storage.records import LedgerEntry, ThreadKey
from storage.spend import Row, Scope, Totals
from storage.store import Store

START = "2026-11-01T00:00:00.000+00:00"
END = "2026-12-01T00:00:00.000+00:00"
MONTH = Scope("T1", START, END)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    opened = open_db(tmp_path / "imagebot.db")
    yield opened
    opened.close()


def add(db: Database, created_at: str, *, images: int | None = None, **fields: Any) -> int:
    """Insert one ledger row as the bot would write it; `images` ids are delivered (default: n for ok rows)."""
    row: dict[str, Any] = {
        "created_at": created_at, "team_id": "T1", "user_id": "U1", "channel_id": "C1", "thread_ts": "1.0",
        "kind": "generate", "provider": "openai", "model": "gpt-image-1", "size": "1024x1024",
        "quality": "medium", "n": 1, "prompt": "a cat", "cost_micro": 42_240, "status": "ok",
    }
    row.update(fields)
    if images is None:
        images = row["n"] if row["status"] == "ok" else 0
    row["image_ids"] = json.dumps([f"{i:064x}" for i in range(images)])
    row["images"] = images if row["status"] == "ok" else 0  # as Store.record_call writes it
    return int(db["ledger"].insert(row).last_pk)


def at(day: int, hour: int = 12, minute: int = 0, ms: int = 0) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00.{ms:03d}+00:00"


# totals ---------------------------------------------------------------------------------------------------


def test_totals_equal_the_hand_computed_sums_to_the_micro_dollar(db: Database) -> None:
    add(db, at(2), cost_micro=42_240)  # 1 image
    add(db, at(3), n=2, cost_micro=84_481)  # 2 images
    add(db, at(4), n=4, images=3, cost_micro=168_962)  # asked for 4, the API sent 3
    add(db, at(5), cost_micro=None)  # price unknown: 1 image, no spend
    add(db, at(6), status="error", error_code="moderation_blocked", cost_micro=None)  # refused, not billed
    add(db, at(7), status="error", error_code="unreadable_output", cost_micro=166_400)  # billed, then failed
    add(db, at(8), provider="offline", cost_micro=10_880)  # priced, never billed
    add(db, at(9), team_id="T2", cost_micro=999_999)  # another workspace
    add(db, "2026-10-31T23:59:59.999+00:00", cost_micro=777_777)  # before the window

    assert queries.totals(db, MONTH) == Totals(
        spend_micro=42_240 + 84_481 + 168_962 + 166_400 + 10_880,
        offline_micro=10_880,
        unknown_cost=1,
        requests=7,
        failures=2,
        images=1 + 2 + 3 + 1 + 1,
    )
    assert queries.totals(db, MONTH).billed_micro == 42_240 + 84_481 + 168_962 + 166_400


def test_totals_of_an_empty_window_are_zero(db: Database) -> None:
    assert queries.totals(db, MONTH) == Totals(0, 0, 0, 0, 0, 0)


def test_totals_filter_by_channel_and_by_user(db: Database) -> None:
    add(db, at(2), user_id="U1", channel_id="C1", cost_micro=1)
    add(db, at(2), user_id="U1", channel_id="C2", cost_micro=20)
    add(db, at(2), user_id="U2", channel_id="C1", cost_micro=300)
    add(db, at(2), user_id="U2", channel_id="C2", cost_micro=4_000)

    def spend(**where: str) -> int:
        return queries.totals(db, Scope("T1", START, END, **where)).spend_micro

    assert spend() == 4_321
    assert spend(channel_id="C1") == 301
    assert spend(user_id="U2") == 4_300
    assert spend(channel_id="C2", user_id="U1") == 20
    assert spend(channel_id="C9") == 0


def test_window_start_is_inclusive_and_end_exclusive(db: Database) -> None:
    add(db, START, cost_micro=1)
    add(db, "2026-11-30T23:59:59.999+00:00", cost_micro=20)
    add(db, END, cost_micro=300)  # exactly at the end: the next window's
    add(db, "2026-10-31T23:59:59.999+00:00", cost_micro=4_000)

    assert queries.totals(db, MONTH).spend_micro == 21
    assert queries.totals(db, Scope("T1", END, "2027-01-01T00:00:00.000+00:00")).spend_micro == 300


def test_rows_written_by_the_store_are_found_by_windows_around_now(tmp_path: Path) -> None:
    store = Store(open_db(tmp_path / "imagebot.db"), ImageFiles(tmp_path / "images"))
    try:
        before = datetime.now(UTC) - timedelta(seconds=1)
        store.record_call(LedgerEntry(key=ThreadKey("T1", "C1", "1.0"), user_id="U1", kind="generate",
                                      provider="openai", model="gpt-image-1", size="1024x1024", quality="high",
                                      n=1, prompt="a cat", cost_micro=166_400, image_ids=("a" * 64,)))
        after = datetime.now(UTC) + timedelta(seconds=1)
        scope = Scope("T1", before.isoformat(timespec="milliseconds"), after.isoformat(timespec="milliseconds"))

        assert queries.totals(store.db, scope) == Totals(166_400, 0, 0, 1, 0, 1)
    finally:
        store.close()


# breakdowns -----------------------------------------------------------------------------------------------


def test_breakdown_orders_by_spend_then_requests_and_honours_the_limit(db: Database) -> None:
    add(db, at(2), user_id="U1", cost_micro=300)
    add(db, at(2), user_id="U2", cost_micro=500)
    add(db, at(2), user_id="U3", cost_micro=250)
    add(db, at(3), user_id="U3", cost_micro=250, status="error", error_code="unreadable_output")
    add(db, at(2), user_id="U4", cost_micro=None)

    rows = queries.breakdown(db, MONTH, "user_id", limit=10)

    assert rows == [
        Row("U3", spend_micro=500, requests=2, failures=1, unknown_cost=0),  # ties U2 on spend, more requests
        Row("U2", spend_micro=500, requests=1, failures=0, unknown_cost=0),
        Row("U1", spend_micro=300, requests=1, failures=0, unknown_cost=0),
        Row("U4", spend_micro=0, requests=1, failures=0, unknown_cost=1),
    ]
    assert [r.key for r in queries.breakdown(db, MONTH, "user_id", limit=2)] == ["U3", "U2"]
    assert queries.breakdown(db, MONTH, "user_id", limit=0) == []


def test_breakdown_by_each_dimension(db: Database) -> None:
    add(db, at(2), channel_id="C1", model="gpt-image-1", quality="low", cost_micro=10)
    add(db, at(2), channel_id="C2", model="gpt-image-1-mini", quality="high", cost_micro=200)
    add(db, at(3), channel_id="C2", model="gpt-image-1", quality="high", cost_micro=3_000)

    def spend(by: str) -> list[tuple[str | None, int]]:
        return [(r.key, r.spend_micro) for r in queries.breakdown(db, MONTH, by)]  # type: ignore[arg-type]

    assert spend("channel_id") == [("C2", 3_200), ("C1", 10)]
    assert spend("model") == [("gpt-image-1", 3_010), ("gpt-image-1-mini", 200)]
    assert spend("quality") == [("high", 3_200), ("low", 10)]


def test_breakdowns_in_one_pass_match_one_at_a_time(db: Database) -> None:
    for i, (model, quality, cost) in enumerate([("m1", "low", 5), ("m1", "high", 70), ("m2", "low", 70),
                                                ("m2", "medium", None), ("m3", "high", 1)]):
        add(db, at(2 + i), model=model, quality=quality, cost_micro=cost, user_id=f"U{i % 2}")

    together = queries.breakdowns(db, MONTH, ("model", "quality", "user_id"), limit=2)

    for by in ("model", "quality", "user_id"):
        assert together[by] == queries.breakdown(db, MONTH, by, limit=2)  # type: ignore[arg-type]
    assert [r.key for r in together["model"]] == ["m1", "m2"]  # 75 before 70


def test_breakdown_refuses_an_unknown_column(db: Database) -> None:
    with pytest.raises(ValueError, match="prompt"):
        queries.breakdown(db, MONTH, "prompt")  # type: ignore[arg-type]


# spend per hour ------------------------------------------------------------------------------------------


def test_spend_by_hour_sums_each_utc_hour_and_skips_empty_ones(db: Database) -> None:
    add(db, at(2, 9, 0), cost_micro=1)
    add(db, at(2, 9, 59, 999), cost_micro=20)
    add(db, at(2, 10, 0), cost_micro=300)
    add(db, at(4, 23, 30), cost_micro=4_000)
    add(db, at(4, 23, 31), cost_micro=None)  # no spend, no slot of its own

    assert queries.spend_by_hour(db, MONTH) == [
        ("2026-11-02T09:00", 21), ("2026-11-02T10:00", 300), ("2026-11-04T23:00", 4_000),
    ]
    assert queries.spend_by_hour(db, MONTH, minutes=15) == [
        ("2026-11-02T09:00", 1), ("2026-11-02T09:45", 20), ("2026-11-02T10:00", 300), ("2026-11-04T23:30", 4_000),
    ]


def test_spend_by_hour_keeps_to_the_window_inside_its_first_and_last_hour(db: Database) -> None:
    add(db, at(2, 9, 10), cost_micro=1)  # before the start, same hour
    add(db, at(2, 9, 20), cost_micro=20)
    add(db, at(2, 11, 40), cost_micro=300)
    add(db, at(2, 11, 50), cost_micro=4_000)  # at the end, same hour

    scope = Scope("T1", at(2, 9, 20), at(2, 11, 50))

    assert queries.spend_by_hour(db, scope) == [("2026-11-02T09:00", 20), ("2026-11-02T11:00", 300)]
    assert sum(micro for _, micro in queries.spend_by_hour(db, scope)) == queries.totals(db, scope).spend_micro
    assert queries.spend_by_hour(db, Scope("T1", END, START)) == []


def test_spend_by_hour_filters_like_totals(db: Database) -> None:
    add(db, at(2, 9), user_id="U1", channel_id="C1", cost_micro=1)
    add(db, at(2, 9), user_id="U2", channel_id="C2", cost_micro=20)

    assert queries.spend_by_hour(db, Scope("T1", START, END, user_id="U2")) == [("2026-11-02T09:00", 20)]
    assert queries.spend_by_hour(db, Scope("T1", START, END, channel_id="C1")) == [("2026-11-02T09:00", 1)]
    with pytest.raises(ValueError, match="minutes"):
        queries.spend_by_hour(db, MONTH, minutes=7)


# rows and budget sums -------------------------------------------------------------------------------------


def test_rows_are_every_column_of_the_scope_in_time_order(db: Database) -> None:
    late = add(db, at(5), prompt="second")
    early = add(db, at(2), prompt="first")
    add(db, at(3), user_id="U2")
    add(db, END)

    found = list(queries.rows(db, Scope("T1", START, END, user_id="U1")))

    assert [r["id"] for r in found] == [early, late]
    assert set(found[0]) == set(db["ledger"].columns_dict)
    assert found[0]["prompt"] == "first"


def test_budget_sums(db: Database) -> None:
    add(db, at(2), user_id="U1", channel_id="C1", cost_micro=1)
    add(db, at(2), user_id="U1", channel_id="C2", cost_micro=20, status="error", error_code="unreadable_output")
    add(db, at(2), user_id="U2", channel_id="C1", cost_micro=300)
    add(db, at(2), user_id="U2", channel_id="C1", cost_micro=None)
    add(db, END, user_id="U1", channel_id="C1", cost_micro=4_000)
    add(db, at(2), team_id="T2", user_id="U1", channel_id="C1", cost_micro=50_000)

    assert queries.user_spend(db, "T1", "U1", START, END) == 21
    assert queries.channel_spend(db, "T1", "C1", START, END) == 301
    assert queries.workspace_spend(db, "T1", START, END) == 321
    assert queries.user_spend(db, "T1", "U9", START, END) == 0


# every query uses an index --------------------------------------------------------------------------------


def _run_everything(db: Database, scope: Scope) -> None:
    queries.totals(db, scope)
    for by in queries.DIMENSIONS:
        queries.breakdown(db, scope, by)  # type: ignore[arg-type]
    queries.breakdowns(db, scope, ("model", "quality"))
    queries.spend_by_hour(db, scope)
    queries.spend_by_hour(db, scope, minutes=15)
    list(queries.rows(db, scope))
    queries.user_spend(db, scope.team_id, "U1", scope.start, scope.end)
    queries.channel_spend(db, scope.team_id, "C1", scope.start, scope.end)
    queries.workspace_spend(db, scope.team_id, scope.start, scope.end)


@pytest.mark.parametrize("scope", [MONTH, Scope("T1", START, END, channel_id="C1"),
                                   Scope("T1", START, END, user_id="U1"), Scope("T1", START, END, "C1", "U1")],
                         ids=["workspace", "channel", "user", "channel-and-user"])
def test_every_report_query_searches_the_ledger_by_an_index(db: Database, scope: Scope) -> None:
    for day in range(1, 29):
        add(db, at(day), user_id=f"U{day % 3}", channel_id=f"C{day % 2}")
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        _run_everything(db, scope)
    finally:
        db.conn.set_trace_callback(None)

    queries = [s for s in statements if "FROM ledger" in s]
    assert len(queries) >= 12
    for sql in queries:
        plan = [row[3] for row in db.conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        ledger = [step for step in plan if " ledger " in f"{step} "]
        assert ledger, (sql, plan)
        # An index search, and one bounded by the window: "(team_id=?)" alone would read the whole year.
        assert all(step.startswith("SEARCH ledger USING") and "INDEX" in step and "created_at>?" in step
                   for step in ledger), (sql, plan)


# possibly billed calls, at their estimate ------------------------------------------------------------------


def _possibly_billed_month(db: Database) -> None:
    add(db, at(2), cost_micro=42_240, estimate_micro=40_000)  # ok: its cost, never its estimate
    add(db, at(3), status="error", error_code="interrupted", cost_micro=None, estimate_micro=40_000)
    add(db, at(3, 13), status="error", error_code="answer_lost", cost_micro=None, estimate_micro=50_000,
        user_id="U2", channel_id="C2")
    add(db, at(4), status="error", error_code="moderation_blocked", cost_micro=None, estimate_micro=None)  # refused
    add(db, at(5), status="error", error_code="unreadable_output", cost_micro=166_400, estimate_micro=40_000)
    add(db, at(6), cost_micro=None, estimate_micro=40_000)  # ok, price unknown: stays unknown, not estimated


def test_a_call_that_may_have_been_billed_counts_at_its_estimate_in_every_sum(db: Database) -> None:
    _possibly_billed_month(db)
    spent = 42_240 + 40_000 + 50_000 + 166_400

    totals = queries.totals(db, MONTH)
    assert totals.spend_micro == spent and totals.estimated == queries.Estimated(90_000, 2)
    assert totals.unknown_cost == 1 and totals.failures == 4
    assert queries.spend(db, MONTH) == spent
    assert queries.spend_with_estimates(db, MONTH) == (spent, queries.Estimated(90_000, 2))
    assert queries.user_spend(db, "T1", "U2", START, END) == 50_000
    assert queries.channel_spend(db, "T1", "C1", START, END) == spent - 50_000
    assert sum(row.spend_micro for row in queries.breakdown(db, MONTH, "user_id")) == spent
    assert dict(queries.spend_by_hour(db, MONTH))["2026-11-03T13:00"] == 50_000
    assert sum(micro for _, micro in queries.spend_by_hour(db, MONTH)) == spent


def test_estimates_keep_the_report_queries_on_the_covering_index(db: Database) -> None:
    _possibly_billed_month(db)
    where, params = queries._where(MONTH)
    plan = [row[3] for row in db.execute(
        f"EXPLAIN QUERY PLAN SELECT {queries.SPEND_SQL}, {queries.ESTIMATED_SQL} FROM ledger WHERE {where}", params)]
    assert any("COVERING INDEX ledger_report" in step for step in plan), plan
